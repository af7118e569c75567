/**
 * Zipkin v2 JSON straight to line protocol: the zipkin trace workers' fast
 * path. The generic path (JSON.parse → v2.ts convertV2 → groupTraces → the
 * shared pipeline → LineBuf.point) builds a JS object per span, a string per
 * key and value, a tags object and a point; at ~13.5 µs of a worker's CPU per
 * span it was the bottleneck of the zipkin input. Here the body is read once
 * as bytes: each span keeps offsets into the body (or, for strings with
 * escapes, into a small arena of decoded bytes) and its line is written from
 * them, escaped as it is copied (the same pieces as ddtrace's lines.ts).
 *
 * The lines are byte for byte what the generic path writes (lines.test.ts
 * compares the two on real and random payloads). Whatever this path does not
 * model returns `undefined` before anything is written, and the caller runs
 * the generic path, which also gives the 4xx answers:
 * - the v1 route, a proto3 body, a body that is not valid UTF-8 or not a
 *   well-formed JSON array of objects, nesting deeper than {@link MAX_DEPTH};
 * - an option that changes the mapping: ignore_tags, or any filter
 *   (close_resource, ignore_resources, omit_err_status, keep_rare_resource,
 *   sampler);
 * - a span key outside Zipkin's v2 model, or one given twice; a localEndpoint
 *   key other than serviceName, ipv4, ipv6, port;
 * - traceId/id missing or not a plain hex string of ≤ 32 digits, parentId not
 *   one (or null/""); name, kind, serviceName not a string or null;
 *   timestamp/duration not a non-negative integer below 2^53;
 * - a tag value that is not a string; a tag key that is all digits (JS objects
 *   order such keys first), `__proto__`, or that equals another key of the span
 *   once `.` becomes `_`; an over-long value (a field) named like a fixed field;
 * - a lone surrogate in a `\u` escape; a core tag key that is all digits,
 *   empty, or a property of Object.prototype (`constructor`, `__proto__`...);
 * - a tag key over {@link MAX_KEY} bytes, or a request that fills the key
 *   cache (the next request starts a new one);
 * - more than {@link MAX_SPANS} spans or {@link MAX_TAGS} tags.
 * A worker's CPU a span on the bench body: 8.2 µs against the generic path's
 * 11.3 (BENCHMARKS.md, "Traces", session 7, r22z); 3.9 µs in one thread at
 * session 10 (s10zip): the message copied in runs between the quotes the
 * reader found, values with nothing to escape and every fixed piece copied 4
 * bytes at a time, tag keys compared with the one expected before any hash.
 */
import { isAscii, isUtf8 } from 'node:buffer';
import { escapeStrInto, viewOf, type LineBuf } from '../../agent/model/linebuf.js';
import { escapeKey, escapeName } from '../../agent/model/lineproto.js';
import type { TraceProcessor } from '../../agent/services/trace/processor.js';
import type { TraceRequest } from '../../agent/services/trace/offthread.js';
import { F_DURATION, F_MESSAGE, F_PARENT, F_RESOURCE, F_SPAN, F_START, F_TRACE, escapeTagBytes, putBytes as put } from '../../agent/services/trace/span-line.js';
import { writeUint } from '../../agent/services/trace/digits.js';
import { BytesMap } from '../../agent/services/trace/bytes-map.js';
import type { ZipkinConfig } from './config.js';

/** Spans of one request the fast path takes (bounds its arrays). */
export const MAX_SPANS = 65_536;
/** Tags per request. */
export const MAX_TAGS = 1 << 20;
/** Nesting inside a span that the value skipper follows. */
export const MAX_DEPTH = 64;
/** Over this many UTF-16 units a tag value becomes a field (v2.ts). */
const MAX_TAG_VALUE = 1024;

// span keys
const K_TRACE = 1;
const K_ID = 2;
const K_PARENT = 3;
const K_KIND = 4;
const K_NAME = 5;
const K_TS = 6;
const K_DUR = 7;
const K_LOCAL = 8;
const K_REMOTE = 9;
const K_ANN = 10;
const K_TAGS = 11;
const K_DEBUG = 12;
const K_SHARED = 13;
const SPAN_KEYS = new Map<string, number>([
  ['traceId', K_TRACE],
  ['id', K_ID],
  ['parentId', K_PARENT],
  ['kind', K_KIND],
  ['name', K_NAME],
  ['timestamp', K_TS],
  ['duration', K_DUR],
  ['localEndpoint', K_LOCAL],
  ['remoteEndpoint', K_REMOTE],
  ['annotations', K_ANN],
  ['tags', K_TAGS],
  ['debug', K_DEBUG],
  ['shared', K_SHARED],
]);
/** Span keys by length: [bytes, K_*, ...]. */
const KEYS_BY_LEN: (Buffer | number)[][] = [];
for (const [name, k] of SPAN_KEYS) (KEYS_BY_LEN[name.length] ??= []).push(Buffer.from(name), k);

// span types: 0 = derive (deriveSpanTypes), else as written
const TYPE_NAMES = ['', 'entry', 'exit', 'local'];
const T_ENTRY = 1;
const T_EXIT = 2;
const T_LOCAL = 3;

/** Fields the point has before a long tag value's field: a tag so named is left to the generic path. */
const FIXED_FIELDS = ['trace_id', 'span_id', 'parent_id', 'resource', 'start', 'duration', 'message'];
const FIXED_TAG_NAMES = ['service', 'source', 'operation', 'source_type', 'span_type', 'status'];

// tag values are escaped by span-line.ts escapeTagBytes, as ddtrace's and OTLP's writers escape them

/**
 * What str() does with a byte inside a string: 0 copy, 1 copy (a byte a tag value escapes: `,` `=` space),
 * 2 stop (`"`, `\\`, a control character: the end, an escape, or a decline).
 */
const STR_CLASS = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) STR_CLASS[c] = 2;
STR_CLASS[0x22] = 2;
STR_CLASS[0x5c] = 2;
STR_CLASS[0x2c] = 1;
STR_CLASS[0x3d] = 1;
STR_CLASS[0x20] = 1;

const HEXV = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) {
  HEXV['0123456789abcdef'.charCodeAt(i)] = i;
  HEXV['0123456789ABCDEF'.charCodeAt(i)] = i;
}

