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
 *
 * What makes it cheap (bench/rum; a byte loop in JS costs ~1 ns a byte here,
 * a native Buffer call ~50–150 ns): the SDK writes its ~30 common tags (sdk,
 * app, session, device, view) first and in the same order on every line of a
 * batch, so a line whose tags start with the same bytes as the previous
 * line's, up to the end of one of its tags, is read the same way up to there:
 * that prefix is compared with one native `compare` instead of being scanned
 * again, and what the previous line's scan found in it (app_id, the build
 * tags, which global keys are present) is taken over. Bytes are classified by
 * lookup tables, names and app ids are decoded once per run of equal bytes,
 * and each record is written with at most four copies.
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

function table(...bytes: number[]): Uint8Array {
  const t = new Uint8Array(256);
  for (const c of bytes) t[c] = 1;
  return t;
}
/** Bytes that end a measurement (`,` or space) or send the line to the general path. */
const NAME_STOP = table(COMMA, SP, BS, NL, CR, QUOTE);
/** Bytes that end a tag or field key (`=`) or send the line to the general path. */
const KEY_STOP = table(EQ, BS, COMMA, SP, NL, CR, QUOTE);
/** Bytes that end or escape a tag value. */
const TAG_VALUE_STOP = table(BS, COMMA, SP, EQ, NL, CR);
/** Bytes that matter inside a string field. */
const STRING_STOP = table(BS, QUOTE, NL);
/** Bytes that end a non-string field value. */
const PLAIN_STOP = table(COMMA, SP, NL, CR);

/** Key flags: what a tag key is to the fast path. */
const F_APP = 1;
const F_ENV = 2;
const F_VERSION = 4;
const F_SDK = 8;
const F_ENRICH = 16;

interface KeyEntry {
  readonly bytes: Buffer;
  readonly flags: number;
  /** Index of the global tag with this key, or -1. */
  readonly g: number;
}

/** The tag keys the fast path looks for (app_id, the build tags, the location keys, the global keys), by first byte. */
export interface KeyTable {
  readonly byFirst: readonly (readonly KeyEntry[] | undefined)[];
  /** The global tags' escaped `,k=v`, in order: a line lacking key g gets `globals[g]`. */
  readonly globals: readonly Buffer[];
  /** All of `globals`, concatenated. */
  readonly allGlobals: Buffer;
}

/** Builds the key table once per set of global tags (`,k=v` texts by key) and location keys. */
export function keyTable(enrichKeys: Iterable<string>, globals: ReadonlyMap<string, Buffer>): KeyTable {
  const entries = new Map<string, { flags: number; g: number }>();
  const add = (k: string, flags: number, g = -1) => {
    const e = entries.get(k) ?? { flags: 0, g: -1 };
    e.flags |= flags;
    if (g >= 0) e.g = g;
    entries.set(k, e);
  };
  add('app_id', F_APP);
  add('env', F_ENV);
  add('version', F_VERSION);
  add('sdk_name', F_SDK);
  for (const k of enrichKeys) add(k, F_ENRICH);
  const texts: Buffer[] = [];
  for (const [k, text] of globals) {
    add(k, 0, texts.length);
    texts.push(text);
  }
  const byFirst: KeyEntry[][] = [];
  for (let c = 0; c < 256; c++) byFirst.push([]);
  for (const [k, e] of entries) {
    const bytes = Buffer.from(k);
    if (bytes.length > 0) byFirst[bytes[0]!]!.push({ bytes, flags: e.flags, g: e.g });
  }
  return { byFirst: byFirst.map((l) => (l.length > 0 ? l : undefined)), globals: texts, allGlobals: Buffer.concat(texts) };
}

