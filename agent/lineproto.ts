/**
 * InfluxDB line protocol: the dataway's `v1` body and the format of
 * `/v1/write/:category`.
 *
 * Escaping follows InfluxDB's rules: in the measurement, commas and spaces are
 * escaped; in tag keys, tag values and field keys, commas, `=` and spaces; in
 * string field values, `"` and `\`. A backslash elsewhere is written as `\\`
 * (InfluxDB reads two backslashes as one). Line protocol cannot carry a newline
 * outside a string field, so newlines in names, keys and tag values become
 * spaces. Non-finite floats cannot be represented and are left out; a point
 * with no field left is not written.
 */
import { UInt, Utf8String, type FieldValue, type Point, nowNs } from './point.js';

const NAME_SPECIAL = /[, \\\n\r]/;
const KEY_SPECIAL = /[,= \\\n\r]/;
const STR_SPECIAL = /["\\]/;

function escapeName(s: string): string {
  if (!NAME_SPECIAL.test(s)) return s;
  return s.replace(/[\n\r]/g, ' ').replace(/[\\, ]/g, '\\$&');
}

function escapeKey(s: string): string {
  if (!KEY_SPECIAL.test(s)) return s;
  return s.replace(/[\n\r]/g, ' ').replace(/[\\,= ]/g, '\\$&');
}

/** Characters JSON.stringify escapes beyond `"` and `\`: controls and lone surrogates. */
const JSON_EXTRA = /[\x00-\x1f\ud800-\udfff]/u;

/**
 * A string field value with its quotes. Without control characters or lone
 * surrogates, JSON.stringify escapes exactly `"` and `\` as line protocol
 * does, and V8 does it ~2.5× faster than a regex replace (tracing messages
 * are kilobytes of JSON full of quotes: bench/traces/escape-micro.mjs).
 */
export function quoteStr(s: string): string {
  if (s.length <= 32) {
    // short values (a log status, a resource name): one pass, no regex, no JSON.stringify
    let plain = true;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 34 || c === 92) {
        plain = false;
        break;
      }
    }
    if (plain) return '"' + s + '"';
  }
  if (!JSON_EXTRA.test(s)) return JSON.stringify(s);
  if (!STR_SPECIAL.test(s)) return '"' + s + '"';
  return '"' + s.replaceAll('\\', '\\\\').replaceAll('"', '\\"') + '"';
}

function fieldText(v: FieldValue): string | undefined {
  switch (typeof v) {
    case 'number':
      return Number.isFinite(v) ? String(v) : undefined;
    case 'bigint':
      return `${v}i`;
    case 'string':
      return quoteStr(v);
    case 'boolean':
      return v ? 'true' : 'false';
    default:
      return v instanceof UInt ? `${v.value}u` : v instanceof Utf8String ? quoteStr(v.toString()) : undefined;
  }
}

/**
 * The tags part of a line (`,k=v,k2=v2`) for frozen tags objects, by identity:
 * an input that gives many points one shared, frozen tags object (a log
 * stream's) has it escaped once instead of once per point. Frozen objects
 * cannot change, so the cache cannot go stale; it holds them weakly.
 */
const frozenTagText = new WeakMap<object, string>();

function tagText(tags: Record<string, string>): string {
  const frozen = Object.isFrozen(tags);
  if (frozen) {
    const hit = frozenTagText.get(tags);
    if (hit !== undefined) return hit;
  }
  let s = '';
  for (const k in tags) {
    const v = tags[k]!;
    if (k === '' || v === '') continue; // InfluxDB rejects empty tag keys and values
    s += ',' + escapeKey(k) + '=' + escapeKey(v);
  }
  if (frozen) frozenTagText.set(tags, s);
  return s;
}

/**
 * Encodes one point as a line without the trailing newline, or returns
 * undefined when it has no representable field or an empty name.
 */