// what a tag key is (KeyInfo flags)
/** Not written as a point tag: one the pipeline sets itself, or the empty key. */
const KF_SKIP = 1;
/** Left to the generic path: all digits (JS objects order such keys first), `__proto__`. */
const KF_DECLINE = 2;
const KF_ERROR = 4;
/** Named like a field the point has before a long value's field. */
const KF_FIXED_FIELD = 8;
const KF_EMPTY = 16;
/** Tag keys longer than this are left to the generic path (the key cache's bound). */
const MAX_KEY = 256;

/** Thrown inside the reader when the body is outside what this path models; caught in write(). */
const DECLINE = new Error('zipkin fast path declines');

const EMPTY = Buffer.alloc(0);
const EMPTY_VIEW = new DataView(new ArrayBuffer(0));
const ZERO16 = '0000000000000000';
const ZERO32 = ZERO16 + ZERO16;

/** Whether the fast path may run for this configuration at all (else it always declines). */
export function zipkinFastPathApplies(pipeline: TraceProcessor): boolean {
  return pipeline.filters.trivial && pipeline.opts.ignore_tags.length === 0;
}

export class ZipkinLineWriter {
  private readonly enabled: boolean;
  private readonly keep: boolean;
  /** The fixed pieces (P_*). */
  private readonly fixed = new Pieces();
  private readonly pathV1: string;

  // the request being read
  private b: Buffer = EMPTY;
  private bv: DataView = EMPTY_VIEW;
  private i = 0;
  private arena: Buffer = Buffer.allocUnsafe(4096);
  private an = 0;
  // the last string read: [sa, sb) in the body, or ~sa..~sb in the arena
  private sa = 0;
  private sb = 0;
  /** Whether the last string is in the body and has no byte a tag value escapes (then it is copied as it is). */
  private plain = false;
  /**
   * Where the body has a `"` or a `\\` (the bytes a line-protocol string escapes), in order: the reader
   * records each string's quotes and escapes as it scans them, so the message is written by copying the
   * runs between them, without looking at each byte again. Every such byte of valid JSON is in a string.
   */
  private specials = new Int32Array(1 << 14);
  private ns = 0;

  // spans, parallel arrays (reused)
  private n = 0;
  private msgA: number[] = [];
  private msgB: number[] = [];
  private svcA: number[] = [];
  private svcB: number[] = [];
  private nameA: number[] = [];
  private nameB: number[] = [];
  /** Bit 0: the service, bit 1: the name has nothing to escape as a tag value (str()'s `plain`). */
  private plainSN: number[] = [];
  private type: number[] = [];
  private ts: number[] = [];
  private dur: number[] = [];
  private err: boolean[] = [];
  private tagFrom: number[] = [];
  private tagTo: number[] = [];
  /** The span's specials: [specFrom, specTo) of `specials`. */
  private specFrom: number[] = [];
  private specTo: number[] = [];
  /** The trace id's range (arena ones as ~offsets): written from the bytes; a string only where a trace starts (group()). */
  private tidA: number[] = [];
  private tidE: number[] = [];
  /** Span and parent ids as ranges (arena ones as ~offsets); an empty parent range is "0". Strings only when span types are derived. */
  private sidA: number[] = [];
  private sidE: number[] = [];
  private pidA: number[] = [];
  private pidE: number[] = [];
  private spanId: string[] = [];
  private parentId: string[] = [];
  private next: number[] = [];

  // tags, parallel arrays (reused)
  private nt = 0;
  /** The key's id in the key cache. */
  private kid: number[] = [];
  private vA: number[] = [];
  private vB: number[] = [];
  private long: boolean[] = [];
  /** The value has nothing to escape as a tag value (str()'s `plain`). */
  private vPlain: boolean[] = [];

  // core tags (the job's), cached by identity
  private coreOf: Record<string, string> | undefined;
  private coreOk = false;
  /** `,key=value` of each core tag (empty for an empty value), by its index in coreNames. */
  private coreText = new Pieces();
  private coreNames: string[] = [];
  /** Each core tag key's point-key id (canon), for this request. */
  private coreCanon: number[] = [];

  // tag keys seen, by their bytes: the escaped point key, flags, and an id of the point key
  // (`.` as `_`: two keys with the same id are the same tag), so no string is made per key
  private keys = new BytesMap(1 << 12, MAX_KEY, 1 << 18);
  private keysFull = false;
  /** Each key's `,key=` (the escaped point key), by the key's id. */
  private kEsc = new Pieces();
  /** Each key's bytes as the body has them (unescaped), by the key's id. */
  private kRaw = new Pieces();
  /**
   * The key that came after each key in the last tags object it was in (-1: none yet), and the first key of the last
   * tags object: spans of a kind carry the same tags in the same order, so a key is first compared with the one
   * expected, and only looked up by its hash when it is another.
   */
  private kNext: number[] = [];
  private kFirst = -1;
  private kFlags: number[] = [];
  private kCanon: number[] = [];
  private canon = new Map<string, number>();
  /**
   * A mark per point-key id: `stamp` when the span being read (or written) has that key, so the same key
   * twice in a span, and a core tag's key among a span's tags, are found without comparing every pair.
   */
  private mark = new Int32Array(1 << 8);
  private stamp = 0;
  private coreLen = 0;

  constructor(cfg: ZipkinConfig, pipeline: TraceProcessor) {
    this.enabled = zipkinFastPathApplies(pipeline);
    this.keep = !cfg.del_message;
    this.pathV1 = cfg.pathV1;
    const f = this.fixed;
    const src = ',source=' + escapeKey(pipeline.source);
    for (const text of [escapeName(pipeline.source), ',service=', src, src + ',operation=', ...[F_TRACE, F_SPAN, F_PARENT, F_RESOURCE, F_START, F_DURATION, F_MESSAGE].map((b) => b.toString())]) f.add(text);
    for (const t of TYPE_NAMES) for (const status of ['ok', 'error']) f.add(`,source_type=custom,span_type=${t === '' ? 'entry' : t},status=${status}`);
  }

