/**
 * Protobuf wire format, read in place: the base of the byte-level OTLP
 * readers (spans.ts for traces, metric-lines.ts for metrics). Varints and
 * length-delimited fields are read from `body` at an offset; a result that
 * does not fit the return value (a varint's value, a field's end) is left in
 * `lo` / `hi`. Every reader returns {@link NO} where the bytes are not what
 * protobufjs would read the same way, and the caller leaves the request to the
 * generic decoder.
 */
import { isUtf8 } from 'node:buffer';
import { viewOf } from '../../agent/model/linebuf.js';

/** Decline: the caller runs the generic path. */
export const NO = -1;

/**
 * The fields of a message that protobufjs's schema knows and a reader skips,
 * by number: their wire type, U32 when protobufjs reads them as uint32 (see
 * u32Len), MSG for a message field (not the reader's). 0: unknown to both.
 */
export type Schema = readonly number[];
export const U32 = 8;
export const MSG = 16;
/** A non-zero marker for wire type 0. */
export const WT_VARINT = 1 << 5;

export function schemaOf(fields: Record<number, number>): Schema {
  const t: number[] = [];
  for (const [no, v] of Object.entries(fields)) t[Number(no)] = v;
  return Array.from(t, (v) => v ?? 0);
}

/**
 * protobufjs reads enums and bools as uint32: up to 5 bytes, and past a 5th
 * byte with its high bit set it skips exactly 5 more. Varints of 6 to 9 bytes
 * would be read differently there: not a reader's.
 */
export function u32Len(n: number): boolean {
  return n <= 5 || n === 10;
}

/** Whether b[a, e) is all zero bytes (or empty). */
export function zero(b: Buffer, a: number, e: number): boolean {
  for (let i = a; i < e; i++) if (b[i] !== 0) return false;
  return true;
}

/** Growable Int32Array columns: a table of rows, one typed array a column. */
export class Cols {
  n = 0;
  cap = 0;
  readonly cols: Int32Array[] = [];
  constructor(
    private readonly width: number,
    private readonly max: number,
  ) {
    for (let i = 0; i < width; i++) this.cols.push(new Int32Array(0));
  }
  /** A new row's index, or -1 past the bound. */
  add(): number {
    if (this.n === this.cap) {
      if (this.cap >= this.max) return -1;
      const cap = Math.max(64, this.cap * 2);
      for (let i = 0; i < this.width; i++) {
        const b = new Int32Array(cap);
        b.set(this.cols[i]!);
        this.cols[i] = b;
      }
      this.cap = cap;
    }
    return this.n++;
  }
  reset(): void {
    this.n = 0;
    if (this.cap > 4096) {
      for (let i = 0; i < this.width; i++) this.cols[i] = new Int32Array(0);
      this.cap = 0;
    }
  }
}

const EMPTY = Buffer.alloc(0);

export class WireReader {
  protected body: Buffer = EMPTY;
  protected dv: DataView = viewOf(EMPTY);
  /** varint results, a field's end */
  protected lo = 0;
  protected hi = 0;

  protected setBody(b: Buffer): void {
    this.body = b;
    this.dv = b === EMPTY ? viewOf(EMPTY) : viewOf(b);
  }

  protected clearBody(): void {
    this.body = EMPTY;
    this.dv = viewOf(EMPTY);
  }

  /** A field's tag at p: field number in `lo` >>> 3, wire type in `lo` & 7; returns the end or NO. */
  protected v32(p: number, end: number): number {
    const b = this.body;
    let v = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (p >= end) return NO;
      const c = b[p++]!;
      v += (c & 0x7f) * 2 ** shift;
      if (c < 0x80) {
        if (v > 0xffff_ffff) return NO;
        this.lo = v;
        return p;
      }
    }
    return NO;
  }

  /** A varint of up to 10 bytes: low and high 32 bits in `lo`, `hi`. */
  protected v64(p: number, end: number): number {
    const b = this.body;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (p >= end) return NO;
      const c = b[p++]!;
      const bits = c & 0x7f;
      if (i < 4) lo |= bits << (7 * i);
      else if (i === 4) {
        lo |= (bits & 0xf) << 28;
        hi |= bits >> 4;
      } else hi |= bits << (7 * i - 32);
      if (c < 0x80) {
        this.lo = lo >>> 0;
        this.hi = hi >>> 0;
        return p;
      }
    }
    return NO;
  }

  /** A varint read as uint32 (enums, bools, counts protobufjs reads so): the value in `lo`. */
  protected enumAt(p: number, end: number): number {
    const from = p;
    p = this.v64(p, end);
    return p < 0 || !u32Len(p - from) ? NO : p;
  }

  /** Skips a field of wire type `wt` at p. */
  protected skip(p: number, end: number, wt: number): number {
    switch (wt) {
      case 0:
        return this.v64(p, end);
      case 1:
        return p + 8 <= end ? p + 8 : NO;
      case 2: {
        p = this.v32(p, end);
        if (p < 0 || p + this.lo > end) return NO;
        return p + this.lo;
      }
      case 5:
        return p + 4 <= end ? p + 4 : NO;
      default:
        return NO; // groups, invalid wire types
    }
  }

  /**
   * Skips a field the reader does not read. protobufjs reads a field its
   * schema knows as the schema's type whatever the wire type says, and
   * decodes message fields: such a field with another wire type, or a message
   * field, is not the reader's.
   */
  protected skipField(p: number, end: number, wt: number, no: number, tbl: Schema): number {
    const want = no < tbl.length ? tbl[no]! : 0;
    if (want === 0) return this.skip(p, end, wt);
    if (want === MSG || (want & 7) !== wt) return NO;
    const from = p;
    p = this.skip(p, end, wt);
    if (p >= 0 && (want & U32) !== 0 && !u32Len(p - from)) return NO;
    return p;
  }

  /**
   * A length-delimited field's content (wire type `wt` must be 2): returns
   * its start and sets `lo` to its end; NO when it is not or overruns.
   */
  protected ld(p: number, end: number, wt = 2): number {
    if (wt !== 2) return NO;
    p = this.v32(p, end);
    if (p < 0 || p + this.lo > end) return NO;
    this.lo = p + this.lo;
    return p;
  }

  /** A fixed64 field's 8 bytes at p (wire type `wt` must be 1): low and high halves in `lo`, `hi`; returns the end or NO. */
  protected fixed64(p: number, end: number, wt: number): number {
    if (wt !== 1 || p + 8 > end) return NO;
    this.lo = this.dv.getUint32(p, true);
    this.hi = this.dv.getUint32(p + 4, true);
    return p + 8;
  }

  /** Whether body[a, e) is valid UTF-8. */
  utf8(a: number, e: number): boolean {
    const b = this.body;
    for (let i = a; i < e; i++) if (b[i]! >= 0x80) return isUtf8(b.subarray(a, e));
    return true;
  }

  /** Whether body[a, e) is the bytes of `name`. */
  bytesAre(a: number, e: number, name: Buffer): boolean {
    if (a < 0 || e - a !== name.length) return false;
    const b = this.body;
    for (let i = 0; i < name.length; i++) if (b[a + i] !== name[i]) return false;
    return true;
  }
}
