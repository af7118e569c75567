/**
 * LineBuf: line protocol written straight into one growing buffer, outside
 * the JS heap — the sender's pending batches, the bodies trace workers hand
 * back, and the lines container log tailing writes without points. Escaping
 * rules are lineproto.ts's.
 */
import { Utf8String, type Point } from './point.js';
import { escapeKey, escapeName, fieldText, quoteStr, STR_SPECIAL, tagText, tagTextOf } from './lineproto.js';
import { BoundedWeakCache } from './weakcache.js';

/** Buffer's internal UTF-8 writer (no argument checks), present on every Node Buffer. */
interface Utf8Writable {
  utf8Write(s: string, offset: number): number;
}

/**
 * Measurement and tags of frozen tags objects, as UTF-8 bytes: the points of a
 * log stream or of a Prometheus series share their tags. A tags object may go
 * with a few measurements (a scrape's unlabelled series: `go`, `process`, ...),
 * so each keeps a head per name, at most {@link HEADS_PER_TAGS}. Within a
 * memory budget (weakcache.ts): past it, heads are written per point.
 */
const frozenHeads = new BoundedWeakCache<object, Map<string, Buffer>>(64 << 20);
const HEADS_PER_TAGS = 16;
/** Estimated bytes a cached head holds besides its text: the Buffer object, and the Map when it is the first. */
const HEAD_COST = 100;
const HEADS_COST = 250;
/** Values up to this many UTF-16 units are copied by appendQuoted()'s loop. */
const SHORT_VALUE = 64;

/** The measurement and tags of a line (`name,k=v,...`), escaped, as UTF-8 bytes. */
export function lineHead(name: string, tags: Readonly<Record<string, string>>): Buffer {
  return Buffer.from(escapeName(name) + tagTextOf(tags));
}

function frozenHead(name: string, tags: Record<string, string>): Buffer | undefined {
  if (!Object.isFrozen(tags)) return undefined;
  let heads = frozenHeads.get(tags);
  const hit = heads?.get(name);
  if (hit !== undefined) return hit;
  const bytes = lineHead(name, tags);
  if (heads === undefined) {
    heads = new Map();
    if (!frozenHeads.set(tags, heads, HEADS_COST + bytes.length)) return bytes;
  } else {
    if (heads.size >= HEADS_PER_TAGS) heads.clear();
    if (!frozenHeads.set(tags, heads, HEAD_COST + bytes.length)) return bytes;
  }
  heads.set(name, bytes);
  return bytes;
}

/**
 * Newline-terminated lines written into one growing buffer, outside the JS
 * heap: the sender's pending batches (see Batch.lines) and the bodies that
 * worker threads hand back. `ends[i]` is the offset just after line i.
 */
export class LineBuf {
  data: Buffer;
  readonly ends: number[] = [];
  off = 0;

  /** A new buffer of `size` bytes, or a spare one to reuse (its content is overwritten). */
  constructor(size: number | Buffer) {
    this.data = typeof size === 'number' ? Buffer.allocUnsafe(Math.max(size, 64)) : size;
  }

  /** Makes room for `n` more bytes. */
  private room(n: number): void {
    const need = this.off + n;
    if (need <= this.data.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(need, this.data.length * 2));
    this.data.copy(bigger, 0, 0, this.off);
    this.data = bigger;
  }

  /**
   * Makes room for `n` more bytes, for writers that store into `data` at
   * `off` themselves (then advance `off` and push to `ends`). `data` may be
   * a new buffer afterwards.
   */
  reserve(n: number): void {
    this.room(n);
  }

  /**
   * Pieces of a line, for writers that encode without points (log tailing):
   * `append` text as it is, `appendBytes` bytes as they are, `appendEscaped`
   * a string value's content from UTF-8 bytes, then `endLine`.
   */
  append(s: string): void {
    // a UTF-16 unit takes at most 3 bytes; only then is the exact size worth computing
    if (this.data.length - this.off < s.length * 3) this.room(Buffer.byteLength(s));
    // utf8Write: Buffer.write without its argument checks (offset and room are known good here)
    this.off += (this.data as unknown as Utf8Writable).utf8Write(s, this.off);
  }

  appendBytes(b: Buffer): void {
    this.room(b.length);
    this.data.set(b, this.off);
    this.off += b.length;
  }

  /**
   * Short bytes (a field key's cached text) copied by a loop: for a dozen
   * bytes, cheaper than a native copy's call.
   */
  appendSmall(t: Uint8Array): void {
    const n = t.length;
    this.room(n);
    const d = this.data;
    let o = this.off;
    for (let i = 0; i < n; i++) d[o++] = t[i]!;
    this.off = o;
  }