  /** Writes the request's lines into `out` and returns the spans dropped (none: no filter runs here), or undefined, having written nothing. */
  write(req: TraceRequest, out: LineBuf, tags: Record<string, string>, now: bigint): Record<string, number> | undefined {
    if (!this.enabled || req.route === this.pathV1) return undefined;
    const ct = req.contentType;
    if (ct.includes('protobuf') || (ct !== '' && !ct.includes('json'))) return undefined;
    if (!this.core(tags)) return undefined;
    const body = req.body;
    if (!isUtf8(body)) return undefined;
    if (this.keysFull || this.keys.size > 1500) this.resetKeys();
    for (let c = 0; c < this.coreNames.length; c++) this.coreCanon[c] = this.canonOf(this.coreNames[c]!);
    this.b = body;
    this.bv = viewOf(body);
    this.i = 0;
    this.an = 0;
    this.n = 0;
    this.nt = 0;
    this.ns = 0;
    try {
      this.readArray();
    } catch (e) {
      if (e === DECLINE) return undefined;
      throw e;
    }
    this.group();
    this.emit(out, now, isAscii(body));
    this.b = EMPTY;
    this.bv = EMPTY_VIEW;
    return {};
  }

  /** Prepares the core tags (bytes, hashes); false when they are outside what the path models. */
  private core(tags: Record<string, string>): boolean {
    if (tags === this.coreOf) return this.coreOk;
    this.coreOf = tags;
    this.coreOk = false;
    this.coreText.clear();
    this.coreNames = [];
    this.coreLen = 0;
    for (const k in tags) {
      // `k in Object.prototype` (constructor, toString...): the generic path's `tags[k] === undefined` is false for them
      if (k === '' || k in Object.prototype || /^[0-9]+$/.test(k)) return false;
      const v = tags[k]!;
      // a key with `.` can never equal a span's key (its `.` became `_`); a fixed tag is always there
      if (FIXED_TAG_NAMES.includes(k)) continue;
      const text = v === '' ? '' : ',' + escapeKey(k) + '=' + escapeKey(v);
      this.coreText.add(text);
      // a key with `.` can never be a span's (its `.` became `_`): its id matches none of theirs
      this.coreNames.push(k);
      this.coreLen += Buffer.byteLength(text);
    }
    this.coreOk = true;
    return true;
  }

  // ---- reading ----

  private ws(): void {
    const b = this.b;
    let i = this.i;
    // most JSON has no whitespace between tokens
    if (b[i]! > 0x20) return;
    for (;;) {
      const c = b[i];
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    this.i = i;
  }

  private readArray(): void {
    const b = this.b;
    this.ws();
    if (b[this.i] !== 0x5b) throw DECLINE;
    this.i++;
    this.ws();
    if (b[this.i] === 0x5d) {
      this.i++;
    } else {
      for (;;) {
        this.readSpan();
        this.ws();
        const c = b[this.i];
        this.i++;
        if (c === 0x5d) break;
        if (c !== 0x2c) throw DECLINE;
        this.ws();
      }
    }
    this.ws();
    if (this.i !== b.length) throw DECLINE;
  }

  /** A string at b[i] (a quote): sets sa/sb; decodes escapes into the arena. */
  private str(): void {
    const b = this.b;
    let j = this.i;
    if (b[j] !== 0x22) throw DECLINE;
    const a = ++j;
    let plain = true;
    for (;;) {
      // past the end b[j] is undefined, and so is its class: the checks below decline
      const x = STR_CLASS[b[j]!];
      if (x === 0) j++;
      else if (x === 1) {
        plain = false;
        j++;
      } else break;
    }
    const c = b[j];
    if (c === 0x5c) return this.strEscaped(a);
    if (c !== 0x22) throw DECLINE;
    this.plain = plain;
    let q = this.ns;
    if (q + 2 > this.specials.length) this.moreSpecials(2);
    const sp = this.specials;
    sp[q++] = a - 1;
    sp[q++] = j;
    this.ns = q;
    this.sa = a;
    this.sb = j;
    this.i = j + 1;
  }

  /** Room for `n` more specials. */
  private moreSpecials(n: number): void {
    const bigger = new Int32Array(Math.max(this.specials.length * 2, this.ns + n));
    bigger.set(this.specials.subarray(0, this.ns));
    this.specials = bigger;
  }

  private room(n: number): void {
    if (this.an + n <= this.arena.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.arena.length * 2, this.an + n));
    this.arena.copy(bigger, 0, 0, this.an);
    this.arena = bigger;
  }

  private strEscaped(a: number): void {
    const b = this.b;
    const n = b.length;
    // decoded bytes are never more than the source's
    let j = a;
    let end = a;
    while (end < n && b[end] !== 0x22) end += b[end] === 0x5c ? 2 : 1;
    this.room(end - a);
    // the quotes, each escape's backslash and an escaped `"` or `\\`: at most one a byte
    if (this.ns + (end - a) + 2 > this.specials.length) this.moreSpecials(end - a + 2);
    const sp = this.specials;
    let q = this.ns;
    sp[q++] = a - 1;
    const d = this.arena;
    const start = this.an;
    let w = start;
    for (;;) {
      if (j >= n) throw DECLINE;
      const c = b[j]!;
      if (c === 0x22) break;
      if (c < 0x20) throw DECLINE;
      if (c !== 0x5c) {
        d[w++] = c;
        j++;
        continue;
      }
      const e = b[j + 1];
      sp[q++] = j;
      if (e === 0x22 || e === 0x5c) sp[q++] = j + 1;
      j += 2;
      switch (e) {
        case 0x22:
        case 0x5c:
        case 0x2f:
          d[w++] = e;
          break;
        case 0x62:
          d[w++] = 8;
          break;
        case 0x66:
          d[w++] = 12;
          break;
        case 0x6e:
          d[w++] = 10;
          break;
        case 0x72:
          d[w++] = 13;
          break;
        case 0x74:
          d[w++] = 9;
          break;
        case 0x75: {
          let u = this.hex4(j);
          j += 4;
          if (u >= 0xdc00 && u <= 0xdfff) throw DECLINE;
          if (u >= 0xd800 && u <= 0xdbff) {
            if (b[j] !== 0x5c || b[j + 1] !== 0x75) throw DECLINE;
            const lo = this.hex4(j + 2);
            if (lo < 0xdc00 || lo > 0xdfff) throw DECLINE;
            sp[q++] = j;
            j += 6;
            u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
          }
          if (u < 0x80) d[w++] = u;
          else if (u < 0x800) {
            d[w++] = 0xc0 | (u >> 6);
            d[w++] = 0x80 | (u & 63);
          } else if (u < 0x10000) {
            d[w++] = 0xe0 | (u >> 12);
            d[w++] = 0x80 | ((u >> 6) & 63);
            d[w++] = 0x80 | (u & 63);
          } else {
            d[w++] = 0xf0 | (u >> 18);
            d[w++] = 0x80 | ((u >> 12) & 63);
            d[w++] = 0x80 | ((u >> 6) & 63);
            d[w++] = 0x80 | (u & 63);
          }
          break;
        }
        default:
          throw DECLINE;
      }
    }
    sp[q++] = j;
    this.ns = q;
    this.plain = false;
    this.an = w;
    this.sa = ~start;
    this.sb = ~w;
    this.i = j + 1;
  }