export function encodeLine(p: Point, defaultTime?: bigint): string | undefined {
  if (p.name === '') return undefined;
  let line = escapeName(p.name) + tagText(p.tags);
  let sep = ' ';
  const fields = p.fields;
  for (const k in fields) {
    if (k === '') continue;
    const t = fieldText(fields[k]!);
    if (t === undefined) continue;
    line += sep + escapeKey(k) + '=' + t;
    sep = ',';
  }
  if (sep === ' ') return undefined;
  const t = p.time ?? defaultTime;
  return t === undefined ? line : line + ' ' + t;
}

/** Buffer's internal UTF-8 writer (no argument checks), present on every Node Buffer. */
interface Utf8Writable {
  utf8Write(s: string, offset: number): number;
}

/** Measurement and tags of frozen tags objects, as UTF-8 bytes (a log stream's points share them). */
const frozenHeads = new WeakMap<object, { name: string; bytes: Buffer }>();

/** The measurement and tags of a line (`name,k=v,...`), escaped, as UTF-8 bytes. */
export function lineHead(name: string, tags: Readonly<Record<string, string>>): Buffer {
  return Buffer.from(escapeName(name) + tagText(tags as Record<string, string>));
}

function frozenHead(name: string, tags: Record<string, string>): Buffer | undefined {
  if (!Object.isFrozen(tags)) return undefined;
  const hit = frozenHeads.get(tags);
  if (hit !== undefined && hit.name === name) return hit.bytes;
  const bytes = Buffer.from(escapeName(name) + tagText(tags));
  frozenHeads.set(tags, { name, bytes });
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

  private write(s: string): void {
    // a UTF-16 unit takes at most 3 bytes; only then is the exact size worth computing
    if (this.data.length - this.off < s.length * 3) this.room(Buffer.byteLength(s));
    // utf8Write: Buffer.write without its argument checks (offset and room are known good here)
    this.off += (this.data as unknown as Utf8Writable).utf8Write(s, this.off);
  }

  /**
   * Pieces of a line, for writers that encode without points (log tailing):
   * `append` text as it is, `appendBytes` bytes as they are, `appendEscaped`
   * a string value's content from UTF-8 bytes, then `endLine`.
   */
  append(s: string): void {
    this.write(s);
  }

  appendBytes(b: Buffer): void {
    this.bytes(b);
  }

  appendEscaped(b: Buffer, start: number, end: number): void {
    this.escaped(start === 0 && end === b.length ? b : b.subarray(start, end));
  }

  /** A non-negative integer below 2^53 in decimal, `pad` digits at least (zeros in front). */
  appendUint(n: number, pad = 1): void {
    this.room(17);
    const d = this.data;
    let len = 1;
    for (let x = n; x >= 10; x = Math.floor(x / 10)) len++;
    if (len < pad) len = pad;
    let o = this.off + len;
    this.off = o;
    if (n < 0x80000000) {
      // int32 arithmetic: no floating-point division per digit
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

  /** Raw bytes. */
  private bytes(b: Buffer): void {
    this.room(b.length);
    this.data.set(b, this.off);
    this.off += b.length;
  }

  /** Appends a line (without its newline). */
  push(line: string): void {
    this.write(line);
    this.room(1);
    this.data[this.off++] = 10;
    this.ends.push(this.off);
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
    this.data.set(data.subarray(start, start + len), this.off);
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
      this.bytes(head);
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
        this.write(s + sep + escapeKey(k) + '="');
        this.write(v);
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
        this.write(s + sep + escapeKey(raw[i] as string) + '="');
        this.escaped((raw[i + 1] as Utf8String).bytes);
        s = '"';
        sep = ',';
      }
    } else if (sep === ' ') return false;
    const t = p.time ?? defaultTime;
    this.write(s + ' ' + t + '\n');
    this.ends.push(this.off);
    return true;
  }

  /** UTF-8 bytes as a line-protocol string value's content: `"` and `\` get a backslash. */
  private escaped(b: Buffer): void {
    const n = b.length;
    this.room(n * 2);
    const d = this.data;
    if (b.indexOf(34) < 0 && b.indexOf(92) < 0) {
      d.set(b, this.off);
      this.off += n;
      return;
    }
    // JSON text (a span's message) has a quote every dozen bytes: copy 4 bytes at a
    // time while none of them is `"` or `\` (a SWAR test), byte by byte around them.
    const src = new DataView(b.buffer, b.byteOffset, n);
    const dst = this.view();
    let o = this.off;
    let i = 0;
    while (i < n) {
      if (i + 4 <= n) {
        const v = src.getUint32(i, true);
        const q = v ^ 0x22222222;
        const s = v ^ 0x5c5c5c5c;
        if ((((q - 0x01010101) & ~q) | ((s - 0x01010101) & ~s)) & 0x80808080) {
          // some byte may be special: this one is handled alone
        } else {
          dst.setUint32(o, v, true);
          o += 4;
          i += 4;
          continue;
        }
      }
      const c = b[i++]!;
      if (c === 34 || c === 92) d[o++] = 92;
      d[o++] = c;
    }
    this.off = o;
  }

  private dv: DataView | undefined;

  /** A DataView of the current buffer (recreated when the buffer grows). */
  private view(): DataView {
    const d = this.data;
    if (this.dv === undefined || this.dv.buffer !== d.buffer || this.dv.byteOffset !== d.byteOffset || this.dv.byteLength !== d.length) this.dv = new DataView(d.buffer, d.byteOffset, d.length);
    return this.dv;
  }
}

