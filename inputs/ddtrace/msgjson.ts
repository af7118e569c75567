/**
 * Every span's `message` (the span as JSON) written as UTF-8 straight from a
 * v0.3/v0.4 msgpack payload (an array of traces, each an array of span maps)
 * into one arena Buffer: one pass over the bytes, no JS objects, no
 * JSON.stringify, no UTF-8 re-encoding. The caller wraps each slice in a
 * `Utf8String`, which the line-protocol writer escapes byte for byte.
 *
 * JSON semantics (closer to DataKit than JSON.stringify of msgpackr's output):
 * - map keys in the sender's order; a repeated key is written each time
 *   (JSON.parse keeps the last, as msgpackr does); `__proto__` is written as
 *   sent (msgpackr renames it `__proto_`);
 * - str → JSON string escaping `"`, `\` and U+0000–U+001F the way
 *   JSON.stringify does (`\b \t \n \f \r`, else `\u00xx`); other bytes are
 *   copied when the string is valid UTF-8, and when it is not the string is
 *   written as `Buffer.toString('utf8')` gives it (U+FFFD for each bad
 *   sequence), so the output is always valid UTF-8 and parses;
 * - every int/uint width, 64-bit included, → an exact decimal JSON number
 *   (ids and ns timestamps are numbers, as DataKit writes them, where
 *   msgpackr's `int64AsType: 'string'` gives quoted strings);
 * - float32/float64 → `String(value)` (of the float32 widened to a double,
 *   as msgpackr returns it); NaN and ±Infinity → `null`, as JSON.stringify;
 * - nil → `null`; bool → `true`/`false`;
 * - bin → a base64 JSON string (what Go's encoding/json writes for []byte;
 *   JSON.stringify of msgpackr's Buffer would give `{"type":"Buffer",...}`);
 * - nested maps and arrays → objects and arrays, at most {@link MAX_DEPTH}
 *   levels inside a span;
 * - a map key that is not a string: int, float, nil, bool → its
 *   `String(value)` as a JSON string (msgpackr's conversion); bin, map,
 *   array or ext as a key → not this shape.
 *
 * Not this shape → `undefined` (the caller falls back to JSON.stringify):
 * a top level that is not an array, a trace that is not an array, a span that
 * is not a map, ext types, 0xc1, truncation, trailing bytes, nesting deeper
 * than {@link MAX_DEPTH}. Work is linear in the body; the JSON is at most
 * about 7× the body (worst case: maps of false → false, 2 bytes each in,
 * `"false":false,` out) and the arena allocation at most twice the JSON.
 *
 * Where it differs from JSON.stringify of `decodeMsgpack`'s spans (the
 * fallback): ids and other 64-bit ints are numbers, not quoted strings; keys
 * that look like array indexes keep their place instead of coming first; bin
 * is base64, not `{"type":"Buffer",...}`.
 *
 * Speed (bench/traces/msgjson-micro.mjs, 500 dd-trace-like spans of ~630 B
 * of JSON): plain-ASCII string bytes move 4 at a time (a byte loop is 1.6×
 * slower, scan + buf.copy 2.5×), the innermost container's counters live in
 * locals, recent 64-bit ids are copied rather than re-divided. About 1 µs per
 * span on the 2-core box, against ~1.8 µs for JSON.stringify of an already
 * decoded span.
 */
import { writeU64, writeUint } from '../../agent/services/trace/digits.js';
import { HEX } from '../../agent/services/trace/span-line.js';

export interface SpanJsons {
  /**
   * All spans' JSON texts back to back, UTF-8. A view of a larger, partly
   * uninitialised allocation (use the view, never `arena.buffer`), kept
   * alive as long as any span's slice is.
   */
  arena: Buffer;
  /** Span i's JSON is `arena[ends[i - 1] ?? 0, ends[i])`; spans in payload order (trace by trace, span by span). */
  ends: Uint32Array;
}

/** Nesting allowed inside a span (the span map itself is level 1). */
export const MAX_DEPTH = 128;
/** Arena offsets are uint32. */
const MAX_ARENA = 0xffff_ffff;
/** Room kept free before each item: separators, a closing bracket, a number or a float. */
const SLACK = 64;