/** What a request adds to each line, and what the caller checks. */
export interface FastOptions {
  precisionZeros: string;
  /** `,ip=…,city=…,province=…,country=…,isp=…` */
  enrich: Buffer;
  /** The keys of `enrich` (a line carrying one takes the general path) and of the core's global tags (added when the line lacks them). */
  keys: KeyTable;
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

/**
 * The output, in a buffer that also holds a copy of the body and of the texts
 * a record gets (location, global tags, zeros): every piece of a record is
 * then moved with `copyWithin` (a Buffer.copy of a range makes a view object
 * per call), a few bytes with a JS loop.
 */
class Out {
  buf: Buffer;
  off: number;
  constructor(size: number, start: number, reuse?: Buffer) {
    this.buf = reuse !== undefined && reuse.length >= size ? reuse : Buffer.allocUnsafe(size);
    this.off = start;
  }
  room(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const b = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.off + n));
    this.buf.copy(b, 0, 0, this.off);
    this.buf = b;
  }
  /** Appends a text (at setup: the body and the record texts). */
  put(src: Uint8Array): number {
    const at = this.off;
    this.room(src.length);
    this.buf.set(src, at);
    this.off += src.length;
    return at;
  }
  /** Appends buf[s, e) (the body's bytes or a record text). */
  copy(s: number, e: number): void {
    const len = e - s;
    this.room(len);
    const buf = this.buf;
    if (len <= 24) {
      let o = this.off;
      for (let k = s; k < e; k++) buf[o++] = buf[k]!;
      this.off = o;
    } else {
      buf.copyWithin(this.off, s, e);
      this.off += len;
    }
  }
  byte(c: number): void {
    this.room(1);
    this.buf[this.off++] = c;
  }
  utf8(s: string): void {
    this.room(Buffer.byteLength(s));
    this.off += this.buf.write(s, this.off, 'utf8');
  }
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

const BOOLEANS = ['t', 'T', 'true', 'True', 'TRUE', 'f', 'F', 'false', 'False', 'FALSE'].map((w) => Buffer.from(w));

/**
 * The end of a non-string field value at `s` that the general decoder reads
 * the same way — a float, an int (`i`) of at most 18 digits, or a boolean —
 * followed by `,`, a space, a line end or the body's end; -1 otherwise. One
 * pass: the value is parsed as it is found.
 */
function plainEnd(b: Buffer, s: number, n: number): number {
  let i = s;
  const c0 = s < n ? b[s]! : -1;
  if (c0 === 116 || c0 === 84 || c0 === 102 || c0 === 70) {
    // t T true True TRUE f F false False FALSE
    while (i < n && PLAIN_STOP[b[i]!] === 0) i++;
    const len = i - s;
    for (const w of BOOLEANS) {
      if (w.length !== len) continue;
      let k = 0;
      while (k < len && b[s + k] === w[k]) k++;
      if (k === len) return i;
    }
    return -1;
  }
  // [-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?  or  -?\d{1,18}i
  if (c0 === 45 || c0 === 43) i++;
  const ds = i;
  while (i < n && isDigit(b[i]!)) i++;
  let digits = i - ds;
  if (i < n && b[i] === 105 /* i */) {
    if (c0 === 43 || digits < 1 || digits > 18) return -1;
    i++;
    return i >= n || PLAIN_STOP[b[i]!] === 1 ? i : -1;
  }
  if (i < n && b[i] === 46) {
    const f = ++i;
    while (i < n && isDigit(b[i]!)) i++;
    digits += i - f;
  }
  if (digits === 0) return -1;
  let exp = false;
  if (i < n && (b[i] === 101 || b[i] === 69)) {
    i++;
    if (i < n && (b[i] === 45 || b[i] === 43)) i++;
    const es = i;
    while (i < n && isDigit(b[i]!)) i++;
    if (i === es) return -1;
    exp = true;
  }
  if (i < n && PLAIN_STOP[b[i]!] !== 1) return -1;
  // a float past double's range (1e309, or 309+ digits) is the decoder's to refuse
  if ((exp || digits > 300) && !Number.isFinite(Number(b.toString('latin1', s, i)))) return -1;
  return i;
}

/** int64's largest value: a 19-digit nanosecond timestamp above it is out of range. */
const INT64_MAX_DIGITS = '9223372036854775807';

/*
 * The previous line's tags (fastLines runs to completion, so one set per
 * thread): where each tag ends, relative to the line's first comma, and the
 * tags that matter (app_id, env, version, sdk_name, global keys), in order.
 * A line whose first tags are byte-equal to the previous line's keeps these
 * entries and overwrites those after them.
 */