/** Encodes points as a newline-terminated body; points that cannot be written are skipped. */
export function encodeLines(points: readonly Point[], defaultTime: bigint = nowNs()): string {
  let out = '';
  for (const p of points) {
    const l = encodeLine(p, defaultTime);
    if (l !== undefined) out += l + '\n';
  }
  return out;
}

export interface DecodedPoint {
  name: string;
  tags: Record<string, string>;
  fields: Record<string, FieldValue>;
  time: bigint | undefined;
}

export class LineProtocolError extends Error {
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(`line ${line}: ${reason}`);
  }
}

/** Time precision query values accepted by `/v1/write` (`?precision=`). */
export const PRECISION_NS: Record<string, bigint> = { n: 1n, ns: 1n, u: 1000n, us: 1000n, ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n };

/**
 * Decodes a line-protocol body. Blank lines and `#` comments are skipped.
 * Throws {@link LineProtocolError} with the 1-based line number on the first
 * malformed line. Newlines inside quoted string fields are allowed.
 */
export function decodeLines(text: string, precision: bigint = 1n): DecodedPoint[] {
  const out: DecodedPoint[] = [];
  const n = text.length;
  let i = 0;
  let lineNo = 1;
  while (i < n) {
    // skip blank lines and comments
    const c = text.charCodeAt(i);
    if (c === 10) {
      i++;
      lineNo++;
      continue;
    }
    if (c === 13 || c === 32 || c === 9) {
      i++;
      continue;
    }
    if (c === 35 /* # */) {
      while (i < n && text.charCodeAt(i) !== 10) i++;
      continue;
    }
    const r = decodeOne(text, i, lineNo, precision);
    out.push(r.point);
    lineNo += r.newlines;
    i = r.end;
  }
  return out;
}

/** Reads an escaped token until one of the stop characters (unescaped). */
function readToken(text: string, i: number, stops: string, lineNo: number, what: string): [string, number] {
  let s = '';
  let start = i;
  const n = text.length;
  while (i < n) {
    const ch = text[i]!;
    if (ch === '\\' && i + 1 < n) {
      const nx = text[i + 1]!;
      if (nx === '\\' || nx === ',' || nx === ' ' || nx === '=' || nx === '"') {
        s += text.slice(start, i) + nx;
        i += 2;
        start = i;
        continue;
      }
      i++;
      continue;
    }
    if (stops.includes(ch)) break;
    if (ch === '\n') throw new LineProtocolError(lineNo, `unexpected end of line in ${what}`);
    i++;
  }
  s += text.slice(start, i);
  return [s, i];
}