const PLAIN = 0;
const ESCAPE = 1;
/** Byte class inside a str: plain ASCII, to escape, or ≥ 0x80. */
const CLS = new Uint8Array(256);
for (let c = 0; c < 256; c++) CLS[c] = c < 0x20 || c === 0x22 || c === 0x5c ? ESCAPE : c >= 0x80 ? 2 : PLAIN;
/** The letter of a two-character escape, 0 where `\u00xx` is used. */
const SHORT = new Uint8Array(0x60);
SHORT[0x08] = 0x62; // b
SHORT[0x09] = 0x74; // t
SHORT[0x0a] = 0x6e; // n
SHORT[0x0c] = 0x66; // f
SHORT[0x0d] = 0x72; // r
SHORT[0x22] = 0x22; // "
SHORT[0x5c] = 0x5c; // \
const NULL = Buffer.from('null');
const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');

/** The containers around the innermost one of the span being written (no recursion). */
const LEFT = new Float64Array(MAX_DEPTH);
const TOTAL = new Float64Array(MAX_DEPTH);
const IS_MAP = new Uint8Array(MAX_DEPTH);

/** Writer state handed between the payload walk and the span walk. */
export interface Arena {
  out: Buffer;
  /** A view of `out`, for 4-byte stores. */
  odv: DataView;
  o: number;
}

/**
 * Each span's JSON text from a v0.3/v0.4 msgpack body, or `undefined` when
 * the body is not an array of arrays of maps (see the file header). Never
 * throws. The empty body is zero traces, as `decodeMsgpack` reads it.
 */
export function spanJsons(body: Buffer): SpanJsons | undefined {
  try {
    return walk(body);
  } catch {
    // Only an allocation failure can land here; the walk checks every bound.
    return undefined;
  }
}

/**
 * The JSON of the span map at `body[p]`, as spanJsons() writes it but escaped
 * for a line-protocol string field (a backslash before every `"` and `\` of
 * the JSON), written into `w.out` at `w.o`. When it needs more room, `w.out`
 * becomes a larger Buffer holding a copy of `w.out[0, w.o)`. Returns the
 * position after the span map, or -1 (see the file header; `p` must hold a
 * map header). Call startIds() before the first span written into a buffer:
 * recent 64-bit ids are copied from earlier in `w.out`.
 */
export function writeSpanEscaped(body: Buffer, dv: DataView, p: number, w: Arena): number {
  return writeSpan(body, dv, p, w, true);
}

function walk(body: Buffer): SpanJsons | undefined {
  const n = body.length;
  if (n === 0) return { arena: Buffer.alloc(0), ends: new Uint32Array(0) };
  const dv = view(body);
  const out = Buffer.allocUnsafe(Math.max(256, Math.ceil(n * 1.6)));
  const w: Arena = { out, odv: view(out), o: 0 };
  let ends = new Uint32Array(Math.max(16, n >>> 8));
  let count = 0;
  startIds();
  let p = 0;
  const traces = arrayLen(body, dv, p);
  if (traces < 0) return undefined;
  p += headerSize(body[p]!);
  for (let t = 0; t < traces; t++) {
    if (p >= n) return undefined;
    const spans = arrayLen(body, dv, p);
    if (spans < 0) return undefined;
    p += headerSize(body[p]!);
    for (let s = 0; s < spans; s++) {
      if (p >= n) return undefined;
      const b = body[p]!;
      if ((b & 0xf0) !== 0x80 && b !== 0xde && b !== 0xdf) return undefined;
      p = writeSpan(body, dv, p, w, false);
      if (p < 0) return undefined;
      if (count === ends.length) {
        const e = new Uint32Array(ends.length * 2);
        e.set(ends);
        ends = e;
      }
      ends[count++] = w.o;
    }
  }
  if (p !== n) return undefined; // trailing bytes: msgpackr rejects them too
  return { arena: w.out.subarray(0, w.o), ends: ends.subarray(0, count) };
}

/** Bytes of an array or map header by its first byte (fix, 16, 32). */
function headerSize(b: number): number {
  return b === 0xdc || b === 0xde ? 3 : b === 0xdd || b === 0xdf ? 5 : 1;
}

