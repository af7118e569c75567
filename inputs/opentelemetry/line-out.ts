/**
 * Bytes written straight into a LineBuf's buffer by the byte-level OTLP
 * writers (lines.ts for spans, metric-lines.ts for metrics): `d` is the
 * buffer, `w` the write offset; `room(n)` before writing n bytes by hand.
 * `begin(out)` takes the buffer over, `end()` gives the offset back.
 */
import type { LineBuf } from '../../agent/model/linebuf.js';
import { writeU64, writeUint } from '../../agent/services/trace/digits.js';
import { HEX, putBytes } from '../../agent/services/trace/span-line.js';

interface Utf8Writable {
  utf8Write(s: string, offset: number): number;
}

export class LineOut {
  out!: LineBuf;
  d: Buffer = Buffer.alloc(0);
  w = 0;
  /** A DataView of `d`. */
  odv: DataView = new DataView(this.d.buffer, this.d.byteOffset, 0);

  begin(out: LineBuf): void {
    this.out = out;
    this.d = out.data;
    this.odv = out.view();
    this.w = out.off;
  }

  /** Ends a line at the write offset. */
  endLine(): void {
    this.out.off = this.w;
    this.out.ends.push(this.w);
  }

  room(n: number): void {
    if (this.w + n <= this.d.length) return;
    const out = this.out;
    out.off = this.w;
    out.reserve(n);
    this.d = out.data;
    this.odv = out.view();
  }

  put(b: Buffer): void {
    this.room(b.length);
    this.w = putBytes(this.d, this.w, b);
  }

  byte(c: number): void {
    this.room(1);
    this.d[this.w++] = c;
  }

  text(s: string): void {
    this.room(s.length * 3);
    this.w += (this.d as unknown as Utf8Writable).utf8Write(s, this.w);
  }

  /** The uint64 hi·2^32 + lo in decimal. */
  u64(hi: number, lo: number): void {
    this.room(20);
    this.w = writeU64(this.d, this.odv, this.w, hi, lo);
  }

  /** Integers written as BigInt(Math.trunc(n)) would be. */
  uint(n: number): void {
    if (n > Number.MAX_SAFE_INTEGER) {
      this.text(BigInt(n).toString());
      return;
    }
    this.room(20);
    this.w = writeUint(this.d, this.odv, this.w, n);
  }

  /** b[a, e) as lower-case hex. */
  hex(b: Buffer, a: number, e: number): void {
    this.room(2 * (e - a));
    const d = this.d;
    let w = this.w;
    for (let i = a; i < e; i++) {
      const x = b[i]!;
      d[w++] = HEX[x >> 4]!;
      d[w++] = HEX[x & 15]!;
    }
    this.w = w;
  }
}
