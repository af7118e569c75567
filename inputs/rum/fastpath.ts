/**
 * The fast path for line-protocol batches: the SDK's lines are checked and
 * enriched as bytes, without decoding them to points and encoding them again.
 * Each line's measurement and `app_id` are read in place, the location tags and
 * the core's missing global tags are inserted after its tags, its timestamp
 * gets the zeros of `?precision`, and the lines go to the sinks as records
 * (Accumulator.addLines) when every sink takes line protocol.
 *
 * It accepts only what it fully understands: a line that the general decoder
 * (agent/model/lineproto.ts) might read differently — escapes other than
 * `\ `, `\,`, `\=`, `\\` in tag values, an escape in a measurement or key,
 * a location tag already present, `\r`, unsigned or very long integers,
 * negative or long timestamps — makes it return `undefined`, and the caller
 * takes the general path, which also produces the 400 answers. `error` lines
 * of a build with an uploaded sourcemap zip are decoded one by one with the
 * general decoder (to resolve their stack); the others stay bytes.
 * `inputs/rum/fastpath.test.ts` checks both paths give the same points.
 */
import { decodeLines, encodeLines } from '../../agent/model/lineproto.js';
import type { Point } from '../../agent/model/point.js';

const NL = 10;
const SP = 32;
const COMMA = 44;
const EQ = 61;
const BS = 92;
const QUOTE = 34;
const CR = 13;
const HASH = 35;
const TAB = 9;

/** What a request adds to each line, and what the caller checks. */
export interface FastOptions {
  precisionZeros: string;
  /** `,ip=…,city=…,province=…,country=…,isp=…` */
  enrich: Buffer;
  /** The tags the location adds (a line carrying one of them takes the general path). */
  enrichKeys: ReadonlySet<string>;
  /** The core's global tags: key → `,k=v`, added when the line lacks the key. */
  globals: ReadonlyMap<string, Buffer>;
  measurements: ReadonlySet<string>;
  /** Checks a line's app_id; returns a refusal to throw, or undefined. */
  checkAppId: (appId: string | undefined, line: number) => void;
  /**
   * Takes an `error` point decoded by the general decoder: adds the location
   * and missing global tags and resolves its stack (sourcemaps). Undefined:
   * error lines stay on the fast path.
   */
  onError?: (p: Point) => void;
  /**
   * Asked per `error` line with its app_id, env, version and sdk_name tags
   * (undefined when absent or escaped): `decode` sends it to `onError`;
   * `zip_not_found` (no sourcemap uploaded for that build) and `skip` (not a
   * web SDK) leave it on the fast path, as sent. Undefined: always `decode`.
   */
  sourcemapFor?: (appId: string | undefined, env: string | undefined, version: string | undefined, sdk: string | undefined) => 'decode' | 'zip_not_found' | 'skip';
  /** 1 for the first byte of every enrichment and global key (keys compared only then). */
  firstBytes: Uint8Array;
  /** Refuses a line whose measurement is not accepted. */
  refuseMeasurement: (name: string, line: number) => void;
  nowNs: bigint;
  /**
   * A buffer kept between calls for the output (grown here, kept while ≤ 1 MiB):
   * the result's `data` then lives in it, valid until the next call. A fresh
   * ~20 KB buffer per request was external memory enough to drive V8's full GCs.
   */
  scratch?: { buf: Buffer | undefined };
}

export interface FastResult {
  data: Buffer;
  ends: number[];
  /** Lines per measurement, for the points counter. */
  counts: Map<string, number>;
  /** `error` lines left as sent because no sourcemap zip exists for their build. */
  zipNotFound: number;
}

/** Output buffers kept for reuse up to this size. */
const SCRATCH_MAX = 1 << 20;

class Out {
  buf: Buffer;
  off = 0;
  constructor(size: number, reuse?: Buffer) {
    this.buf = reuse !== undefined && reuse.length >= size ? reuse : Buffer.allocUnsafe(size);
  }
  room(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const b = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.off + n));
    this.buf.copy(b, 0, 0, this.off);
    this.buf = b;
  }
  copy(src: Buffer, s: number, e: number): void {
    this.room(e - s);
    this.off += src.copy(this.buf, this.off, s, e);
  }
  str(s: string): void {
    this.room(s.length * 3);
    this.off += this.buf.write(s, this.off, 'latin1');
  }
  utf8(s: string): void {
    this.room(Buffer.byteLength(s));
    this.off += this.buf.write(s, this.off, 'utf8');
  }
}