  /** Text of ASCII characters only (a number's digits, a key's text) written by a loop, no native call. */
  appendAscii(s: string): void {
    const n = s.length;
    this.room(n);
    const d = this.data;
    let o = this.off;
    for (let i = 0; i < n; i++) d[o++] = s.charCodeAt(i);
    this.off = o;
  }

  /** Short text (a field key) written by a loop while it is ASCII; text with another character by the UTF-8 writer. */
  appendText(s: string): void {
    const n = s.length;
    this.room(n);
    const d = this.data;
    let o = this.off;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      // not ASCII: written again whole, from `off`
      if (c >= 0x80) return this.append(s);
      d[o++] = c;
    }
    this.off = o;
  }

  /**
   * A string field value with its quotes, the bytes quoteStr() gives. A short
   * ASCII value with nothing to escape (most of a log's fields) is copied by a
   * loop; anything else goes through the UTF-8 writer.
   */
  appendQuoted(s: string): void {
    const n = s.length;
    if (n <= SHORT_VALUE) {
      this.room(n + 2);
      const d = this.data;
      let o = this.off;
      d[o++] = 34;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80 || c === 34 || c === 92) break;
        d[o++] = c;
      }
      if (i === n) {
        d[o++] = 34;
        this.off = o;
        return;
      }
      // not ASCII, or something to escape: written again below
    }
    if (s.indexOf('"') >= 0 || s.indexOf('\\') >= 0) {
      this.append(quoteStr(s));
      return;
    }
    this.room(1);
    this.data[this.off++] = 34;
    this.append(s);
    this.room(1);
    this.data[this.off++] = 34;
  }

  appendEscaped(b: Buffer, start: number, end: number): void {
    this.escaped(start === 0 && end === b.length ? b : b.subarray(start, end));
  }

  /**
   * appendEscaped() for a caller that knows `b[start, end)` holds neither `"`
   * nor `\` (`plain`): the bytes are copied without looking for them (and
   * without a Buffer view of the range); not plain, escaped as appendEscaped.
   */
  appendEscapedKnown(b: Buffer, start: number, end: number, plain: boolean): void {
    if (!plain) return this.appendEscaped(b, start, end);
    this.room(end - start);
    this.off += b.copy(this.data, this.off, start, end);
  }

  /** Appends one record already encoded (a PBPoints entry, a line); false, writing nothing, for an empty one. */
  appendRecord(rec: Uint8Array): boolean {
    if (rec.length === 0) return false;
    this.room(rec.length);
    this.data.set(rec, this.off);
    this.off += rec.length;
    this.ends.push(this.off);
    return true;
  }

  /** A non-negative integer below 2^53 in decimal, `pad` digits at least (zeros in front). */
  appendUint(n: number, pad = 1): void {
    this.room(17);
    const d = this.data;
    const small = n < 0x80000000;
    let len = 1;
    // int32 arithmetic where it fits (a log line's count and nanoseconds): no floating-point division per digit
    if (small) for (let x = n; x >= 10; x = (x / 10) | 0) len++;
    else for (let x = n; x >= 10; x = Math.floor(x / 10)) len++;
    if (len < pad) len = pad;
    let o = this.off + len;
    this.off = o;
    if (small) {
      for (let i = 0; i < len; i++) {
        const q = (n / 10) | 0;
        d[--o] = 48 + n - q * 10;
        n = q;
      }
      return;
    }
    for (let i = 0; i < len; i++) {
      const q = Math.floor(n / 10);
      d[--o] = 48 + (n - q * 10);
      n = q;
    }
  }

  endLine(): void {
    this.room(1);
    this.data[this.off++] = 10;
    this.ends.push(this.off);
  }

  /** Empties the buffer for reuse (its lines must have been copied or sent). */
  reset(): void {
    this.off = 0;
    this.ends.length = 0;
  }

  /**
   * Appends lines `from` to `to` (exclusive) of newline-terminated lines
   * already encoded, `ends` being relative to `data` (as in this class).
   */
  pushLines(data: Uint8Array, ends: ArrayLike<number>, from = 0, to = ends.length): void {
    if (to <= from) return;
    const start = from === 0 ? 0 : ends[from - 1]!;
    const len = ends[to - 1]! - start;
    this.room(len);
    const src = data.subarray(start, start + len);
    // From shared memory (a trace worker's lines, offthread.ts), TypedArray set() copies with V8's relaxed atomic
    // memmove, ~10x a memcpy (220 against 20 µs for 756 KB); Buffer fill() with a view as long as the range copies it
    // with one memcpy.
    if (data.buffer instanceof SharedArrayBuffer) {
      if (len > 0) this.data.fill(src, this.off, this.off + len);
    } else this.data.set(src, this.off);
    const shift = this.off - start;
    for (let i = from; i < to; i++) this.ends.push(ends[i]! + shift);
    this.off += len;
  }

  /**
   * Appends a point as encodeLine() would write it. Utf8String fields are
   * escaped byte by byte straight from their bytes (written after the other
   * fields). Returns false, writing nothing, when the point has no line.
   */
  point(p: Point, defaultTime: bigint): boolean {
    if (p.name === '') return false;
    let s: string;
    const head = frozenHead(p.name, p.tags);
    if (head !== undefined) {
      this.appendBytes(head);
      s = '';
    } else s = escapeName(p.name) + tagText(p.tags);
    let sep = ' ';
    let raw: (string | Utf8String)[] | undefined;
    const fields = p.fields;
    for (const k in fields) {
      if (k === '') continue;
      const v = fields[k]!;
      if (typeof v === 'string' && v.length >= 512 && !STR_SPECIAL.test(v)) {
        // A long string with nothing to escape (most log messages) is written as it is:
        // no quoted copy, no concatenated line to flatten before encoding.
        this.append(s + sep + escapeKey(k) + '="');
        this.append(v);
        s = '"';
        sep = ',';
        continue;
      }
      if (v instanceof Utf8String) {
        (raw ??= []).push(k, v);
        continue;
      }
      const t = fieldText(v);
      if (t === undefined) continue;
      s += sep + escapeKey(k) + '=' + t;
      sep = ',';
    }
    if (raw !== undefined) {
      for (let i = 0; i < raw.length; i += 2) {
        this.append(s + sep + escapeKey(raw[i] as string) + '="');
        this.escaped((raw[i + 1] as Utf8String).bytes);
        s = '"';
        sep = ',';
      }
    } else if (sep === ' ') return false;
    const t = p.time ?? defaultTime;
    this.append(s + ' ' + t + '\n');
    this.ends.push(this.off);
    return true;
  }

  /** UTF-8 bytes as a line-protocol string value's content: `"` and `\` get a backslash. */
  private escaped(b: Buffer): void {
    const n = b.length;
    this.room(n * 2);
    if (b.indexOf(34) < 0 && b.indexOf(92) < 0) {
      this.data.set(b, this.off);
      this.off += n;
      return;
    }
    this.off = escapeStrInto(this.data, this.view(), this.off, b, new DataView(b.buffer, b.byteOffset, n), 0, n);
  }

  private dv: DataView | undefined;

  /** A DataView of `data` (recreated when the buffer grows). */
  view(): DataView {
    const d = this.data;
    if (this.dv === undefined || this.dv.buffer !== d.buffer || this.dv.byteOffset !== d.byteOffset || this.dv.byteLength !== d.length) this.dv = new DataView(d.buffer, d.byteOffset, d.length);
    return this.dv;
  }
}

/**
 * `src[s, e)` (UTF-8) as the content of a line-protocol string value at
 * `dst[o]`: `"` and `\` get a backslash. Returns the end; the caller has made
 * room for 2·(e − s) bytes. JSON text (a span's message) has a quote every
 * dozen bytes, so this copies 4 bytes at a time while none of them is `"` or
 * `\` (a SWAR test), byte by byte around them.
 */
export function escapeStrInto(dst: Buffer, dstView: DataView, o: number, src: Buffer, srcView: DataView, s: number, e: number): number {
  let i = s;
  while (i < e) {
    if (i + 4 <= e) {
      const v = srcView.getUint32(i, true);
      const q = v ^ 0x22222222;
      const b = v ^ 0x5c5c5c5c;
      if (((((q - 0x01010101) & ~q) | ((b - 0x01010101) & ~b)) & 0x80808080) === 0) {
        dstView.setUint32(o, v, true);
        o += 4;
        i += 4;
        continue;
      }
      // some byte may be special: this one is handled alone
    }
    const c = src[i++]!;
    if (c === 34 || c === 92) dst[o++] = 92;
    dst[o++] = c;
  }
  return o;
}

/** A DataView over a Buffer's bytes. */
export function viewOf(b: Buffer): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}