const MAX_TAGS = 1024;
const tagEnds = new Int32Array(MAX_TAGS);
const MAX_SPECIAL = 64;
/** Tag index, flags, global index, value start and end (relative to the first comma), whether the value has a `\`. */
const specAt = new Int32Array(MAX_SPECIAL);
const specFlags = new Int32Array(MAX_SPECIAL);
const specG = new Int32Array(MAX_SPECIAL);
const specVs = new Int32Array(MAX_SPECIAL);
const specVe = new Int32Array(MAX_SPECIAL);
const specEsc = new Uint8Array(MAX_SPECIAL);
/** The value decoded, once per entry (app_id on every line; the build tags for error lines). */
const specStr: (string | undefined)[] = new Array<string | undefined>(MAX_SPECIAL).fill(undefined);
/** Tags taken over from the previous line instead of being scanned, and tags scanned (tests and bench/rum read them). */
export const prefixStats = { kept: 0, scanned: 0 };
/** Per global tag, the line that last had its key (a stamp), grown as needed. */
let seenGlobal = new Int32Array(16);
let stamp = 0;

/**
 * Whether the line with tags at `ts` starts with the reference line's first
 * `j` tags (its tags at `refTs`): the bytes up to the end of tag j are equal
 * and tag j ends there too. Then they parse the same up to there (same bytes,
 * same escapes before the boundary).
 */
function samePrefix(b: Buffer, n: number, ts: number, refTs: number, j: number): boolean {
  const e = tagEnds[j - 1]!;
  const p = ts + e;
  if (p >= n) return false;
  const c = b[p];
  if ((c !== COMMA && c !== SP) || b[p - 1] !== b[refTs + e - 1] || b[ts + 1] !== b[refTs + 1]) return false;
  return b.compare(b, refTs, refTs + e, ts, p) === 0;
}

/**
 * Checks and enriches a line-protocol body; undefined when a line needs the
 * general decoder. Throws what `checkAppId` / `refuseMeasurement` throw.
 */