/** Element count of the array header at p, or -1 (not an array, truncated, or more elements than bytes left). */
function arrayLen(body: Buffer, dv: DataView, p: number): number {
  const b = body[p]!;
  let len: number;
  let h: number;
  if ((b & 0xf0) === 0x90) {
    len = b & 0x0f;
    h = 1;
  } else if (b === 0xdc) {
    if (p + 3 > body.length) return -1;
    len = dv.getUint16(p + 1);
    h = 3;
  } else if (b === 0xdd) {
    if (p + 5 > body.length) return -1;
    len = dv.getUint32(p + 1);
    h = 5;
  } else return -1;
  return len > body.length - p - h ? -1 : len;
}

function view(b: Buffer): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** A larger arena holding the first `used` bytes, with room for `need` more; undefined past MAX_ARENA. */
function grow(out: Buffer, used: number, need: number): Buffer | undefined {
  if (used + need > MAX_ARENA) return undefined;
  let size = out.length * 2;
  while (size < used + need) size *= 2;
  const next = Buffer.allocUnsafe(Math.min(size, MAX_ARENA));
  out.copy(next, 0, 0, used);
  return next;
}

/**
 * Writes the span map at p as JSON; returns the position after it, or -1.
 * The caller has checked that p holds a map header.
 */
function writeSpan(body: Buffer, dv: DataView, p: number, w: Arena, lp: boolean): number {
  const n = body.length;
  let out = w.out;
  let odv = w.odv;
  let o = w.o;
  // The innermost container lives in locals; the ones around it in LEFT,
  // TOTAL and IS_MAP at [depth − 2], [depth − 3], ….
  let depth = 0;
  let left = 0; // items still to read (a map counts keys and values)
  let total = 0;
  let isMap = false;
  for (;;) {
    if (o + SLACK > out.length) {
      const g = grow(out, o, SLACK);
      if (g === undefined) return -1;
      out = g;
      odv = view(g);
    }
    let isKey = false;
    if (depth > 0) {
      if (left === 0) {
        out[o++] = isMap ? 0x7d : 0x5d;
        if (--depth === 0) break;
        left = LEFT[depth - 1]!;
        total = TOTAL[depth - 1]!;
        isMap = IS_MAP[depth - 1] === 1;
        continue;
      }
      if (isMap) {
        // `& 1` (ToInt32 keeps the low bit) where `% 2` on a double would be a C call
        if ((left & 1) === 0) {
          isKey = true;
          if (left !== total) out[o++] = 0x2c;
        } else out[o++] = 0x3a;
      } else if (left !== total) out[o++] = 0x2c;
      left--;
    }
    if (p >= n) return -1;
    const b = body[p]!;
    if (b < 0x80) {
      // positive fixint
      if (isKey) o = quote(out, o, lp);
      o = writeUint(out, odv, o, b);
      if (isKey) o = quote(out, o, lp);
      p++;
      continue;
    }
    if (b >= 0xe0) {
      // negative fixint
      if (isKey) o = quote(out, o, lp);
      out[o++] = 0x2d;
      o = writeUint(out, odv, o, 256 - b);
      if (isKey) o = quote(out, o, lp);
      p++;
      continue;
    }
    let len = -1; // str length, or container element count
    let h = 0; // header bytes
    let kind = 0; // 1 str, 2 array, 3 map, 4 bin
    if (b < 0x90) {
      kind = 3;
      len = b & 0x0f;
      h = 1;
    } else if (b < 0xa0) {
      kind = 2;
      len = b & 0x0f;
      h = 1;
    } else if (b < 0xc0) {
      kind = 1;
      len = b & 0x1f;
      h = 1;
    } else {
      // 0xc0..0xdf
      let size = 0; // fixed payload bytes of a scalar
      switch (b) {
        case 0xc0:
          o = isKey ? writeQuoted(out, o, NULL, lp) : writeBytes(out, o, NULL);
          p++;
          continue;
        case 0xc2:
          o = isKey ? writeQuoted(out, o, FALSE, lp) : writeBytes(out, o, FALSE);
          p++;
          continue;
        case 0xc3:
          o = isKey ? writeQuoted(out, o, TRUE, lp) : writeBytes(out, o, TRUE);
          p++;
          continue;
        case 0xd9:
        case 0xc4:
          if (p + 2 > n) return -1;
          len = body[p + 1]!;
          h = 2;
          kind = b === 0xd9 ? 1 : 4;
          break;
        case 0xda:
        case 0xc5:
        case 0xdc:
        case 0xde:
          if (p + 3 > n) return -1;
          len = dv.getUint16(p + 1);
          h = 3;
          kind = b === 0xda ? 1 : b === 0xc5 ? 4 : b === 0xdc ? 2 : 3;
          break;
        case 0xdb:
        case 0xc6:
        case 0xdd:
        case 0xdf:
          if (p + 5 > n) return -1;
          len = dv.getUint32(p + 1);
          h = 5;
          kind = b === 0xdb ? 1 : b === 0xc6 ? 4 : b === 0xdd ? 2 : 3;
          break;
        case 0xcc:
        case 0xd0:
          size = 1;
          break;
        case 0xcd:
        case 0xd1:
          size = 2;
          break;
        case 0xce:
        case 0xd2:
        case 0xca:
          size = 4;
          break;
        case 0xcf:
        case 0xd3:
        case 0xcb:
          size = 8;
          break;
        default:
          return -1; // 0xc1, ext
      }
      if (size > 0) {
        if (p + 1 + size > n) return -1;
        const q = p + 1;
        p = q + size;
        if (isKey) o = quote(out, o, lp);
        switch (b) {
          case 0xcc:
            o = writeUint(out, odv, o, body[q]!);
            break;
          case 0xcd:
            o = writeUint(out, odv, o, dv.getUint16(q));
            break;
          case 0xce:
            o = writeUint(out, odv, o, dv.getUint32(q));
            break;
          case 0xcf:
            o = writeUint64(out, odv, o, dv.getUint32(q), dv.getUint32(q + 4));
            break;
          case 0xd0:
            o = writeInt(out, odv, o, dv.getInt8(q));
            break;
          case 0xd1:
            o = writeInt(out, odv, o, dv.getInt16(q));
            break;
          case 0xd2:
            o = writeInt(out, odv, o, dv.getInt32(q));
            break;
          case 0xd3: {
            const hi = dv.getInt32(q);
            const lo = dv.getUint32(q + 4);
            if (hi >= 0) o = writeUint64(out, odv, o, hi, lo);
            else {
              // two's complement magnitude, at most 2^63
              out[o++] = 0x2d;
              o = writeUint64(out, odv, o, (~hi + (lo === 0 ? 1 : 0)) >>> 0, (~lo + 1) >>> 0);
            }
            break;
          }
          default:
            o = writeFloat(out, o, b === 0xca ? dv.getFloat32(q) : dv.getFloat64(q), isKey);
        }
        if (isKey) o = quote(out, o, lp);
        continue;
      }
    }
    // str, bin, array or map: len elements/bytes after an h-byte header
    const q = p + h;
    if (kind === 1 || kind === 4) {
      if (len > n - q) return -1;
      p = q + len;
      // JSON's worst case is 6 bytes a byte (\u00xx); escaped for line protocol, 7 (\\u00xx)
      const need = kind === 1 ? (lp ? 7 : 6) * len + SLACK : Math.ceil(len / 3) * 4 + SLACK;
      if (o + need > out.length) {
        const g = grow(out, o, need);
        if (g === undefined) return -1;
        out = g;
        odv = view(g);
      }
      if (kind === 1) {
        // the plain-ASCII fast path of writeStr, inlined: most strings end here
        o = quote(out, o, lp);
        let i = q;
        for (;;) {
          if (i + 4 <= p) {
            const v = dv.getUint32(i, true);
            if (((v | (v - 0x2020_2020) | ((v ^ 0x2222_2222) - 0x0101_0101) | ((v ^ 0x5c5c_5c5c) - 0x0101_0101)) & 0x8080_8080) !== 0) break;
            odv.setUint32(o, v, true);
            o += 4;
            i += 4;
          } else if (i < p && p - q >= 4) {
            // the last 1–3 bytes: the final 4-byte window again, stored over the same bytes already written
            const v = dv.getUint32(p - 4, true);
            if (((v | (v - 0x2020_2020) | ((v ^ 0x2222_2222) - 0x0101_0101) | ((v ^ 0x5c5c_5c5c) - 0x0101_0101)) & 0x8080_8080) !== 0) break;
            odv.setUint32(o - (i - (p - 4)), v, true);
            o += p - i;
            i = p;
            break;
          } else break;
        }
        while (i < p && CLS[body[i]!] === PLAIN) out[o++] = body[i++]!;
        if (i === p) o = quote(out, o, lp);
        else o = writeStr(body, dv, q, i, p, out, odv, o - (lp ? 2 : 1) - (i - q), lp);
      } else if (isKey) return -1; // msgpackr rejects a bin key
      else {
        o = quote(out, o, lp);
        o += out.write(body.toString('base64', q, p), o, 'latin1');
        o = quote(out, o, lp);
      }
      continue;
    }
    // array or map
    if (isKey || depth === MAX_DEPTH) return -1;
    const items = kind === 3 ? 2 * len : len;
    if (items > n - q) return -1; // each element takes at least one byte
    p = q;
    if (depth > 0) {
      LEFT[depth - 1] = left;
      TOTAL[depth - 1] = total;
      IS_MAP[depth - 1] = isMap ? 1 : 0;
    }
    left = items;
    total = items;
    isMap = kind === 3;
    depth++;
    out[o++] = kind === 3 ? 0x7b : 0x5b;
  }
  w.out = out;
  w.odv = odv;
  w.o = o;
  return p;
}