  private hex4(j: number): number {
    const b = this.b;
    let u = 0;
    for (let k = 0; k < 4; k++) {
      const v = HEXV[b[j + k] ?? 0]!;
      if (v < 0) throw DECLINE;
      u = (u << 4) | v;
    }
    return u;
  }

  /** Whether the last string equals ASCII `s`. */
  private strIs(s: string): boolean {
    const buf = this.sa >= 0 ? this.b : this.arena;
    const a = this.sa >= 0 ? this.sa : ~this.sa;
    const e = this.sa >= 0 ? this.sb : ~this.sb;
    if (e - a !== s.length) return false;
    for (let k = 0; k < s.length; k++) if (buf[a + k] !== s.charCodeAt(k)) return false;
    return true;
  }

  private expect(c: number): void {
    this.ws();
    if (this.b[this.i] !== c) throw DECLINE;
    this.i++;
    this.ws();
  }

  private isNull(): boolean {
    const b = this.b;
    const i = this.i;
    if (b[i] === 0x6e && b[i + 1] === 0x75 && b[i + 2] === 0x6c && b[i + 3] === 0x6c) {
      this.i = i + 4;
      return true;
    }
    return false;
  }

  /** A non-negative integer below 2^53 (JSON grammar: no leading zero), or null → 0. */
  private uint(): number {
    if (this.isNull()) return 0;
    const b = this.b;
    let i = this.i;
    const a = i;
    let v = 0;
    for (;;) {
      const c = b[i];
      // undefined past the end: `undefined < 0x30` is false, so it is tested for itself
      if (c === undefined || c < 0x30 || c > 0x39) break;
      v = v * 10 + (c - 0x30);
      i++;
    }
    const c = b[i];
    if (i === a || i - a > 16 || (b[a] === 0x30 && i - a > 1) || c === 0x2e || c === 0x65 || c === 0x45 || v > Number.MAX_SAFE_INTEGER) throw DECLINE;
    this.i = i;
    return v;
  }

  /** A hex id's range, checked as normId checks it: sets sa/sb (an empty range for null or "", allowed only where `optional`). */
  private idRange(optional: boolean): void {
    if (this.isNull()) {
      if (!optional) throw DECLINE;
      this.sa = this.sb = 0;
      return;
    }
    this.str();
    const b = this.sa >= 0 ? this.b : this.arena;
    const a = this.sa >= 0 ? this.sa : ~this.sa;
    const e = this.sa >= 0 ? this.sb : ~this.sb;
    const len = e - a;
    if (len === 0) {
      if (!optional) throw DECLINE;
      this.sa = this.sb = 0;
      return;
    }
    if (len > 32) throw DECLINE;
    for (let k = a; k < e; k++) if (HEXV[b[k]!]! < 0) throw DECLINE;
  }

  /** An id range as normId's string. */
  private idText(ra: number, re: number): string {
    if (ra === re) return '0';
    const b = ra >= 0 ? this.b : this.arena;
    const a = ra >= 0 ? ra : ~ra;
    const e = ra >= 0 ? re : ~re;
    const len = e - a;
    const s = b.toString('latin1', a, e).toLowerCase();
    if (len === 16 || len === 32) return s;
    return len < 16 ? ZERO16.slice(len) + s : ZERO32.slice(len) + s;
  }

  /** An id range written as normId's string (hex digits: `| 0x20` lower-cases A–F and keeps 0–9). */
  private writeId(d: Buffer, w: number, ra: number, re: number): number {
    if (ra === re) {
      d[w] = 0x30;
      return w + 1;
    }
    const b = ra >= 0 ? this.b : this.arena;
    const a = ra >= 0 ? ra : ~ra;
    const e = ra >= 0 ? re : ~re;
    const len = e - a;
    const pad = len < 16 ? 16 - len : len < 32 && len !== 16 ? 32 - len : 0;
    for (let k = 0; k < pad; k++) d[w++] = 0x30;
    for (let k = a; k < e; k++) d[w++] = b[k]! | 0x20;
    return w;
  }

  /** Skips any JSON value, checking its grammar. */
  private skip(depth: number): void {
    if (depth > MAX_DEPTH) throw DECLINE;
    const b = this.b;
    const c = b[this.i];
    if (c === 0x22) {
      this.str();
      return;
    }
    if (c === 0x7b) {
      this.i++;
      this.ws();
      if (b[this.i] === 0x7d) {
        this.i++;
        return;
      }
      for (;;) {
        this.str();
        this.expect(0x3a);
        this.skip(depth + 1);
        this.ws();
        const d = b[this.i++];
        if (d === 0x7d) return;
        if (d !== 0x2c) throw DECLINE;
        this.ws();
      }
    }
    if (c === 0x5b) {
      this.i++;
      this.ws();
      if (b[this.i] === 0x5d) {
        this.i++;
        return;
      }
      for (;;) {
        this.skip(depth + 1);
        this.ws();
        const d = b[this.i++];
        if (d === 0x5d) return;
        if (d !== 0x2c) throw DECLINE;
        this.ws();
      }
    }
    if (this.lit('true') || this.lit('false') || this.lit('null')) return;
    this.number();
  }

  private lit(s: string): boolean {
    const b = this.b;
    for (let k = 0; k < s.length; k++) if (b[this.i + k] !== s.charCodeAt(k)) return false;
    this.i += s.length;
    return true;
  }