/** Bytes that end or escape a tag value, and those that matter inside a string field: one table load per byte. */
const TAG_VALUE_STOP = new Uint8Array(256);
for (const c of [BS, COMMA, SP, EQ, NL, CR]) TAG_VALUE_STOP[c] = 1;
const STRING_STOP = new Uint8Array(256);
for (const c of [BS, QUOTE, NL]) STRING_STOP[c] = 1;

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** A non-string field value the general decoder reads the same way: a float, an int (`i`) of at most 18 digits, or a boolean. */
function plainValue(b: Buffer, s: number, e: number): boolean {
  const n = e - s;
  if (n === 0) return false;
  const c0 = b[s]!;
  if (c0 === 116 || c0 === 84 || c0 === 102 || c0 === 70) {
    // t T true True TRUE f F false False FALSE
    const w = b.toString('latin1', s, e);
    return w === 't' || w === 'T' || w === 'true' || w === 'True' || w === 'TRUE' || w === 'f' || w === 'F' || w === 'false' || w === 'False' || w === 'FALSE';
  }
  let i = s;
  if (b[e - 1] === 105 /* i */) {
    if (b[i] === 45) i++;
    if (e - 1 - i < 1 || e - 1 - i > 18) return false;
    for (; i < e - 1; i++) if (!isDigit(b[i]!)) return false;
    return true;
  }
  // [-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?
  if (b[i] === 45 || b[i] === 43) i++;
  let digits = 0;
  while (i < e && isDigit(b[i]!)) (i++, digits++);
  if (i < e && b[i] === 46) {
    i++;
    while (i < e && isDigit(b[i]!)) (i++, digits++);
  }
  if (digits === 0) return false;
  if (i < e && (b[i] === 101 || b[i] === 69)) {
    i++;
    if (i < e && (b[i] === 45 || b[i] === 43)) i++;
    let ed = 0;
    while (i < e && isDigit(b[i]!)) (i++, ed++);
    if (ed === 0) return false;
  }
  return i === e;
}

/**
 * Checks and enriches a line-protocol body; undefined when a line needs the
 * general decoder. Throws what `checkAppId` / `refuseMeasurement` throw.
 */
/** int64's largest value: a 19-digit nanosecond timestamp above it is out of range. */
const INT64_MAX_DIGITS = '9223372036854775807';