export function fastLines(b: Buffer, o: FastOptions, precision: bigint): FastResult | undefined {
  const n = b.length;
  const keys = o.keys;
  const nGlobals = keys.globals.length;
  if (seenGlobal.length < nGlobals) seenGlobal = new Int32Array(nGlobals * 2);
  let newlines = 0;
  for (let i = b.indexOf(NL); i >= 0; i = b.indexOf(NL, i + 1)) newlines++;
  const zerosLen = o.precisionZeros.length;
  const nowText = String(o.nowNs);
  const textsLen = o.enrich.length * 2 + keys.allGlobals.length * 2 + zerosLen + nowText.length;
  // the body (records are copied from it), then the texts records get, then the records
  const out = new Out(n + textsLen + n + (newlines + 1) * (o.enrich.length + keys.allGlobals.length + zerosLen + 24) + 16, 0, o.scratch?.buf);
  out.put(b);
  /** The enrichment and every global tag: what most lines get. */
  const allAt = out.put(o.enrich);
  out.put(keys.allGlobals);
  const allEnd = out.off;
  const enrichAt = out.put(o.enrich);
  const globalAt: number[] = [];
  for (const g of keys.globals) globalAt.push(out.put(g));
  const zerosAt = out.put(Buffer.from(o.precisionZeros, 'latin1'));
  const nowAt = out.put(Buffer.from(nowText, 'latin1'));
  const base = out.off;
  const ends: number[] = [];
  const counts = new Map<string, number>();
  let runName = '';
  let runCount = 0;
  let lineNo = 1;
  let zipNotFound = 0;
  // the previous line: its name's bytes and its tags (reference for the prefix)
  let prevNameStart = -1;
  let prevNameLen = 0;
  let prevName = '';
  let refTs = -1;
  let refCount = 0;
  let refSpec = 0;
  /** Tags the last partial match kept (the batch's common tags): tried first. */
  let hint = 0;
  /** Lines in a row whose tags shared no prefix with the previous line's: after two, no more comparing. */
  let misses = 0;
  const byFirst = keys.byFirst;
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
    while (i < n && NAME_STOP[b[i]!] === 0) i++;
    if (i === start || i >= n || (b[i] !== COMMA && b[i] !== SP)) return undefined;
    const nameLen = i - start;
    let name = prevName;
    let same = nameLen === prevNameLen;
    for (let k = 0; same && k < nameLen; k++) same = b[start + k] === b[prevNameStart + k];
    if (!same) {
      name = b.toString('utf8', start, i);
      if (!o.measurements.has(name)) o.refuseMeasurement(name, lineNo);
      prevName = name;
      prevNameLen = nameLen;
    }
    prevNameStart = start;
    // tags: first what this line shares with the previous line's, then the rest
    const ts = i;
    let t = 0;
    let nspec = 0;
    let keptTags = 0;
    if (refCount > 0 && misses < 2 && b[i] === COMMA) {
      let j = 0;
      if (samePrefix(b, n, ts, refTs, refCount)) j = refCount;
      else {
        let lo = 0;
        let hi = refCount - 1;
        if (hint > 0 && hint <= hi) {
          if (samePrefix(b, n, ts, refTs, hint)) lo = hi = hint;
          else hi = hint - 1;
        }
        while (lo < hi) {
          const mid = (lo + hi + 1) >> 1;
          if (samePrefix(b, n, ts, refTs, mid)) lo = mid;
          else hi = mid - 1;
        }
        j = lo;
        if (j > 0) hint = j;
      }
      misses = j > 0 ? 0 : misses + 1;
      if (j > 0) {
        t = keptTags = j;
        i = ts + tagEnds[j - 1]!;
        nspec = refSpec;
        while (nspec > 0 && specAt[nspec - 1]! >= j) nspec--;
      }
    }
    while (i < n && b[i] === COMMA) {
      const ks = ++i;
      while (i < n && KEY_STOP[b[i]!] === 0) i++;
      if (i === ks || i >= n || b[i] !== EQ) return undefined;
      const ke = i++;
      const vs = i;
      let esc = 0;
      while (i < n) {
        while (i < n && TAG_VALUE_STOP[b[i]!] === 0) i++;
        if (i >= n) break;
        const x = b[i]!;
        if (x === BS) {
          const y = i + 1 < n ? b[i + 1] : -1;
          if (y !== SP && y !== COMMA && y !== EQ && y !== BS) return undefined;
          esc = 1;
          i += 2;
          continue;
        }
        if (x === COMMA || x === SP) break;
        return undefined; // `=`, `\n`, `\r`
      }
      if (i === vs || i >= n) return undefined;
      // app_id, the build tags, the location keys, the global keys
      const cands = byFirst[b[ks]!];
      if (cands !== undefined) {
        const klen = ke - ks;
        for (let ci = 0; ci < cands.length; ci++) {
          const e = cands[ci]!;
          const kb = e.bytes;
          if (kb.length !== klen) continue;
          let q = 1;
          while (q < klen && b[ks + q] === kb[q]) q++;
          if (q !== klen) continue;
          if ((e.flags & F_ENRICH) !== 0 || ((e.flags & F_APP) !== 0 && esc === 1)) return undefined;
          if (nspec === MAX_SPECIAL) return undefined;
          specAt[nspec] = t;
          specFlags[nspec] = e.flags;
          specG[nspec] = e.g;
          specVs[nspec] = vs - ts;
          specVe[nspec] = i - ts;
          specEsc[nspec] = esc;
          specStr[nspec] = undefined;
          nspec++;
          break;
        }
      }
      if (t < MAX_TAGS) tagEnds[t] = i - ts;
      t++;
    }
    const tagsEnd = i;
    if (i >= n || b[i] !== SP) return undefined;
    prefixStats.kept += keptTags;
    prefixStats.scanned += t - keptTags;
    refTs = ts;
    refCount = t < MAX_TAGS ? t : MAX_TAGS;
    refSpec = nspec;
    // what the tags say: the last app_id, env, version, sdk_name; which global keys are present
    if (++stamp === 0x7fffffff) {
      seenGlobal.fill(0);
      stamp = 1;
    }
    let present = 0;
    let appId: string | undefined;
    let envAt = -1;
    let versionAt = -1;
    let sdkAt = -1;
    for (let s = 0; s < nspec; s++) {
      const f = specFlags[s]!;
      if ((f & F_APP) !== 0) appId = specStr[s] ??= b.toString('utf8', ts + specVs[s]!, ts + specVe[s]!);
      if ((f & F_ENV) !== 0) envAt = s;
      if ((f & F_VERSION) !== 0) versionAt = s;
      if ((f & F_SDK) !== 0) sdkAt = s;
      const g = specG[s]!;
      if (g >= 0 && seenGlobal[g] !== stamp) {
        seenGlobal[g] = stamp;
        present++;
      }
    }
    o.checkAppId(appId, lineNo);
    while (i < n && b[i] === SP) i++;
    const fieldsStart = i;
    // fields
    let lineBreaks = 0;
    for (;;) {
      const ks = i;
      while (i < n && KEY_STOP[b[i]!] === 0) i++;
      if (i === ks || i >= n || b[i] !== EQ) return undefined;
      i++;
      if (i < n && b[i] === QUOTE) {
        i++;
        for (;;) {
          while (i < n && STRING_STOP[b[i]!] === 0) i++;
          if (i >= n) return undefined;
          const x = b[i]!;
          if (x === QUOTE) break;
          if (x === BS) {
            const y = i + 1 < n ? b[i + 1] : -1;
            i += y === QUOTE || y === BS ? 2 : 1;
            continue;
          }
          lineBreaks++; // a newline inside the string
          i++;
        }
        i++;
      } else {
        i = plainEnd(b, i, n);
        if (i < 0) return undefined;
      }
      if (i < n && b[i] === COMMA) {
        i++;
        continue;
      }
      break;
    }
    const fieldsEnd = i;
    while (i < n && b[i] === SP) i++;
    let tsStart = -1;
    let tsEnd = -1;
    if (i < n && b[i] !== NL) {
      tsStart = i;
      while (i < n && isDigit(b[i]!)) i++;
      tsEnd = i;
      const digits = tsEnd - tsStart + zerosLen;
      // past int64 nanoseconds the general decoder refuses the line: leave it to it
      if (tsEnd === tsStart || digits > 19 || (digits === 19 && b[tsStart]! >= 57 /* 9 */ && b.toString('latin1', tsStart, tsEnd) + o.precisionZeros > INT64_MAX_DIGITS)) return undefined;
      while (i < n && b[i] === SP) i++;
      if (i < n && b[i] !== NL) return undefined;
    }
    const lineEnd = i;
    if (name === runName) runCount++;
    else {
      if (runCount > 0) counts.set(runName, (counts.get(runName) ?? 0) + runCount);
      runName = name;
      runCount = 1;
    }
    let decode = name === 'error' && o.onError !== undefined;
    if (decode && o.sourcemapFor !== undefined) {
      const str = (s: number) => (s < 0 ? undefined : (specStr[s] ??= b.toString('utf8', ts + specVs[s]!, ts + specVe[s]!)));
      const escaped = (envAt >= 0 && specEsc[envAt] === 1) || (versionAt >= 0 && specEsc[versionAt] === 1) || (sdkAt >= 0 && specEsc[sdkAt] === 1);
      const how = escaped ? 'decode' : o.sourcemapFor(appId, str(envAt), str(versionAt), str(sdkAt));
      if (how === 'zip_not_found') zipNotFound++;
      decode = how === 'decode';
    }
    if (decode) {
      // the general decoder for this line, then sourcemaps, then the same tags the fast path adds
      const [d] = decodeLines(b.toString('utf8', start, lineEnd), precision);
      const p: Point = { category: 'rum', name: d!.name, tags: d!.tags, fields: d!.fields, time: d!.time };
      o.onError!(p);
      out.utf8(encodeLines([p], o.nowNs)); // one record with its newline
      ends.push(out.off - base);
      lineNo += 1 + lineBreaks;
      if (i < n) i++;
      continue;
    }
    // the record: tags, the location and missing global tags, fields, time in ns
    out.copy(start, tagsEnd);
    if (present === 0) out.copy(allAt, allEnd);
    else {
      out.copy(enrichAt, enrichAt + o.enrich.length);
      for (let g = 0; g < nGlobals; g++) if (seenGlobal[g] !== stamp) out.copy(globalAt[g]!, globalAt[g]! + keys.globals[g]!.length);
    }
    if (fieldsStart === tagsEnd + 1 && tsStart === fieldsEnd + 1) out.copy(tagsEnd, tsEnd); // ` fields time` as sent
    else {
      out.byte(SP);
      out.copy(fieldsStart, fieldsEnd);
      out.byte(SP);
      if (tsStart >= 0) out.copy(tsStart, tsEnd);
    }
    if (tsStart >= 0) out.copy(zerosAt, zerosAt + zerosLen);
    else out.copy(nowAt, nowAt + nowText.length);
    out.byte(NL);
    ends.push(out.off - base);
    lineNo += 1 + lineBreaks;
    if (i < n) i++; // the newline
  }
  if (runCount > 0) counts.set(runName, (counts.get(runName) ?? 0) + runCount);
  if (o.scratch && out.buf.length <= SCRATCH_MAX) o.scratch.buf = out.buf;
  return { data: out.buf.subarray(base, out.off), ends, counts, zipNotFound };
}