  /** A JSON number (grammar only). */
  private number(): void {
    const b = this.b;
    let i = this.i;
    if (b[i] === 0x2d) i++;
    const digits = (): void => {
      const a = i;
      while (b[i]! >= 0x30 && b[i]! <= 0x39) i++;
      if (i === a) throw DECLINE;
    };
    if (b[i] === 0x30) i++;
    else digits();
    if (b[i] === 0x2e) {
      i++;
      digits();
    }
    if (b[i] === 0x65 || b[i] === 0x45) {
      i++;
      if (b[i] === 0x2b || b[i] === 0x2d) i++;
      digits();
    }
    this.i = i;
  }

  /** The last string as a span key (K_*), 0 for any other: by length and bytes, no string. */
  private spanKey(): number {
    const buf = this.sa >= 0 ? this.b : this.arena;
    const a = this.sa >= 0 ? this.sa : ~this.sa;
    const e = this.sa >= 0 ? this.sb : ~this.sb;
    const cands = KEYS_BY_LEN[e - a];
    if (cands === undefined) return 0;
    for (let c = 0; c < cands.length; c += 2) {
      const name = cands[c] as Buffer;
      let k = 0;
      while (k < name.length && buf[a + k] === name[k]) k++;
      if (k === name.length) return cands[c + 1] as number;
    }
    return 0;
  }

  private readSpan(): void {
    const b = this.b;
    if (this.n >= MAX_SPANS) throw DECLINE;
    const s = this.n;
    const start = this.i;
    if (b[start] !== 0x7b) throw DECLINE;
    this.i++;
    this.ws();
    let seen = 0;
    let tidA = 0;
    let tidE = 0;
    let sidA = 0;
    let sidE = 0;
    let pidA = 0;
    let pidE = 0;
    let svcA = 0;
    let svcB = 0;
    let nameA = 0;
    let nameB = 0;
    let plainSN = 3;
    let type = 0;
    let ts = 0;
    let dur = 0;
    let err = false;
    const tagFrom = this.nt;
    const specFrom = this.ns;
    if (b[this.i] === 0x7d) throw DECLINE; // no traceId: the generic path answers 400
    for (;;) {
      this.str();
      const k = this.spanKey();
      if (k === 0 || (seen & (1 << k)) !== 0) throw DECLINE;
      seen |= 1 << k;
      this.expect(0x3a);
      switch (k) {
        case K_TRACE:
          this.idRange(false);
          tidA = this.sa;
          tidE = this.sb;
          break;
        case K_ID:
          this.idRange(false);
          sidA = this.sa;
          sidE = this.sb;
          break;
        case K_PARENT:
          this.idRange(true);
          pidA = this.sa;
          pidE = this.sb;
          break;
        case K_KIND:
          if (!this.isNull()) {
            this.str();
            type = this.strIs('SERVER') || this.strIs('CONSUMER') ? T_ENTRY : this.strIs('CLIENT') || this.strIs('PRODUCER') ? T_EXIT : 0;
          }
          break;
        case K_NAME:
          if (!this.isNull()) {
            this.str();
            nameA = this.sa;
            nameB = this.sb;
            if (!this.plain) plainSN &= ~2;
          }
          break;
        case K_TS:
          ts = this.uint();
          break;
        case K_DUR:
          dur = this.uint();
          break;
        case K_LOCAL:
          if (!this.isNull()) {
            this.endpoint();
            svcA = this.sa;
            svcB = this.sb;
            if (!this.plain) plainSN &= ~1;
          }
          break;
        case K_TAGS:
          if (!this.isNull()) err = this.tags();
          break;
        default:
          this.skip(1);
      }
      this.ws();
      const c = b[this.i++];
      if (c === 0x7d) break;
      if (c !== 0x2c) throw DECLINE;
      this.ws();
    }
    if ((seen & (1 << K_TRACE)) === 0 || (seen & (1 << K_ID)) === 0) throw DECLINE;
    this.msgA[s] = start;
    this.msgB[s] = this.i;
    this.svcA[s] = svcA;
    this.svcB[s] = svcB;
    this.nameA[s] = nameA;
    this.nameB[s] = nameB;
    this.plainSN[s] = plainSN;
    this.type[s] = type;
    this.ts[s] = ts;
    this.dur[s] = dur;
    this.err[s] = err;
    this.tagFrom[s] = tagFrom;
    this.tagTo[s] = this.nt;
    this.specFrom[s] = specFrom;
    this.specTo[s] = this.ns;
    this.tidA[s] = tidA;
    this.tidE[s] = tidE;
    this.sidA[s] = sidA;
    this.sidE[s] = sidE;
    this.pidA[s] = pidA;
    this.pidE[s] = pidE;
    this.n = s + 1;
  }

  /** localEndpoint (an object): leaves sa/sb on serviceName ('' when absent). */
  private endpoint(): void {
    const b = this.b;
    if (b[this.i] !== 0x7b) throw DECLINE;
    this.i++;
    this.ws();
    let sa = 0;
    let sb = 0;
    let plain = true;
    let seen = 0;
    if (b[this.i] === 0x7d) this.i++;
    else
      for (;;) {
        this.str();
        const sn = this.strIs('serviceName');
        if (!sn && !this.strIs('ipv4') && !this.strIs('port') && !this.strIs('ipv6')) throw DECLINE;
        this.expect(0x3a);
        if (sn) {
          if ((seen & 1) !== 0) throw DECLINE;
          seen |= 1;
          if (!this.isNull()) {
            this.str();
            sa = this.sa;
            sb = this.sb;
            plain = this.plain;
          }
        } else this.skip(2);
        this.ws();
        const c = b[this.i++];
        if (c === 0x7d) break;
        if (c !== 0x2c) throw DECLINE;
        this.ws();
      }
    this.sa = sa;
    this.sb = sb;
    this.plain = plain;
  }