export function fastLines(b: Buffer, o: FastOptions, precision: bigint): FastResult | undefined {
  const n = b.length;
  let newlines = 0;
  for (let i = b.indexOf(NL); i >= 0; i = b.indexOf(NL, i + 1)) newlines++;
  let globalsLen = 0;
  for (const v of o.globals.values()) globalsLen += v.length;
  const out = new Out(n + (newlines + 1) * (o.enrich.length + globalsLen + o.precisionZeros.length + 24) + 16, o.scratch?.buf);
  const ends: number[] = [];
  const counts = new Map<string, number>();
  const missing: Buffer[] = [];
  let lineNo = 1;
  let zipNotFound = 0;
  let i = 0;
  while (i < n) {
    const c = b[i]!;
    if (c === NL) {
      i++;
      lineNo++;
      continue;
    }
    if (c === SP || c === TAB || c === CR) {
      i++;
      continue;
    }
    if (c === HASH) {
      while (i < n && b[i] !== NL) i++;
      continue;
    }
    const start = i;
    // measurement
    while (i < n) {
      const x = b[i]!;
      if (x === COMMA || x === SP) break;
      if (x === BS || x === NL || x === CR || x === QUOTE) return undefined;
      i++;
    }
    if (i === start || i >= n) return undefined;
    const name = b.toString('utf8', start, i);
    if (!o.measurements.has(name)) o.refuseMeasurement(name, lineNo);
    // tags
    let appId: string | undefined;
    // an error line's build (env, version) and SDK, for sourcemapFor; '\\' marks an escaped value
    const isError = name === 'error' && o.onError !== undefined && o.sourcemapFor !== undefined;
    let env: string | undefined;
    let version: string | undefined;
    let sdk: string | undefined;
    missing.length = 0;
    for (const v of o.globals.values()) missing.push(v);
    while (b[i] === COMMA) {
      const ks = ++i;
      while (i < n && b[i] !== EQ) {
        const x = b[i]!;
        if (x === BS || x === COMMA || x === SP || x === NL || x === CR || x === QUOTE) return undefined;
        i++;
      }
      if (i === ks || i >= n) return undefined;
      const ke = i++;
      const vs = i;
      while (i < n) {
        while (i < n && TAG_VALUE_STOP[b[i]!] === 0) i++;
        if (i >= n) break;
        const x = b[i]!;
        if (x === BS) {
          const y = b[i + 1];
          if (y !== SP && y !== COMMA && y !== EQ && y !== BS) return undefined;
          i += 2;
          continue;
        }
        if (x === COMMA || x === SP) break;
        if (x === EQ || x === NL || x === CR) return undefined;
        i++;
      }
      if (i === vs || i >= n) return undefined;
      const klen = ke - ks;
      if (isError && (klen === 3 || klen === 7 || klen === 8)) {
        const key = b.toString('latin1', ks, ke);
        if (key === 'env') env = b.toString('utf8', vs, i);
        else if (key === 'version') version = b.toString('utf8', vs, i);
        else if (key === 'sdk_name') sdk = b.toString('utf8', vs, i);
      }
      // app_id, the location keys, the global keys: compared only when the length could match
      if (klen === 6 && b[ks] === 97 && b.toString('latin1', ks, ke) === 'app_id') {
        appId = b.toString('utf8', vs, i);
        if (appId.includes('\\')) return undefined;
      } else if (o.firstBytes[b[ks]!] === 1) {
        // a key that could be a location or global tag (by its first byte): compare it
        const key = b.toString('utf8', ks, ke);
        if (o.enrichKeys.has(key)) return undefined;
        const v = o.globals.get(key);
        if (v) {
          const idx = missing.indexOf(v);
          if (idx >= 0) missing.splice(idx, 1);
        }
      }
    }
    const tagsEnd = i;
    if (b[i] !== SP) return undefined;
    o.checkAppId(appId, lineNo);
    while (b[i] === SP) i++;
    const fieldsStart = i;
    // fields
    let first = true;
    let lineBreaks = 0;
    while (i < n && (first || b[i] === COMMA)) {
      if (!first) i++;
      first = false;
      const ks = i;
      while (i < n && b[i] !== EQ) {
        const x = b[i]!;
        if (x === BS || x === COMMA || x === SP || x === NL || x === CR || x === QUOTE) return undefined;
        i++;
      }
      if (i === ks || i >= n) return undefined;
      i++;
      if (b[i] === QUOTE) {
        i++;
        for (;;) {
          while (i < n && STRING_STOP[b[i]!] === 0) i++;
          if (i >= n) return undefined;
          const x = b[i]!;
          if (x === BS && (b[i + 1] === QUOTE || b[i + 1] === BS)) {
            i += 2;
            continue;
          }
          if (x === QUOTE) break;
          if (x === NL) lineBreaks++;
          i++;
        }
        i++;
      } else {
        const vs = i;
        while (i < n && b[i] !== COMMA && b[i] !== SP && b[i] !== NL && b[i] !== CR) i++;
        if (!plainValue(b, vs, i)) return undefined;
      }
    }
    if (first) return undefined;
    const fieldsEnd = i;
    while (b[i] === SP) i++;
    let ts = -1;
    let te = -1;
    if (i < n && b[i] !== NL) {
      ts = i;
      while (i < n && isDigit(b[i]!)) i++;
      te = i;
      const digits = te - ts + o.precisionZeros.length;
      // past int64 nanoseconds the general decoder refuses the line: leave it to it
      if (te === ts || digits > 19 || (digits === 19 && b.toString('latin1', ts, te) + o.precisionZeros > INT64_MAX_DIGITS)) return undefined;
      while (b[i] === SP) i++;
      if (i < n && b[i] !== NL) return undefined;
    }
    const lineEnd = i;
    counts.set(name, (counts.get(name) ?? 0) + 1);
    let decode = name === 'error' && o.onError !== undefined;
    if (decode && isError) {
      const escaped = env?.includes('\\') || version?.includes('\\') || sdk?.includes('\\');
      const how = escaped ? 'decode' : o.sourcemapFor!(appId, env, version, sdk);
      if (how === 'zip_not_found') zipNotFound++;
      decode = how === 'decode';
    }
    if (decode) {
      // the general decoder for this line, then sourcemaps, then the same tags the fast path adds
      const [d] = decodeLines(b.toString('utf8', start, lineEnd), precision);
      const p: Point = { category: 'rum', name: d!.name, tags: d!.tags, fields: d!.fields, time: d!.time };
      o.onError!(p);
      out.utf8(encodeLines([p], o.nowNs)); // one record with its newline
      ends.push(out.off);
      lineNo += 1 + lineBreaks;
      if (i < n) i++;
      continue;
    }
    out.copy(b, start, tagsEnd);
    out.copy(o.enrich, 0, o.enrich.length);
    for (const m of missing) out.copy(m, 0, m.length);
    out.str(' ');
    out.copy(b, fieldsStart, fieldsEnd);
    out.str(' ');
    if (ts >= 0) {
      out.copy(b, ts, te);
      out.str(o.precisionZeros);
    } else out.str(String(o.nowNs));
    out.str('\n');
    ends.push(out.off);
    lineNo += 1 + lineBreaks;
    if (i < n) i++; // the newline
  }
  if (o.scratch && out.buf.length <= SCRATCH_MAX) o.scratch.buf = out.buf;
  return { data: out.buf.subarray(0, out.off), ends, counts, zipNotFound };
}