function writeBytes(out: Buffer, o: number, s: Buffer): number {
  s.copy(out, o);
  return o + s.length;
}

function writeQuoted(out: Buffer, o: number, s: Buffer, lp: boolean): number {
  o = quote(out, o, lp);
  s.copy(out, o);
  return quote(out, o + s.length, lp);
}

/** A JSON quote: `"`, or `\"` escaped for a line-protocol string (lp). */
function quote(out: Buffer, o: number, lp: boolean): number {
  if (lp) out[o++] = 0x5c;
  out[o] = 0x22;
  return o + 1;
}

function writeInt(out: Buffer, odv: DataView, o: number, v: number): number {
  if (v >= 0) return writeUint(out, odv, o, v);
  out[o] = 0x2d;
  return writeUint(out, odv, o + 1, -v);
}

/**
 * The last few ids written (spans of a trace share trace_id, siblings share
 * parent_id): their digits are copied from the arena instead of recomputed.
 * Reset by each walk (offsets are into that walk's arena).
 */
const ID_CACHE = 4;
const ID_HI = new Uint32Array(ID_CACHE);
const ID_LO = new Uint32Array(ID_CACHE);
const ID_AT = new Uint32Array(ID_CACHE);
const ID_LEN = new Uint8Array(ID_CACHE); // 0: empty
let idNext = 0;