  /** The tags object: records each tag; returns whether `error` is among them. */
  private tags(): boolean {
    const b = this.b;
    if (b[this.i] !== 0x7b) throw DECLINE;
    this.i++;
    this.ws();
    let err = false;
    const stamp = this.nextStamp();
    if (b[this.i] === 0x7d) {
      this.i++;
      return false;
    }
    let prev = -1;
    for (;;) {
      if (this.nt >= MAX_TAGS) throw DECLINE;
      this.str();
      const guess = prev < 0 ? this.kFirst : this.kNext[prev]!;
      let id: number;
      if (guess >= 0 && this.sa >= 0 && this.kRaw.equals(guess, this.bv, this.sa, this.sb)) id = guess;
      else {
        id = this.keyId();
        if (prev < 0) this.kFirst = id;
        else this.kNext[prev] = id;
      }
      prev = id;
      const f = this.kFlags[id]!;
      if ((f & KF_DECLINE) !== 0) throw DECLINE;
      if ((f & KF_ERROR) !== 0) err = true;
      const cn = this.kCanon[id]!;
      // another key of this span that is the same once `.` becomes `_`: JS object order and last-wins, left to the generic path
      if (this.mark[cn] === stamp) throw DECLINE;
      this.mark[cn] = stamp;
      this.expect(0x3a);
      if (b[this.i] !== 0x22) throw DECLINE; // String(v) of a non-string: left to the generic path
      this.str();
      const t = this.nt++;
      this.kid[t] = id;
      this.vA[t] = this.sa;
      this.vB[t] = this.sb;
      this.vPlain[t] = this.plain;
      const vlen = this.sa >= 0 ? this.sb - this.sa : ~this.sb - ~this.sa;
      const long = vlen > MAX_TAG_VALUE && this.utf16Length() > MAX_TAG_VALUE;
      this.long[t] = long;
      if (long && (f & KF_FIXED_FIELD) !== 0) throw DECLINE;
      this.ws();
      const c = b[this.i++];
      if (c === 0x7d) return err;
      if (c !== 0x2c) throw DECLINE;
      this.ws();
    }
  }

  /** UTF-16 units of the last string (UTF-8). */
  private utf16Length(): number {
    const buf = this.sa >= 0 ? this.b : this.arena;
    const a = this.sa >= 0 ? this.sa : ~this.sa;
    const e = this.sa >= 0 ? this.sb : ~this.sb;
    let n = 0;
    for (let k = a; k < e; k++) {
      const c = buf[k]!;
      if ((c & 0xc0) !== 0x80) n += c >= 0xf0 ? 2 : 1;
    }
    return n;
  }

  /** The last string (a tag key) as a key id: from the cache, else its info is made once. */
  private keyId(): number {
    const buf = this.sa >= 0 ? this.b : this.arena;
    const x = this.sa >= 0 ? this.sa : ~this.sa;
    const y = this.sa >= 0 ? this.sb : ~this.sb;
    if (y - x > MAX_KEY) throw DECLINE;
    const h = BytesMap.hash(buf, this.sa >= 0 ? this.bv : viewOf(buf), x, y);
    const id = this.keys.get(buf, x, y, h);
    if (id >= 0) return id;
    const raw = buf.toString('utf8', x, y);
    const key = raw.replaceAll('.', '_');
    let f = 0;
    if (key === '' || FIXED_TAG_NAMES.includes(key)) f |= KF_SKIP;
    if (key === '') f |= KF_EMPTY;
    if (/^[0-9]+$/.test(key) || key === '__proto__') f |= KF_DECLINE;
    if (raw === 'error') f |= KF_ERROR;
    if (FIXED_FIELDS.includes(key)) f |= KF_FIXED_FIELD;
    const n = this.kEsc.off.length;
    if (!this.keys.set(buf, x, y, h, n)) {
      this.keysFull = true;
      throw DECLINE; // the cache is full: this request goes the generic way, the next one starts a new cache
    }
    this.kEsc.add(',' + escapeKey(key) + '=');
    this.kRaw.add(raw);
    this.kNext.push(-1);
    this.kFlags.push(f);
    this.kCanon.push(this.canonOf(key));
    return n;
  }

  /** An id per point key. */
  private canonOf(key: string): number {
    let c = this.canon.get(key);
    if (c === undefined) {
      c = this.canon.size;
      this.canon.set(key, c);
      if (c >= this.mark.length) {
        const bigger = new Int32Array(this.mark.length * 2);
        bigger.set(this.mark);
        this.mark = bigger;
      }
    }
    return c;
  }

  /** A stamp no key is marked with yet. */
  private nextStamp(): number {
    if (this.stamp === 0x7fff_ffff) {
      this.mark.fill(0);
      this.stamp = 0;
    }
    return ++this.stamp;
  }

  private resetKeys(): void {
    this.keys = new BytesMap(1 << 12, MAX_KEY, 1 << 18);
    this.keysFull = false;
    this.kEsc.clear();
    this.kRaw.clear();
    this.kNext = [];
    this.kFirst = -1;
    this.kFlags = [];
    this.kCanon = [];
    this.canon.clear();
  }

  // ---- grouping and span types ----

  /** Orders spans as groupTraces does (by trace, in order of first arrival) in `order`, and derives span types. */
  private order: number[] = [];
  private traceOf: number[] = [];

  /** Whether two ranges (arena ones as ~offsets) hold the same bytes. */
  private sameRange(a: number, ae: number, c: number, ce: number): boolean {
    const x = a >= 0 ? this.b : this.arena;
    const y = c >= 0 ? this.b : this.arena;
    if (a < 0) {
      a = ~a;
      ae = ~ae;
    }
    if (c < 0) {
      c = ~c;
      ce = ~ce;
    }
    const len = ae - a;
    if (ce - c !== len) return false;
    for (let k = 0; k < len; k++) if (x[a + k] !== y[c + k]) return false;
    return true;
  }
  private group(): void {
    const n = this.n;
    const order = this.order;
    order.length = 0;
    // each trace's first and last span so far, by the trace's index; a trace's index by its id (normId's string)
    const byId = new Map<string, number>();
    const heads: number[] = [];
    const tails: number[] = [];
    const traceOf = this.traceOf;
    const next = this.next;
    for (let s = 0; s < n; s++) {
      next[s] = -1;
      let t: number | undefined;
      // the same id bytes as the span before (a trace's spans usually come together): the same trace, no string
      if (s > 0 && this.sameRange(this.tidA[s - 1]!, this.tidE[s - 1]!, this.tidA[s]!, this.tidE[s]!)) t = traceOf[s - 1]!;
      else {
        const id = this.idText(this.tidA[s]!, this.tidE[s]!);
        t = byId.get(id);
        if (t === undefined) {
          t = heads.length;
          byId.set(id, t);
          heads.push(s);
          tails.push(s);
          traceOf[s] = t;
          continue;
        }
      }
      traceOf[s] = t;
      next[tails[t]!] = s;
      tails[t] = s;
    }
    const trace: number[] = [];
    for (const h of heads) {
      trace.length = 0;
      for (let s = h; s >= 0; s = next[s]!) trace.push(s);
      this.derive(trace);
      for (const s of trace) order.push(s);
    }
  }

