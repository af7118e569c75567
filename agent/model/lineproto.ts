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
import { BoundedWeakCache } from './weakcache.js';
import { UInt, Utf8String, type FieldValue, type Point, nowNs } from './point.js';

const NAME_SPECIAL = /[, \\\n\r]/;
const KEY_SPECIAL = /[,= \\\n\r]/;
export const STR_SPECIAL = /["\\]/;

export function escapeName(s: string): string {
  if (!NAME_SPECIAL.test(s)) return s;
  return s.replace(/[\n\r]/g, ' ').replace(/[\\, ]/g, '\\$&');
}

export function escapeKey(s: string): string {
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
  // nothing to escape (most values): String.prototype.indexOf of one character is a builtin scan, no regex, no JSON.stringify
  if (s.indexOf('"') < 0 && s.indexOf('\\') < 0) return '"' + s + '"';
  if (!JSON_EXTRA.test(s)) return JSON.stringify(s);
  if (!STR_SPECIAL.test(s)) return '"' + s + '"';
  return '"' + s.replaceAll('\\', '\\\\').replaceAll('"', '\\"') + '"';
}

export function fieldText(v: FieldValue): string | undefined {
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
 * cannot change, so the cache cannot go stale; it holds them weakly, within
 * a budget (weakcache.ts).
 */
const frozenTagText = new BoundedWeakCache<object, string>(16 << 20);

export function tagText(tags: Record<string, string>): string {
  const frozen = Object.isFrozen(tags);
  if (frozen) {
    const hit = frozenTagText.get(tags);
    if (hit !== undefined) return hit;
  }
  const s = tagTextOf(tags);
  if (frozen) frozenTagText.set(tags, s, 64 + s.length);
  return s;
}

/** {@link tagText} without the cache. */
export function tagTextOf(tags: Readonly<Record<string, string>>): string {
  let s = '';
  for (const k in tags) {
    const v = tags[k]!;
    if (k === '' || v === '') continue; // InfluxDB rejects empty tag keys and values
    s += ',' + escapeKey(k) + '=' + escapeKey(v);
  }
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
  /** The start of the offending line (set by the decoder; at most ~120 characters). */
  excerpt: string | undefined;

  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(`line ${line}: ${reason}`);
  }

  /** The message with the start of the line, for a 400 answer. */
  detail(): string {
    return this.excerpt === undefined ? this.message : `${this.message}: ${JSON.stringify(this.excerpt)}`;
  }
}

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

/** Time precision query values accepted by `/v1/write` (`?precision=`). */
export const PRECISION_NS: Record<string, bigint> = { n: 1n, ns: 1n, u: 1000n, us: 1000n, ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n };

/**
 * Decodes a line-protocol body. Blank lines and `#` comments are skipped.
 * Throws {@link LineProtocolError} with the 1-based line number, the reason and
 * the start of the line on the first malformed line. Newlines inside quoted
 * string fields are allowed. Rejected like a syntax error: a float that is not
 * finite (`1e400`), an integer or a timestamp (after `precision`) outside int64.
 */
export function decodeLines(text: string, precision: bigint = 1n): DecodedPoint[] {
  const d = new LineDecoder(text, precision);
  const out: DecodedPoint[] = [];
  while (d.next(out, Infinity));
  return out;
}

/** How long a caller decoding a large body in slices (LineDecoder) should run before it yields to the event loop. */
export const DECODE_SLICE_MS = 2;

/** A cursor over a line-protocol body: {@link next} decodes up to `maxLines` points at a time. */
export class LineDecoder {
  private i = 0;
  private lineNo = 1;

  constructor(
    private readonly text: string,
    private readonly precision: bigint,
  ) {}

  /**
   * Appends up to `maxLines` points to `out`, stopping early once the lines
   * taken span `maxChars` characters (a line of 1,000 tags is worth many
   * small ones); false once the body is done.
   */
  next(out: DecodedPoint[], maxLines: number, maxChars = Infinity): boolean {
    const text = this.text;
    const n = text.length;
    let i = this.i;
    const stop = i + maxChars;
    let taken = 0;
    while (i < n && taken < maxLines && i < stop) {
      // skip blank lines and comments
      const c = text.charCodeAt(i);
      if (c === 10) {
        i++;
        this.lineNo++;
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
      let r: ReturnType<typeof decodeOne>;
      try {
        r = decodeOne(text, i, this.lineNo, this.precision);
      } catch (e) {
        if (e instanceof LineProtocolError) e.excerpt = lineExcerpt(text, i);
        throw e;
      }
      out.push(r.point);
      taken++;
      this.lineNo += r.newlines;
      i = r.end;
    }
    this.i = i;
    return i < n;
  }
}

const EXCERPT_MAX = 120;

/** The start of the line at `i`, for error messages (bounded). */
function lineExcerpt(text: string, i: number): string {
  let end = text.indexOf('\n', i);
  if (end < 0 || end - i > EXCERPT_MAX) end = Math.min(text.length, i + EXCERPT_MAX);
  const s = text.slice(i, end).replace(/\r$/, '');
  return end - i >= EXCERPT_MAX ? s + '…' : s;
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
    // The dataway rejects a whole batch over one such point: refuse it here, with its line.
    if (time > INT64_MAX || time < INT64_MIN) throw new LineProtocolError(lineNo, `timestamp ${ts} out of range (int64 nanoseconds)`);
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
    if (v > INT64_MAX || v < INT64_MIN) throw new LineProtocolError(lineNo, `integer out of range in field ${JSON.stringify(key)}`);
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
  const v = Number(s);
  // 1e400 parses to Infinity, which line protocol cannot carry (the field would vanish on the way out).
  if (!Number.isFinite(v)) throw new LineProtocolError(lineNo, `float ${s} out of range for field ${JSON.stringify(key)}`);
  return v;
}