/** Forgets the recent ids, whose digits are copied from the buffer being written (spanJsons' arena, or writeSpanEscaped's buffer). */
export function startIds(): void {
  ID_LEN.fill(0);
  idNext = 0;
}

/** writeU64 through the recent-ids cache (digits copied from earlier in this walk's arena). */
function writeUint64(out: Buffer, odv: DataView, o: number, hi: number, lo: number): number {
  if (hi < 0x20_0000) return writeUint(out, odv, o, hi * 0x1_0000_0000 + lo);
  for (let k = 0; k < ID_CACHE; k++) {
    if (ID_LO[k] === lo && ID_HI[k] === hi && ID_LEN[k] !== 0) {
      const len = ID_LEN[k]!;
      const from = ID_AT[k]!;
      for (let j = 0; j < len; j++) out[o + j] = out[from + j]!;
      return o + len;
    }
  }
  const e = writeU64(out, odv, o, hi, lo);
  ID_HI[idNext] = hi;
  ID_LO[idNext] = lo;
  ID_AT[idNext] = o;
  ID_LEN[idNext] = e - o;
  idNext = (idNext + 1) % ID_CACHE;
  return e;
}

/** String(v) for a finite float; null (value) or its name (key, as msgpackr's String(key)) otherwise. */
function writeFloat(out: Buffer, o: number, v: number, isKey: boolean): number {
  if (!Number.isFinite(v) && !isKey) return writeBytes(out, o, NULL);
  const s = String(v);
  for (let i = 0; i < s.length; i++) out[o + i] = s.charCodeAt(i);
  return o + s.length;
}