  /** filters.ts deriveSpanTypes on span indexes (both of its branches, which differ when a span is its own parent). */
  private derive(trace: number[]): void {
    const type = this.type;
    let need = false;
    for (const s of trace) if (type[s] === 0) need = true;
    if (!need) return;
    const sid = this.spanId;
    const pid = this.parentId;
    for (const s of trace) {
      sid[s] = this.idText(this.sidA[s]!, this.sidE[s]!);
      pid[s] = this.idText(this.pidA[s]!, this.pidE[s]!);
    }
    if (trace.length <= 16) {
      for (const s of trace) {
        if (type[s] !== 0) continue;
        let p = -1;
        for (const x of trace) if (sid[x] === pid[s] && x !== s) p = x;
        if (p < 0 || !this.sameService(p, s)) type[s] = T_ENTRY;
        else {
          let parent = false;
          for (const x of trace) if (pid[x] === sid[s]) parent = true;
          type[s] = parent ? T_LOCAL : T_EXIT;
        }
      }
      return;
    }
    const byId = new Map<string, number>();
    const parents = new Set<string>();
    for (const s of trace) {
      byId.set(sid[s]!, s);
      parents.add(pid[s]!);
    }
    for (const s of trace) {
      if (type[s] !== 0) continue;
      const p = byId.get(pid[s]!);
      if (p === undefined || p === s || !this.sameService(p, s)) type[s] = T_ENTRY;
      else type[s] = parents.has(sid[s]!) ? T_LOCAL : T_EXIT;
    }
  }

  private sameService(p: number, s: number): boolean {
    const pa = this.svcA[p]!;
    const sa = this.svcA[s]!;
    const pb = pa >= 0 ? this.b : this.arena;
    const sbuf = sa >= 0 ? this.b : this.arena;
    const x = pa >= 0 ? pa : ~pa;
    const xe = pa >= 0 ? this.svcB[p]! : ~this.svcB[p]!;
    const y = sa >= 0 ? sa : ~sa;
    const ye = sa >= 0 ? this.svcB[s]! : ~this.svcB[s]!;
    if (xe - x !== ye - y) return false;
    return pb.compare(sbuf, y, ye, x, xe) === 0;
  }

  // ---- writing ----

  private emit(out: LineBuf, now: bigint, ascii: boolean): void {
    const b = this.b;
    const nowText = Buffer.from(String(now));
    for (const s of this.order) {
      const ma = this.msgA[s]!;
      const mb = this.msgB[s]!;
      // a bound on the whole line (later pieces must not grow the buffer: LineBuf keeps only finished lines when it does):
      // service, name and tags come from the span's text and at most double when escaped, the name twice
      // more (operation and resource), the message doubles; ids (padded) and fixed pieces fit in the rest
      const fixed = this.fixed;
      out.reserve(6 * (mb - ma) + fixed.used + this.coreLen + 640);
      const d = out.data;
      const dv = out.view();
      let w = out.off;
      w = fixed.put(dv, w, P_HEAD);
      const sa = this.svcA[s]!;
      const sb = this.svcB[s]!;
      const plainSN = this.plainSN[s]!;
      if (sa !== sb) w = this.tagValue(d, dv, fixed.put(dv, w, P_SERVICE), sa, sb, (plainSN & 1) !== 0);
      const na = this.nameA[s]!;
      const nb = this.nameB[s]!;
      if (na !== nb) w = this.tagValue(d, dv, fixed.put(dv, w, P_SOURCE_OPERATION), na, nb, (plainSN & 2) !== 0);
      else w = fixed.put(dv, w, P_SOURCE);
      w = fixed.put(dv, w, P_TYPES + 2 * this.type[s]! + (this.err[s] ? 1 : 0));
      const t0 = this.tagFrom[s]!;
      const t1 = this.tagTo[s]!;
      let longs = false;
      const stamp = this.nextStamp();
      const mark = this.mark;
      for (let t = t0; t < t1; t++) {
        // a long value is a field, whatever its name
        if (this.long[t]) {
          longs = true;
          continue;
        }
        const id = this.kid[t]!;
        // a core tag with this key is not added (a long value is a field, not a point tag: it does not count)
        mark[this.kCanon[id]!] = stamp;
        if ((this.kFlags[id]! & KF_SKIP) !== 0) continue;
        const va = this.vA[t]!;
        const vb = this.vB[t]!;
        if (va === vb) continue;
        w = this.kEsc.put(dv, w, id);
        // a value in the body with nothing to escape is copied as it is: its closing quote is followed by at least the
        // tags' `}`, the span's `}` and the array's `]`, so copyWords() reads inside the body
        if (this.vPlain[t]) w = copyWords(dv, w, this.bv, va, vb - va);
        else if (va >= 0) w = escapeTagBytes(d, w, b, va, vb);
        else w = escapeTagBytes(d, w, this.arena, ~va, ~vb);
      }
      const core = this.coreText;
      for (let c = 0; c < core.len.length; c++) if (core.len[c] !== 0 && mark[this.coreCanon[c]!] !== stamp) w = core.put(dv, w, c);
      w = fixed.put(dv, w, P_TRACE);
      w = this.writeId(d, w, this.tidA[s]!, this.tidE[s]!);
      w = fixed.put(dv, w, P_SPAN);
      w = this.writeId(d, w, this.sidA[s]!, this.sidE[s]!);
      w = fixed.put(dv, w, P_PARENT);
      w = this.writeId(d, w, this.pidA[s]!, this.pidE[s]!);
      w = fixed.put(dv, w, P_RESOURCE);
      // a string in the body has no `"` or `\\` (str() takes those to the arena): copied as it is
      if (na !== nb) w = na >= 0 ? copyWords(dv, w, this.bv, na, nb - na) : escapeStrInto(d, dv, w, this.arena, viewOf(this.arena), ~na, ~nb);
      w = fixed.put(dv, w, P_START);
      const ts = this.ts[s]!;
      w = writeUint(d, dv, w, ts);
      w = fixed.put(dv, w, P_DURATION);
      w = writeUint(d, dv, w, this.dur[s]!);
      d[w++] = 0x69; // i
      // LineBuf.point writes a Utf8String message (an ASCII body's) after the other fields, a string one in order
      if (ascii) {
        if (longs) w = this.longFields(d, dv, w, t0, t1);
        if (this.keep) w = this.message(d, dv, w, s);
      } else {
        if (this.keep) w = this.message(d, dv, w, s);
        if (longs) w = this.longFields(d, dv, w, t0, t1);
      }
      d[w++] = 0x20;
      if (ts > 0) {
        w = writeUint(d, dv, w, ts);
        d[w++] = 0x30;
        d[w++] = 0x30;
        d[w++] = 0x30;
      } else w = put(d, w, nowText);
      d[w++] = 0x0a;
      out.off = w;
      out.ends.push(w);
    }
  }

