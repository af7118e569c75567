/**
 * Decimal digits written straight into a buffer, for the trace workers'
 * byte-level writers (ddtrace's msgjson.ts and lines.ts, OTLP's lines.ts and
 * metric-lines.ts): two and four digits at a time from tables, no string per
 * number. The caller makes room (20 bytes cover any of them).
 */

/** '00' '01' … '99'. */
const PAIRS = Buffer.from(Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0')).join(''), 'latin1');
/** '0000' … '9999', each as the little-endian uint32 of its four ASCII bytes. */
const QUADS = new Uint32Array(10_000);
for (let i = 0; i < 10_000; i++) {
  const d = String(i).padStart(4, '0');
  QUADS[i] = (d.charCodeAt(0) | (d.charCodeAt(1) << 8) | (d.charCodeAt(2) << 16) | (d.charCodeAt(3) << 24)) >>> 0;
}
/** Decimal digits of an integer 0 ≤ v < 2^53 at o (an int32 head and at most one 8-digit int32 tail); returns the end. */
export function writeUint(out: Buffer, odv: DataView, o: number, v: number): number {
  if (v < 1e8) return writeSmall(out, o, v);
  let head = Math.floor(v * 1e-8); // corrected below
  let tail = v - head * 1e8;
  if (tail < 0) {
    head--;
    tail += 1e8;
  } else if (tail >= 1e8) {
    head++;
    tail -= 1e8;
  }
  return write8(odv, writeSmall(out, o, head), tail);
}

/** Decimal digits of an integer 0 ≤ v < 10^8. */
function writeSmall(out: Buffer, o: number, v: number): number {
  let x = v | 0; // int32 from here: V8 divides by a constant with a multiply
  const len = x < 10 ? 1 : x < 100 ? 2 : x < 1e3 ? 3 : x < 1e4 ? 4 : x < 1e5 ? 5 : x < 1e6 ? 6 : x < 1e7 ? 7 : 8;
  let e = o + len;
  while (x >= 100) {
    const q = (x / 100) | 0;
    const r = (x - q * 100) * 2;
    out[--e] = PAIRS[r + 1]!;
    out[--e] = PAIRS[r]!;
    x = q;
  }
  if (x >= 10) {
    out[--e] = PAIRS[x * 2 + 1]!;
    out[--e] = PAIRS[x * 2]!;
  } else out[--e] = 0x30 + x;
  return o + len;
}

/** Exactly 8 decimal digits of 0 ≤ v < 10^8, zero-padded: two 4-digit stores. */
function write8(odv: DataView, o: number, v: number): number {
  const x = v | 0;
  const q = (x / 10_000) | 0;
  odv.setUint32(o, QUADS[q]!, true);
  odv.setUint32(o + 4, QUADS[x - q * 10_000]!, true);
  return o + 8;
}

/** Exactly 6 decimal digits of 0 ≤ v < 10^6, zero-padded. */
function write6(out: Buffer, odv: DataView, o: number, v: number): number {
  const x = v | 0;
  const q = (x / 10_000) | 0;
  out[o] = PAIRS[q * 2]!;
  out[o + 1] = PAIRS[q * 2 + 1]!;
  odv.setUint32(o + 2, QUADS[x - q * 10_000]!, true);
  return o + 6;
}

/**
 * Decimal digits of the uint64 hi·2^32 + lo at o; returns the end. Below 2^53
 * as a double; above, one long division by 10^6 in 32-bit limbs leaves a
 * quotient below 2^53 and a 6-digit remainder, every intermediate below 2^53
 * so exact (the quotient by a multiply with 1e-6, then corrected by the sign
 * and size of the remainder). `out` needs 20 bytes of room.
 */
export function writeU64(out: Buffer, odv: DataView, o: number, hi: number, lo: number): number {
  if (hi < 0x20_0000) return writeUint(out, odv, o, hi * 0x1_0000_0000 + lo);
  const qh = (hi / 1e6) >>> 0;
  const t = (hi - qh * 1e6) * 0x1_0000_0000 + lo;
  let ql = Math.floor(t * 1e-6);
  let r = t - ql * 1e6;
  if (r < 0) {
    ql--;
    r += 1e6;
  } else if (r >= 1e6) {
    ql++;
    r -= 1e6;
  }
  return write6(out, odv, writeUint(out, odv, o, qh * 0x1_0000_0000 + ql), r);
}