/**
 * body[s, e) as a JSON string at o, of which the opening quote and
 * body[s, from) (plain ASCII) are already written; the caller has made room
 * for 6·(e − s) + 2 bytes (the worst case: every byte a control character).
 */
function writeStr(body: Buffer, bdv: DataView, s: number, from: number, e: number, out: Buffer, odv: DataView, o: number, lp: boolean): number {
  const start = o;
  o += (lp ? 2 : 1) + from - s;
  let i = from;
  for (;;) {
    // Four bytes at a time while none is ≥ 0x80, < 0x20, `"` or `\`: a high bit
    // of v, of v − 0x20 per byte, or of (v xor quote) − 1 per byte flags one
    // (a borrow only starts at a byte that is itself flagged).
    while (i + 4 <= e) {
      const v = bdv.getUint32(i, true);
      if (((v | (v - 0x2020_2020) | ((v ^ 0x2222_2222) - 0x0101_0101) | ((v ^ 0x5c5c_5c5c) - 0x0101_0101)) & 0x8080_8080) !== 0) break;
      odv.setUint32(o, v, true);
      o += 4;
      i += 4;
    }
    if (i >= e) break;
    // one byte (or one UTF-8 sequence), then back to the 4-byte loop
    const c = body[i]!;
    const k = CLS[c]!;
    if (k === PLAIN) {
      out[o++] = c;
      i++;
    } else if (k === ESCAPE) {
      out[o++] = 0x5c;
      if (lp) out[o++] = 0x5c;
      const l = SHORT[c]!;
      if (l !== 0) {
        if (lp && (l === 0x22 || l === 0x5c)) out[o++] = 0x5c;
        out[o++] = l;
      } else {
        out[o++] = 0x75; // u00xx
        out[o++] = 0x30;
        out[o++] = 0x30;
        out[o++] = HEX[c >> 4]!;
        out[o++] = HEX[c & 0xf]!;
      }
      i++;
    } else {
      const l = utf8Len(body, i, e);
      if (l === 0) return writeLossy(body, s, e, out, start, lp);
      out[o++] = c;
      out[o++] = body[i + 1]!;
      if (l > 2) out[o++] = body[i + 2]!;
      if (l > 3) out[o++] = body[i + 3]!;
      i += l;
    }
  }
  return quote(out, o, lp);
}

/**
 * The string as Buffer.toString('utf8') decodes it (U+FFFD per bad sequence,
 * never longer than the input), JSON-escaped: within the same 6·len + 2
 * (7·len + 4 escaped for line protocol).
 */
function writeLossy(body: Buffer, s: number, e: number, out: Buffer, o: number, lp: boolean): number {
  const json = JSON.stringify(body.toString('utf8', s, e));
  return o + out.write(lp ? json.replace(/["\\]/g, '\\$&') : json, o, 'utf8');
}

/** Length of the well-formed UTF-8 sequence starting at i (lead byte ≥ 0x80), 0 if it is not one. */
export function utf8Len(body: Buffer, i: number, e: number): number {
  const c = body[i]!;
  if (c < 0xc2) return 0;
  if (c < 0xe0) return i + 1 < e && (body[i + 1]! & 0xc0) === 0x80 ? 2 : 0;
  if (c < 0xf0) {
    if (i + 2 >= e) return 0;
    const c1 = body[i + 1]!;
    if (c1 < (c === 0xe0 ? 0xa0 : 0x80) || c1 > (c === 0xed ? 0x9f : 0xbf)) return 0;
    return (body[i + 2]! & 0xc0) === 0x80 ? 3 : 0;
  }
  if (c < 0xf5) {
    if (i + 3 >= e) return 0;
    const c1 = body[i + 1]!;
    if (c1 < (c === 0xf0 ? 0x90 : 0x80) || c1 > (c === 0xf4 ? 0x8f : 0xbf)) return 0;
    return (body[i + 2]! & 0xc0) === 0x80 && (body[i + 3]! & 0xc0) === 0x80 ? 4 : 0;
  }
  return 0;
}