  /**
   * A string (a range, arena ones as ~offsets) escaped as a tag value; copied as it is when `plain` (then it is in the
   * body, and its closing quote is followed by at least the span's `}` and the array's `]`: copyWords() reads inside).
   */
  private tagValue(d: Buffer, dv: DataView, w: number, a: number, e: number, plain: boolean): number {
    if (plain) return copyWords(dv, w, this.bv, a, e - a);
    return a >= 0 ? escapeTagBytes(d, w, this.b, a, e) : escapeTagBytes(d, w, this.arena, ~a, ~e);
  }

  /** The long tag values as string fields, in tag order. */
  private longFields(d: Buffer, dv: DataView, w: number, t0: number, t1: number): number {
    for (let t = t0; t < t1; t++) {
      // fields: the pipeline's tag names do not apply, an empty key is left out
      if (!this.long[t] || (this.kFlags[this.kid[t]!]! & KF_EMPTY) !== 0) continue;
      const va = this.vA[t]!;
      const vbuf = va >= 0 ? this.b : this.arena;
      const x = va >= 0 ? va : ~va;
      const y = va >= 0 ? this.vB[t]! : ~this.vB[t]!;
      w = this.kEsc.put(dv, w, this.kid[t]!);
      d[w++] = 0x22;
      w = escapeStrInto(d, dv, w, vbuf, va >= 0 ? this.bv : viewOf(vbuf), x, y);
      d[w++] = 0x22;
    }
    return w;
  }

  /**
   * The span's text as the message, escaped: the runs between its specials copied 4 bytes at a time, a backslash
   * before each special. A run's copy may write up to 3 bytes past its end (the next piece overwrites them; the
   * line's reserve has room) and read up to 3 past it: a special is always followed by at least the span's `}` and
   * the array's `]`, so the reads stay in the body.
   */
  private message(d: Buffer, dv: DataView, w: number, s: number): number {
    w = this.fixed.put(dv, w, P_MESSAGE);
    const b = this.b;
    const bv = this.bv;
    const sp = this.specials;
    let i = this.msgA[s]!;
    const q1 = this.specTo[s]!;
    for (let q = this.specFrom[s]!; q < q1; q++) {
      const p = sp[q]!;
      w = copyWords(dv, w, bv, i, p - i);
      d[w++] = 0x5c;
      d[w++] = b[p]!;
      i = p + 1;
    }
    const e = this.msgB[s]!;
    while (i < e) d[w++] = b[i++]!;
    d[w++] = 0x22;
    return w;
  }
}


/**
 * Byte strings the lines are made of (fixed pieces, escaped keys, core tags), kept in one buffer so that
 * copyWords() copies them: 4 spare bytes after the last one.
 */
class Pieces {
  data = Buffer.allocUnsafe(1 << 10);
  view = viewOf(this.data);
  used = 0;
  readonly off: number[] = [];
  readonly len: number[] = [];

  /** Adds `text` (UTF-8); returns its id. */
  add(text: string): number {
    const len = Buffer.byteLength(text);
    if (this.used + len + 4 > this.data.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.data.length * 2, this.used + len + 4));
      this.data.copy(bigger, 0, 0, this.used);
      this.data = bigger;
      this.view = viewOf(bigger);
    }
    this.off.push(this.used);
    this.len.push(len);
    this.used += this.data.write(text, this.used);
    return this.off.length - 1;
  }

  /** Whether piece `id` holds the bytes src[a, e) (src's DataView). */
  equals(id: number, src: DataView, a: number, e: number): boolean {
    const len = e - a;
    if (this.len[id] !== len) return false;
    const v = this.view;
    const o = this.off[id]!;
    let k = 0;
    for (; k + 4 <= len; k += 4) if (v.getUint32(o + k, true) !== src.getUint32(a + k, true)) return false;
    for (; k < len; k++) if (v.getUint8(o + k) !== src.getUint8(a + k)) return false;
    return true;
  }

  clear(): void {
    this.used = 0;
    this.off.length = 0;
    this.len.length = 0;
  }

  /** Piece `id` at dst[w]; returns the end (see copyWords: up to 3 bytes past it are written). */
  put(dst: DataView, w: number, id: number): number {
    return copyWords(dst, w, this.view, this.off[id]!, this.len[id]!);
  }
}

// the fixed pieces' ids (the order the constructor adds them in)
const P_HEAD = 0;
const P_SERVICE = 1;
const P_SOURCE = 2;
const P_SOURCE_OPERATION = 3;
const P_TRACE = 4;
const P_SPAN = 5;
const P_PARENT = 6;
const P_RESOURCE = 7;
const P_START = 8;
const P_DURATION = 9;
const P_MESSAGE = 10;
/** `,source_type=custom,span_type=<type>,status=<ok|error>`: P_TYPES + 2·type + (error ? 1 : 0). */
const P_TYPES = 11;

/**
 * src[a, a + len) copied to dst at w, 4 bytes at a time: up to 3 bytes past the end are read (the caller
 * knows they are there) and written (the next piece overwrites them; the line's reserve has room). Returns the end.
 */
function copyWords(dst: DataView, w: number, src: DataView, a: number, len: number): number {
  for (let k = 0; k < len; k += 4) dst.setUint32(w + k, src.getUint32(a + k, true), true);
  return w + len;
}