function decodeOne(text: string, i: number, lineNo: number, precision: bigint): { point: DecodedPoint; end: number; newlines: number } {
  const n = text.length;
  let newlines = 0;
  let name: string;
  [name, i] = readToken(text, i, ', \n', lineNo, 'measurement');
  if (name === '') throw new LineProtocolError(lineNo, 'missing measurement');
  const tags: Record<string, string> = {};
  while (i < n && text[i] === ',') {
    let k: string, v: string;
    [k, i] = readToken(text, i + 1, '=, \n', lineNo, 'tag key');
    if (text[i] !== '=') throw new LineProtocolError(lineNo, `tag ${JSON.stringify(k)} has no value`);
    [v, i] = readToken(text, i + 1, ', \n=', lineNo, 'tag value');
    if (k === '' || v === '') throw new LineProtocolError(lineNo, 'empty tag key or value');
    setOwn(tags, k, v);
  }
  if (text[i] !== ' ') throw new LineProtocolError(lineNo, 'missing fields');
  while (text[i] === ' ') i++;
  const fields: Record<string, FieldValue> = {};
  let first = true;
  while (i < n && (first || text[i] === ',')) {
    if (!first) i++;
    first = false;
    let k: string;
    [k, i] = readToken(text, i, '=, \n', lineNo, 'field key');
    if (text[i] !== '=' || k === '') throw new LineProtocolError(lineNo, `field ${JSON.stringify(k)} has no value`);
    i++;
    if (text[i] === '"') {
      let s = '';
      let start = ++i;
      for (;;) {
        if (i >= n) throw new LineProtocolError(lineNo, `unterminated string in field ${JSON.stringify(k)}`);
        const ch = text[i]!;
        if (ch === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\')) {
          s += text.slice(start, i) + text[i + 1];
          i += 2;
          start = i;
          continue;
        }
        if (ch === '"') break;
        if (ch === '\n') newlines++;
        i++;
      }
      s += text.slice(start, i);
      i++;
      setOwn(fields, k, s);
    } else {
      const start = i;
      while (i < n && text[i] !== ',' && text[i] !== ' ' && text[i] !== '\n' && text[i] !== '\r') i++;
      setOwn(fields, k, parseFieldValue(text.slice(start, i), k, lineNo));
    }
  }
  if (first) throw new LineProtocolError(lineNo, 'missing fields');
  let time: bigint | undefined;
  while (text[i] === ' ') i++;
  if (i < n && text[i] !== '\n' && text[i] !== '\r') {
    const start = i;
    while (i < n && text[i] !== '\n' && text[i] !== '\r' && text[i] !== ' ') i++;
    const ts = text.slice(start, i);
    if (!/^-?\d+$/.test(ts)) throw new LineProtocolError(lineNo, `invalid timestamp ${JSON.stringify(ts)}`);
    time = BigInt(ts) * precision;
  }
  while (text[i] === ' ' || text[i] === '\r') i++;
  if (i < n && text[i] !== '\n') throw new LineProtocolError(lineNo, 'unexpected text after timestamp');
  return { point: { name, tags, fields, time }, end: i, newlines };
}

/** Assigns an own property even for `__proto__` (a plain assignment would set the prototype instead). */
export function setOwn<T>(o: Record<string, T>, k: string, v: T): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

const INT_RE = /^-?\d+i$/;
const UINT_RE = /^\d+u$/;

function parseFieldValue(s: string, key: string, lineNo: number): FieldValue {
  if (INT_RE.test(s)) {
    const v = BigInt(s.slice(0, -1));
    if (v > 9223372036854775807n || v < -9223372036854775808n) throw new LineProtocolError(lineNo, `integer out of range in field ${JSON.stringify(key)}`);
    return v;
  }
  if (UINT_RE.test(s)) {
    const v = BigInt(s.slice(0, -1));
    if (v > 18446744073709551615n) throw new LineProtocolError(lineNo, `unsigned integer out of range in field ${JSON.stringify(key)}`);
    return new UInt(v);
  }
  switch (s) {
    case 't': case 'T': case 'true': case 'True': case 'TRUE':
      return true;
    case 'f': case 'F': case 'false': case 'False': case 'FALSE':
      return false;
  }
  if (s === '' || !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) {
    throw new LineProtocolError(lineNo, `invalid value ${JSON.stringify(s)} for field ${JSON.stringify(key)}`);
  }
  return Number(s);
}
