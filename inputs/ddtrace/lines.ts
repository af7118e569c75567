/**
 * ddtrace v0.3/v0.4 msgpack straight to line protocol: the trace workers'
 * fast path. The generic path (decode.ts → convert.ts → the shared pipeline
 * → LineBuf.point) builds a JS object for every span, its meta map and every
 * string in it, then a point, then escapes it all again; at ~150k spans/s
 * that was ~9 µs of a worker's CPU per span. Here each span's map is read once
 * as bytes: the values a point needs are kept as offsets into the body, meta
 * keys are classified by their bytes (a cache, so no string per key), and the
 * line is written from those bytes, escaped as it is copied.
 *
 * The lines are byte for byte what the generic path writes (lines.test.ts
 * compares the two on random payloads and options). Whatever this path does
 * not model returns `undefined` before anything is written, and the caller
 * runs the generic path, which also gives the 4xx answers:
 * - a body that is not an array of arrays of maps, or truncated, trailing
 *   bytes, ext types, 0xc1, nesting deeper than {@link MAX_DEPTH}, a map key
 *   that is bin or a container (the shapes msgjson.ts also refuses);
 * - a span or meta key that is not a str;
 * - ids, start, duration or error given as str or float (start and duration
 *   also when negative or past 2^53 µs); service, name, resource or type that
 *   are not str or nil;
 * - invalid UTF-8 in a value the point uses;
 * - a meta key the point uses that appears twice in one span, or a tag or
 *   field name that JS objects would order first (array-index-like);
 * - more than {@link MAX_SPANS} spans or {@link MAX_ENTRIES} used meta entries.
 * Filters run on small span objects built only when an option that filters is
 * set (TraceFilters.check, the same code as the generic path).
 */
import { isUtf8 } from 'node:buffer';
import { escapeStrInto, viewOf, type LineBuf } from '../../agent/model/linebuf.js';
import { escapeKey, escapeName } from '../../agent/model/lineproto.js';
import { FIXED_TAGS, type TraceProcessor } from '../../agent/services/trace/processor.js';
import type { TraceRequest } from '../../agent/services/trace/offthread.js';
import type { TraceSpan } from '../../agent/services/trace/span.js';
import { BytesMap } from '../../agent/services/trace/bytes-map.js';
import { F_DURATION, F_MESSAGE, F_PARENT, F_RESOURCE, F_SPAN, F_START, F_TRACE, HEX, indexLike, putBytes as put, tagValue } from '../../agent/services/trace/span-line.js';
import type { DdtraceConfig } from './config.js';
import { DdConverter, SOURCE_TYPES, type ConvertOptions } from './convert.js';
import { writeU64, writeUint } from '../../agent/services/trace/digits.js';
import { startIds, writeSpanEscaped, type Arena } from './msgjson.js';
import { convertOptions, requestTags } from './request.js';

/** Spans of one request the fast path takes (bounds its arrays). */
export const MAX_SPANS = 65_536;
/** Meta entries that become tags or fields, per request. */
export const MAX_ENTRIES = 1 << 20;
/** Nesting inside a span that the value skipper follows. */
export const MAX_DEPTH = 100;
/** Over this many UTF-16 units a meta value becomes a field instead of a tag (convert.ts). */
const MAX_TAG_VALUE = 1024;

// msgpack value classes (head())
const T_BAD: number = 0;
const T_STR: number = 1;
const T_NIL: number = 2;
const T_BOOL: number = 3;
const T_UINT: number = 4; // hi/lo; w64 for uint64
const T_NINT: number = 5; // negative, hi/lo two's complement; w64 for int64
const T_FLOAT: number = 6;
const T_MAP: number = 7;
const T_ARR: number = 8;
const T_BIN: number = 9;

// span keys
const K_OTHER = 0;
const K_SERVICE = 1;
const K_NAME = 2;
const K_RESOURCE = 3;
const K_TRACE = 4;
const K_SPAN = 5;
const K_PARENT = 6;
const K_START = 7;
const K_DURATION = 8;
const K_ERROR = 9;
const K_META = 10;
const K_METRICS = 11;
const K_TYPE = 12;
const SPAN_KEYS: [string, number][] = [
  ['service', K_SERVICE],
  ['name', K_NAME],
  ['resource', K_RESOURCE],
  ['trace_id', K_TRACE],
  ['span_id', K_SPAN],
  ['parent_id', K_PARENT],
  ['start', K_START],
  ['duration', K_DURATION],
  ['error', K_ERROR],
  ['meta', K_META],
  ['metrics', K_METRICS],
  ['type', K_TYPE],
];
const KEY_BYTES = SPAN_KEYS.map(([k, id]) => ({ b: Buffer.from(k), id }));
const PRIORITY = Buffer.from('_sampling_priority_v1');

// what a meta key is used for (a bit set)
const USE_TAG = 1; // a tag (or a field when the value is long)
const USE_FIELD = 2; // a field (error.*)
const USE_HTTP = 4; // http.status_code, for omit_err_status
const USE_ORIGIN = 8; // _dd.origin
const USE_TID = 16; // _dd.p.tid
const USE_BAD = 32; // the fast path does not model it

const EMPTY = Buffer.alloc(0);

/** Growable typed arrays of per-span and per-entry state (struct of arrays). */
class Spans {
  cap = 0;
  // span map's range in the body (for sizing the line)
  mapS = new Int32Array(0);
  mapE = new Int32Array(0);
  svcS = new Int32Array(0);
  svcE = new Int32Array(0);
  nameS = new Int32Array(0);
  nameE = new Int32Array(0);
  resS = new Int32Array(0);
  resE = new Int32Array(0);
  /** Index into the writer's source-type pieces. */
  srcType = new Int32Array(0);
  tidHi = new Uint32Array(0);
  tidLo = new Uint32Array(0);
  sidHi = new Uint32Array(0);
  sidLo = new Uint32Array(0);
  pidHi = new Uint32Array(0);
  pidLo = new Uint32Array(0);
  startUs = new Float64Array(0);
  durUs = new Float64Array(0);
  err = new Uint8Array(0);
  /** 0 no `_sampling_priority_v1`, 1 a number ≤ 0 (rejected), 2 anything else. */
  prio = new Uint8Array(0);
  /** Start of the value of http.status_code / _dd.origin / _dd.p.tid (-1 none or not a str), and end. */
  httpS = new Int32Array(0);
  httpE = new Int32Array(0);
  origS = new Int32Array(0);
  origE = new Int32Array(0);
  ptidS = new Int32Array(0);
  ptidE = new Int32Array(0);
  /** The span's entries: [entFrom, entTo). */
  entFrom = new Int32Array(0);
  entTo = new Int32Array(0);
  /** 0 entry, 1 local, 2 exit (deriveSpanTypes). */
  kind = new Uint8Array(0);

  ensure(n: number): void {
    if (n <= this.cap) return;
    let cap = Math.max(256, this.cap);
    while (cap < n) cap *= 2;
    this.resize(cap);
  }

  /** Back to a small size after a large request. */
  shrink(): void {
    if (this.cap > 4096) this.resize(4096);
  }

  private resize(cap: number): void {
    const self = this as unknown as Record<string, unknown>;
    for (const k of Object.keys(this)) {
      if (!ArrayBuffer.isView(self[k])) continue;
      const a = self[k] as Int32Array; // or another typed array: the same calls work on each
      const b = new (a.constructor as Int32ArrayConstructor)(cap);
      b.set(a.subarray(0, Math.min(a.length, cap)));
      self[k] = b;
    }
    this.cap = cap;
  }
}

/** A tag or field name: its escaped pieces and the stamps that tell whether a span has set it. */
interface Name {
  text: string;
  /** `,name=` (a tag). */
  tag: Buffer;
  /** `,name="` (a string field). */
  field: Buffer;
  /** ignore_tags leaves it out; a pipeline tag (service, status...) is never copied from a span. */
  dropTag: boolean;
  /** The point's own fields have this name already (trace_id..., message), or it is empty. */
  dropField: boolean;
}

/** Per request and trace, for line(). */
interface LineCtx {
  /** The trace's `_dd.p.tid`, 16 hex digits. */
  tid: Buffer | undefined;
  /** The message writer's view of the line buffer. */
  arena: Arena;
  /** The tracer's header tags (`,language=...`). */
  req: { id: number; bytes: Buffer }[];
  /** ` <now>\n`: the time of spans without a start. */
  now: Buffer;
  /** Room a line needs beyond what its span's bytes can grow to. */
  fixedLen: number;
}

/** What the generic path reads of a trace, for TraceFilters.check(). */
type FilterSpan = Pick<TraceSpan, 'traceId' | 'service' | 'resource' | 'error' | 'httpStatusCode' | 'origin'>;

export class DdLineWriter {
  private readonly converter: DdConverter;
  private readonly keys = new BytesMap();
  /** Per key class: USE_* bits and the name it writes (-1 none). */
  private useOf: number[] = [];
  private nameOf: number[] = [];
  private readonly names: Name[] = [];
  private readonly nameIds = new Map<string, number>();
  private maxName = 0;
  /** Stamps per name: the span (gen) whose tags / fields / point tags have it, and which entry holds it. */
  private tagGen: Int32Array = new Int32Array(64);
  private fieldGen: Int32Array = new Int32Array(64);
  private ptGen: Int32Array = new Int32Array(64);
  private tagEnt: Int32Array = new Int32Array(64);
  private fieldEnt: Int32Array = new Int32Array(64);
  private keyGen: Int32Array = new Int32Array(64);
  private gen = 0;
  private readonly types = new BytesMap();
  private readonly typePieces: Buffer[] = [];
  private readonly spans = new Spans();
  // entries: key class, value range, long value
  private entCls: Int32Array = new Int32Array(1024);
  private entS: Int32Array = new Int32Array(1024);
  private entE: Int32Array = new Int32Array(1024);
  private entLong: Uint8Array = new Uint8Array(1024);
  private nEnt = 0;
  /** Set when the caches were emptied during a scan: its entries refer to classes that are gone. */
  private forgotten = false;
  private coreFor: Record<string, string> | undefined;
  private core: { id: number; fixed: boolean; bytes: Buffer }[] = [];
  private readonly measurement: Buffer;
  private readonly src: Buffer;
  private readonly opts: ConvertOptions;
  // head() results
  private t = T_BAD;
  private a = 0;
  private b = 0;
  private hi = 0;
  private lo = 0;
  private w64 = false;
  private f = 0;
  private body: Buffer = EMPTY;
  private dv = viewOf(this.body);

  constructor(
    cfg: DdtraceConfig,
    private readonly pipeline: TraceProcessor,
  ) {
    this.opts = convertOptions(cfg);
    this.converter = new DdConverter(this.opts);
    this.measurement = Buffer.from(escapeName(pipeline.source));
    this.src = Buffer.from(pipeline.source === '' ? '' : `,source=${escapeKey(pipeline.source)}`);
  }

  /**
   * Writes the request's spans as lines into `out` and returns the spans
   * dropped by reason; undefined (nothing written) when the fast path does not
   * take this request.
   */
  write(req: TraceRequest, out: LineBuf, coreTags: Record<string, string>, now: bigint): Record<string, number> | undefined {
    if (req.route.includes('v0.5') || !req.contentType.includes('msgpack') || req.body.length === 0) return undefined;
    if (coreTags !== this.coreFor && !this.setCore(coreTags)) return undefined;
    this.body = req.body;
    this.dv = viewOf(req.body);
    try {
      const traceEnds = this.scan();
      if (traceEnds === undefined) return undefined;
      return this.emit(traceEnds, req.headers, out, now);
    } finally {
      this.spans.shrink();
      if (this.entCls.length > 1 << 16) this.resizeEntries(1024); // back to small after a large request
      this.body = EMPTY; // the request's body is not kept
    }
  }

  /** Prepares the core's tags; false when one has an array-index-like key (JS objects would reorder it). */
  private setCore(tags: Record<string, string>): boolean {
    const core: typeof this.core = [];
    for (const k in tags) {
      if (indexLike(k)) return false;
      const v = tags[k]!;
      core.push({ id: this.nameId(k), fixed: FIXED_TAGS.has(k), bytes: Buffer.from(k === '' || v === '' ? '' : `,${escapeKey(k)}=${escapeKey(v)}`) });
    }
    this.core = core;
    this.coreFor = tags;
    return true;
  }

  private nameId(text: string): number {
    let id = this.nameIds.get(text);
    if (id !== undefined) return id;
    id = this.names.length;
    const blocked = text === '' || text === 'trace_id' || text === 'span_id' || text === 'parent_id' || text === 'resource' || text === 'start' || text === 'duration' || (text === 'message' && this.opts.message);
    const name: Name = { text, tag: Buffer.from(`,${escapeKey(text)}=`), field: Buffer.from(`,${escapeKey(text)}="`), dropTag: FIXED_TAGS.has(text) || this.pipeline.tagIgnored(text), dropField: blocked };
    this.names.push(name);
    this.nameIds.set(text, id);
    this.maxName = Math.max(this.maxName, name.field.length);
    if (id >= this.tagGen.length) {
      const grow = (a: Int32Array): Int32Array => {
        const b = new Int32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.tagGen = grow(this.tagGen);
      this.fieldGen = grow(this.fieldGen);
      this.ptGen = grow(this.ptGen);
      this.tagEnt = grow(this.tagEnt);
      this.fieldEnt = grow(this.fieldEnt);
    }
    return id;
  }

  /** The class of meta key body[s, e) (a str), creating it on first sight. */
  private keyClass(s: number, e: number): number {
    const body = this.body;
    const h = BytesMap.hash(body, this.dv, s, e);
    const c = this.keys.get(body, s, e, h);
    if (c >= 0) return c;
    if (this.useOf.length >= 10_000 || this.names.length >= 20_000) this.forget(); // bounded: keys come from senders
    const id = this.useOf.length;
    let use = 0;
    let name = -1;
    const bytes = body.subarray(s, e);
    if (!isUtf8(bytes)) use = USE_BAD; // msgpackr's decoder may not read it as Buffer.toString does
    else {
      let k = bytes.toString('utf8');
      if (k === '__proto__') k = '__proto_'; // msgpackr renames it
      const kc = this.converter.classify(k);
      if (kc !== null) {
        const text = kc.tag ?? kc.field!;
        use = kc.tag !== undefined ? USE_TAG : USE_FIELD;
        if (indexLike(text)) use = USE_BAD;
        else name = this.nameId(text);
      }
      if (k === 'http.status_code') use |= USE_HTTP;
      else if (k === '_dd.origin') use |= USE_ORIGIN;
      else if (k === '_dd.p.tid') use |= USE_TID;
    }
    this.useOf.push(use);
    this.nameOf.push(name);
    if (id >= this.keyGen.length) {
      const b = new Int32Array(this.keyGen.length * 2);
      b.set(this.keyGen);
      this.keyGen = b;
    }
    this.keyGen[id] = 0;
    if (!this.keys.set(body, s, e, h, id)) this.forget();
    return id;
  }

  /** Drops the key classes and names (between requests' scans only: entries refer to them). */
  private forget(): void {
    this.keys.clear();
    this.useOf = [];
    this.nameOf = [];
    this.names.length = 0;
    this.nameIds.clear();
    this.maxName = 0;
    this.coreFor = undefined;
    this.core = [];
    this.nEnt = 0;
    this.forgotten = true;
  }

  /** The source_type piece of type body[s, e). */
  private sourceType(s: number, e: number): number {
    const body = this.body;
    const h = BytesMap.hash(body, this.dv, s, e);
    let v = this.types.get(body, s, e, h);
    if (v >= 0) return v;
    const type = s === e ? '' : body.toString('utf8', s, e);
    const st = SOURCE_TYPES.get(type) ?? 'custom';
    v = this.typePieces.findIndex((p) => p.toString() === `,source_type=${st}`);
    if (v < 0) {
      v = this.typePieces.length;
      this.typePieces.push(Buffer.from(`,source_type=${escapeKey(st)}`));
    }
    if (!this.types.set(body, s, e, h, v)) this.types.clear();
    return v;
  }

  /**
   * Reads the msgpack header at p into t/a/b/hi/lo/w64/f; returns the
   * position after a scalar or a str/bin, or after a container's header
   * (with its item count in a); -1 when truncated or not modelled.
   */
  private head(p: number): number {
    const body = this.body;
    const dv = this.dv;
    const n = body.length;
    if (p >= n) return -1;
    const c = body[p]!;
    this.w64 = false;
    if (c < 0x80) {
      this.t = T_UINT;
      this.hi = 0;
      this.lo = c;
      return p + 1;
    }
    if (c >= 0xe0) {
      this.t = T_NINT;
      this.hi = 0xffff_ffff;
      this.lo = (c - 256) >>> 0;
      return p + 1;
    }
    if (c < 0x90) {
      this.t = T_MAP;
      this.a = c & 0x0f;
      return p + 1;
    }
    if (c < 0xa0) {
      this.t = T_ARR;
      this.a = c & 0x0f;
      return p + 1;
    }
    if (c < 0xc0) {
      this.t = T_STR;
      this.a = p + 1;
      this.b = p + 1 + (c & 0x1f);
      return this.b <= n ? this.b : -1;
    }
    switch (c) {
      case 0xc0:
        this.t = T_NIL;
        return p + 1;
      case 0xc2:
      case 0xc3:
        this.t = T_BOOL;
        return p + 1;
      case 0xd9:
      case 0xc4:
        return p + 2 > n ? -1 : this.payload(c === 0xd9 ? T_STR : T_BIN, p + 2, body[p + 1]!);
      case 0xda:
      case 0xc5:
        return p + 3 > n ? -1 : this.payload(c === 0xda ? T_STR : T_BIN, p + 3, dv.getUint16(p + 1));
      case 0xdb:
      case 0xc6:
        return p + 5 > n ? -1 : this.payload(c === 0xdb ? T_STR : T_BIN, p + 5, dv.getUint32(p + 1));
      case 0xdc:
      case 0xde:
      case 0xdd:
      case 0xdf: {
        // array/map 16 and 32
        const h = c === 0xdc || c === 0xde ? 3 : 5;
        if (p + h > n) return -1;
        this.t = c === 0xdc || c === 0xdd ? T_ARR : T_MAP;
        this.a = h === 3 ? dv.getUint16(p + 1) : dv.getUint32(p + 1);
        return p + h;
      }
      case 0xcc:
      case 0xcd:
      case 0xce: {
        const size = c === 0xcc ? 1 : c === 0xcd ? 2 : 4;
        if (p + 1 + size > n) return -1;
        this.t = T_UINT;
        this.hi = 0;
        this.lo = c === 0xcc ? body[p + 1]! : c === 0xcd ? dv.getUint16(p + 1) : dv.getUint32(p + 1);
        return p + 1 + size;
      }
      case 0xcf:
        if (p + 9 > n) return -1;
        this.t = T_UINT;
        this.w64 = true;
        this.hi = dv.getUint32(p + 1);
        this.lo = dv.getUint32(p + 5);
        return p + 9;
      case 0xd0:
      case 0xd1:
      case 0xd2: {
        const size = c === 0xd0 ? 1 : c === 0xd1 ? 2 : 4;
        if (p + 1 + size > n) return -1;
        const v = c === 0xd0 ? dv.getInt8(p + 1) : c === 0xd1 ? dv.getInt16(p + 1) : dv.getInt32(p + 1);
        this.t = v < 0 ? T_NINT : T_UINT;
        this.hi = v < 0 ? 0xffff_ffff : 0;
        this.lo = v >>> 0;
        return p + 1 + size;
      }
      case 0xd3:
        if (p + 9 > n) return -1;
        this.w64 = true;
        this.hi = dv.getUint32(p + 1);
        this.lo = dv.getUint32(p + 5);
        this.t = this.hi >= 0x8000_0000 ? T_NINT : T_UINT;
        return p + 9;
      case 0xca:
        if (p + 5 > n) return -1;
        this.t = T_FLOAT;
        this.f = dv.getFloat32(p + 1);
        return p + 5;
      case 0xcb:
        if (p + 9 > n) return -1;
        this.t = T_FLOAT;
        this.f = dv.getFloat64(p + 1);
        return p + 9;
      default:
        return -1; // 0xc1, ext
    }
  }

  /** A str or bin of `len` bytes at `a`: its range, and the position after it (-1 past the body). */
  private payload(t: number, a: number, len: number): number {
    this.t = t;
    this.a = a;
    this.b = a + len;
    return this.b <= this.body.length ? this.b : -1;
  }

  /**
   * Skips the value whose header head() just read (ending at p): returns the
   * position after it, or -1. Map keys inside must be scalars msgpackr turns
   * into property names (str, numbers, nil, bool), as msgjson.ts requires.
   */
  private skipRest(p: number): number {
    if (this.t !== T_MAP && this.t !== T_ARR) return p;
    // items left per open container; a map's items alternate key, value
    const left: number[] = [];
    const isMap: boolean[] = [];
    left.push(this.t === T_MAP ? this.a * 2 : this.a);
    isMap.push(this.t === T_MAP);
    while (left.length > 0) {
      const d = left.length - 1;
      if (left[d] === 0) {
        left.pop();
        isMap.pop();
        continue;
      }
      const key = isMap[d]! && (left[d]! & 1) === 0;
      left[d]!--;
      p = this.head(p);
      if (p < 0) return -1;
      const t = this.t;
      if (t === T_MAP || t === T_ARR) {
        if (key || left.length >= MAX_DEPTH) return -1;
        if (this.a > this.body.length - p) return -1;
        left.push(t === T_MAP ? this.a * 2 : this.a);
        isMap.push(t === T_MAP);
      } else if (key && t === T_BIN) return -1;
    }
    return p;
  }

  /** True when body[a, b) is valid UTF-8 (ASCII checked 4 bytes at a time before isUtf8). */
  private utf8(a: number, b: number): boolean {
    const dv = this.dv;
    let i = a;
    for (; i + 4 <= b; i += 4) if ((dv.getUint32(i, true) & 0x8080_8080) !== 0) return isUtf8(this.body.subarray(a, b));
    for (; i < b; i++) if (this.body[i]! >= 0x80) return isUtf8(this.body.subarray(a, b));
    return true;
  }

  /** UTF-16 length over the tag limit? (for a valid UTF-8 range longer than the limit in bytes). */
  private long(a: number, b: number): boolean {
    if (b - a <= MAX_TAG_VALUE) return false;
    let units = 0;
    const body = this.body;
    for (let i = a; i < b; i++) {
      const c = body[i]!;
      if ((c & 0xc0) !== 0x80) units += c >= 0xf0 ? 2 : 1;
    }
    return units > MAX_TAG_VALUE;
  }

  /** The key id of the span key at body[a, b). */
  private spanKey(a: number, b: number): number {
    const len = b - a;
    const body = this.body;
    for (const k of KEY_BYTES) {
      if (k.b.length !== len) continue;
      let i = 0;
      while (i < len && body[a + i] === k.b[i]) i++;
      if (i === len) return k.id;
    }
    return K_OTHER;
  }

  /**
   * Reads every span of the body into the arrays; returns the end index of
   * each trace's spans, or undefined when the fast path does not take the body.
   */
  private scan(): Int32Array | undefined {
    this.forgotten = false;
    if (this.gen > 1 << 30) {
      // stamps are int32: start them over long before they wrap
      for (const a of [this.tagGen, this.fieldGen, this.ptGen, this.keyGen]) a.fill(0);
      this.gen = 0;
    }
    const body = this.body;
    const n = body.length;
    let p = this.head(0);
    if (p < 0 || this.t !== T_ARR || this.a > n - p) return undefined;
    const traces = this.a;
    const ends = new Int32Array(traces);
    const sp = this.spans;
    let count = 0;
    this.nEnt = 0;
    for (let t = 0; t < traces; t++) {
      p = this.head(p);
      if (p < 0 || this.t !== T_ARR || this.a > n - p) return undefined;
      const len = this.a;
      if (count + len > MAX_SPANS) return undefined;
      sp.ensure(count + len);
      for (let k = 0; k < len; k++) {
        p = this.scanSpan(p, count);
        if (p < 0 || this.forgotten) return undefined;
        count++;
      }
      ends[t] = count;
    }
    return p === n ? ends : undefined;
  }

  /** Reads span i's map at p; returns the position after it or -1. */
  private scanSpan(p: number, i: number): number {
    const sp = this.spans;
    const n = this.body.length;
    sp.mapS[i] = p;
    p = this.head(p);
    if (p < 0 || this.t !== T_MAP || this.a > n - p) return -1;
    let keys = this.a;
    sp.svcS[i] = sp.svcE[i] = sp.nameS[i] = sp.nameE[i] = sp.resS[i] = sp.resE[i] = 0;
    sp.srcType[i] = -1;
    sp.tidHi[i] = sp.tidLo[i] = sp.sidHi[i] = sp.sidLo[i] = sp.pidHi[i] = sp.pidLo[i] = 0;
    sp.startUs[i] = sp.durUs[i] = 0;
    sp.err[i] = 0;
    sp.prio[i] = 0;
    sp.httpS[i] = sp.origS[i] = sp.ptidS[i] = -1;
    sp.entFrom[i] = sp.entTo[i] = this.nEnt;
    const gen = ++this.gen;
    let meta = false;
    while (keys-- > 0) {
      p = this.head(p);
      if (p < 0 || this.t !== T_STR) return -1;
      const key = this.spanKey(this.a, this.b);
      p = this.head(p);
      if (p < 0) return -1;
      const t = this.t;
      switch (key) {
        case K_SERVICE:
        case K_NAME:
        case K_RESOURCE:
        case K_TYPE: {
          let a = 0;
          let b = 0;
          if (t === T_STR) {
            if (!this.utf8(this.a, this.b)) return -1;
            a = this.a;
            b = this.b;
          } else if (t !== T_NIL) return -1;
          if (key === K_SERVICE) (sp.svcS[i] = a), (sp.svcE[i] = b);
          else if (key === K_NAME) (sp.nameS[i] = a), (sp.nameE[i] = b);
          else if (key === K_RESOURCE) (sp.resS[i] = a), (sp.resE[i] = b);
          else sp.srcType[i] = this.sourceType(a, b);
          break;
        }
        case K_TRACE:
        case K_SPAN:
        case K_PARENT: {
          let hi = 0;
          let lo = 0;
          if (t === T_UINT || t === T_NINT) {
            hi = this.hi;
            lo = this.lo;
          } else if (t === T_STR || t === T_FLOAT) return -1;
          else p = this.skipRest(p); // nil, bool, containers, bin: idDec() gives "0"
          if (key === K_TRACE) (sp.tidHi[i] = hi), (sp.tidLo[i] = lo);
          else if (key === K_SPAN) (sp.sidHi[i] = hi), (sp.sidLo[i] = lo);
          else (sp.pidHi[i] = hi), (sp.pidLo[i] = lo);
          break;
        }
        case K_START:
        case K_DURATION: {
          let us = 0;
          if (t === T_UINT) {
            // floor((hi·2^32 + lo) / 1000), exactly: 2^32 = 4294967·1000 + 296
            const big = this.hi * 4294967;
            if (big > 2 ** 53) return -1;
            us = big + Math.floor((this.hi * 296 + this.lo) / 1000);
            if (us > Number.MAX_SAFE_INTEGER) return -1;
          } else if (t === T_NINT || t === T_STR || t === T_FLOAT) return -1;
          else p = this.skipRest(p);
          if (key === K_START) sp.startUs[i] = us;
          else sp.durUs[i] = us;
          break;
        }
        case K_ERROR:
          if (t === T_UINT || t === T_NINT) sp.err[i] = (this.hi | this.lo) !== 0 ? 1 : 0;
          else if (t === T_FLOAT) sp.err[i] = this.f !== 0 ? 1 : 0;
          else if (t === T_STR) return -1;
          else {
            sp.err[i] = 0; // num() of anything else is 0
            p = this.skipRest(p);
          }
          break;
        case K_META:
          if (meta) return -1; // a second meta map replaces the first in a JS object
          meta = true;
          if (t === T_MAP) {
            if (this.a > n - p) return -1;
            p = this.scanMeta(p, this.a, i, gen);
          } else p = this.skipRest(p);
          break;
        case K_METRICS:
          if (t === T_MAP) {
            if (this.a > n - p) return -1;
            p = this.scanMetrics(p, this.a, i);
          } else {
            sp.prio[i] = 0;
            p = this.skipRest(p);
          }
          break;
        default:
          p = this.skipRest(p);
      }
      if (p < 0) return -1;
    }
    sp.mapE[i] = p;
    return p;
  }

  private scanMeta(p: number, pairs: number, i: number, gen: number): number {
    const sp = this.spans;
    while (pairs-- > 0) {
      p = this.head(p);
      if (p < 0 || this.t !== T_STR) return -1;
      const cls = this.keyClass(this.a, this.b);
      if (this.forgotten) return -1;
      const use = this.useOf[cls]!;
      p = this.head(p);
      if (p < 0) return -1;
      if (use === 0) {
        p = this.skipRest(p);
        if (p < 0) return -1;
        continue;
      }
      if (use & USE_BAD) return -1;
      if (this.keyGen[cls] === gen) return -1; // a used key twice in one span
      this.keyGen[cls] = gen;
      if (this.t !== T_STR) {
        p = this.skipRest(p); // not a string: not a tag, field, status code, origin or tid
        if (p < 0) return -1;
        continue;
      }
      const a = this.a;
      const b = this.b;
      if (!this.utf8(a, b)) return -1;
      if (use & USE_HTTP) (sp.httpS[i] = a), (sp.httpE[i] = b);
      if (use & USE_ORIGIN) (sp.origS[i] = a), (sp.origE[i] = b);
      if (use & USE_TID) (sp.ptidS[i] = a), (sp.ptidE[i] = b);
      if (use & (USE_TAG | USE_FIELD)) {
        const name = this.nameOf[cls]!;
        // tags[name] = v, or fields[name] = v: a name set before (another key) keeps its place and takes this value
        const field = (use & USE_FIELD) !== 0 || this.long(a, b);
        const stamps = field ? this.fieldGen : this.tagGen;
        const at = field ? this.fieldEnt : this.tagEnt;
        if (stamps[name] === gen) {
          const e = at[name]!;
          this.entS[e] = a;
          this.entE[e] = b;
          continue;
        }
        stamps[name] = gen;
        if (this.nEnt === this.entCls.length && !this.growEntries()) return -1;
        const e = this.nEnt++;
        at[name] = e;
        this.entCls[e] = cls;
        this.entS[e] = a;
        this.entE[e] = b;
        this.entLong[e] = field ? 1 : 0;
        sp.entTo[i] = this.nEnt;
      }
    }
    return p;
  }

  private growEntries(): boolean {
    const n = this.entCls.length * 2;
    if (n > MAX_ENTRIES) return false;
    this.resizeEntries(n);
    return true;
  }

  /** The entry arrays at `n` slots, keeping what fits. */
  private resizeEntries(n: number): void {
    const g32 = (a: Int32Array): Int32Array => {
      const b = new Int32Array(n);
      b.set(a.subarray(0, Math.min(a.length, n)));
      return b;
    };
    this.entCls = g32(this.entCls);
    this.entS = g32(this.entS);
    this.entE = g32(this.entE);
    const l = new Uint8Array(n);
    l.set(this.entLong.subarray(0, Math.min(this.entLong.length, n)));
    this.entLong = l;
  }

  /** Only `_sampling_priority_v1` matters (the last one in the map, as in a JS object). */
  private scanMetrics(p: number, pairs: number, i: number): number {
    const sp = this.spans;
    const body = this.body;
    sp.prio[i] = 0;
    while (pairs-- > 0) {
      p = this.head(p);
      if (p < 0) return -1;
      let hit = false;
      if (this.t === T_STR) {
        const a = this.a;
        if (this.b - a === PRIORITY.length) {
          let k = 0;
          while (k < PRIORITY.length && body[a + k] === PRIORITY[k]) k++;
          hit = k === PRIORITY.length;
        }
      } else if (this.t === T_MAP || this.t === T_ARR || this.t === T_BIN) return -1;
      p = this.head(p);
      if (p < 0) return -1;
      if (hit) {
        const t = this.t;
        // msgpackr gives a number for every int but the 64-bit ones (strings) and for floats
        const numeric = ((t === T_UINT || t === T_NINT) && !this.w64) || t === T_FLOAT;
        const le0 = t === T_FLOAT ? this.f <= 0 : t === T_NINT || this.lo === 0;
        sp.prio[i] = numeric && le0 ? 1 : 2;
      }
      p = this.skipRest(p);
      if (p < 0) return -1;
    }
    return p;
  }

  /** Filters, span types and lines for the scanned traces. */
  private emit(traceEnds: Int32Array, headers: Record<string, string>, out: LineBuf, now: bigint): Record<string, number> {
    const sp = this.spans;
    const o = this.opts;
    const filters = this.pipeline.filters;
    const dropped: Record<string, number> = { rejected_priority: 0, truncated: 0 };
    const extra = requestTags(headers);
    const req: { id: number; bytes: Buffer }[] = [];
    if (extra) for (const k in extra) req.push({ id: this.nameId(k), bytes: Buffer.from(`,${escapeKey(k)}=${escapeKey(extra[k]!)}`) });
    let fixedLen = 512 + 2 * this.measurement.length + this.src.length;
    for (const c of this.core) fixedLen += c.bytes.length;
    for (const r of req) fixedLen += r.bytes.length;
    const ctx: LineCtx = { tid: undefined, req, now: Buffer.from(` ${now}\n`), fixedLen, arena: { out: out.data, odv: out.view(), o: 0 } };
    startIds(); // msgjson copies recent ids' digits from earlier in `out`
    let from = 0;
    for (let t = 0; t < traceEnds.length; t++) {
      const first = from;
      let end = traceEnds[t]!;
      from = end;
      if (end === first) continue;
      if (!o.keepRejected) {
        let rejected = false;
        for (let i = first; i < end; i++) {
          if (sp.prio[i] !== 0) {
            rejected = sp.prio[i] === 1;
            break;
          }
        }
        if (rejected) {
          dropped.rejected_priority! += end - first;
          continue;
        }
      }
      if (o.maxSpans > 0 && end - first > o.maxSpans) {
        dropped.truncated! += end - first - o.maxSpans;
        end = first + o.maxSpans;
      }
      const tid = o.trace128 ? this.tid(first, end) : undefined;
      ctx.tid = tid;
      if (!filters.trivial) {
        const light: FilterSpan[] = [];
        for (let i = first; i < end; i++) light.push(this.filterSpan(i, tid));
        const why = filters.check(light as TraceSpan[]);
        if (why !== undefined) {
          dropped[why] = (dropped[why] ?? 0) + (end - first);
          continue;
        }
        for (let i = first; i < end; i++) sp.err[i] = light[i - first]!.error ? 1 : 0;
      }
      this.spanTypes(first, end);
      for (let i = first; i < end; i++) this.line(i, ctx, out);
    }
    return dropped;
  }

  /** The trace's `_dd.p.tid` (16 lower-case hex digits) from its first span that has a valid one. */
  private tid(first: number, end: number): Buffer | undefined {
    const sp = this.spans;
    for (let i = first; i < end; i++) {
      const a = sp.ptidS[i]!;
      if (a < 0) continue;
      const s = this.body.toString('latin1', a, sp.ptidE[i]);
      if (/^[0-9a-fA-F]{1,16}$/.test(s)) return Buffer.from(s.toLowerCase().padStart(16, '0'), 'latin1');
    }
    return undefined;
  }

  private str(a: number, b: number): string {
    return a === b ? '' : this.body.toString('utf8', a, b);
  }

  private filterSpan(i: number, tid: Buffer | undefined): FilterSpan {
    const sp = this.spans;
    const o = this.opts;
    const hex = (hi: number, lo: number): string => (hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0'));
    const hi = sp.tidHi[i]!;
    const lo = sp.tidLo[i]!;
    const traceId = tid !== undefined ? tid.toString('latin1') + hex(hi, lo) : o.otelIds || o.hex64 ? hex(hi, lo) : ((BigInt(hi) << 32n) | BigInt(lo)).toString();
    return {
      traceId,
      service: this.str(sp.svcS[i]!, sp.svcE[i]!),
      resource: this.str(sp.resS[i]!, sp.resE[i]!),
      error: sp.err[i] === 1,
      httpStatusCode: sp.httpS[i]! >= 0 ? this.str(sp.httpS[i]!, sp.httpE[i]!) : undefined,
      origin: sp.origS[i]! >= 0 ? this.str(sp.origS[i]!, sp.origE[i]!) : undefined,
    };
  }

  /** x.spanId === s.parentId, on the ids as the point writes them ("0" for no parent). */
  private parentOf(x: number, s: number): boolean {
    const sp = this.spans;
    if (sp.pidHi[s] === 0 && sp.pidLo[s] === 0) return !this.opts.otelIds && sp.sidHi[x] === 0 && sp.sidLo[x] === 0;
    return sp.sidHi[x] === sp.pidHi[s] && sp.sidLo[x] === sp.pidLo[s];
  }

  private sameService(x: number, s: number): boolean {
    const sp = this.spans;
    const a = sp.svcS[x]!;
    const b = sp.svcS[s]!;
    const len = sp.svcE[x]! - a;
    if (sp.svcE[s]! - b !== len) return false;
    const body = this.body;
    for (let k = 0; k < len; k++) if (body[a + k] !== body[b + k]) return false;
    return true;
  }

  /** deriveSpanTypes (filters.ts) on the arrays: linear scans up to 16 spans, maps above. */
  private spanTypes(first: number, end: number): void {
    const sp = this.spans;
    if (end - first <= 16) {
      for (let s = first; s < end; s++) {
        let p = -1;
        for (let x = first; x < end; x++) if (x !== s && this.parentOf(x, s)) p = x;
        if (p < 0 || !this.sameService(p, s)) sp.kind[s] = 0;
        else {
          let parent = false;
          for (let x = first; x < end; x++) if (this.parentOf(s, x)) parent = true;
          sp.kind[s] = parent ? 1 : 2;
        }
      }
      return;
    }
    const spanKey = (i: number): string => `${sp.sidHi[i]}:${sp.sidLo[i]}`;
    const parentKey = (i: number): string => (sp.pidHi[i] === 0 && sp.pidLo[i] === 0 ? (this.opts.otelIds ? '#' : '0:0') : `${sp.pidHi[i]}:${sp.pidLo[i]}`);
    const byId = new Map<string, number>();
    const parents = new Set<string>();
    for (let i = first; i < end; i++) {
      byId.set(spanKey(i), i);
      parents.add(parentKey(i));
    }
    for (let s = first; s < end; s++) {
      const p = byId.get(parentKey(s));
      if (p === undefined || p === s || !this.sameService(p, s)) sp.kind[s] = 0;
      else sp.kind[s] = parents.has(spanKey(s)) ? 1 : 2;
    }
  }

  /** Span i's line, as TraceProcessor.toPoint + the core's tags + LineBuf.point write it. */
  private line(i: number, ctx: LineCtx, out: LineBuf): void {
    const { tid, req } = ctx;
    const sp = this.spans;
    const o = this.opts;
    const body = this.body;
    const bdv = this.dv;
    const gen = ++this.gen;
    const e0 = sp.entFrom[i]!;
    const e1 = sp.entTo[i]!;
    out.reserve(ctx.fixedLen + 2 * (sp.mapE[i]! - sp.mapS[i]!) + (e1 - e0) * (this.maxName + 2));
    let d = out.data;
    let ddv = out.view();
    let w = out.off;
    w = put(d, w, this.measurement);
    // the pipeline's tags
    w = tagValue(d, w, TAG_SERVICE, body, sp.svcS[i]!, sp.svcE[i]!);
    w = put(d, w, this.src);
    w = tagValue(d, w, TAG_OPERATION, body, sp.nameS[i]!, sp.nameE[i]!);
    const st = sp.srcType[i]!;
    w = put(d, w, st < 0 ? CUSTOM_TYPE : this.typePieces[st]!);
    w = put(d, w, SPAN_KINDS[sp.kind[i]!]!);
    w = put(d, w, sp.err[i] === 1 ? STATUS_ERROR : STATUS_OK);
    // the span's tags (meta order), then the tracer's header tags, then the core's
    const names = this.names;
    const ptGen = this.ptGen;
    for (let e = e0; e < e1; e++) {
      if (this.entLong[e] === 1) continue;
      const nm = this.nameOf[this.entCls[e]!]!;
      const name = names[nm]!;
      if (name.dropTag) continue;
      ptGen[nm] = gen;
      if (name.text === '') continue;
      const a = this.entS[e]!;
      const b = this.entE[e]!;
      if (a === b) continue;
      w = tagValue(d, w, name.tag, body, a, b);
    }
    for (const r of req) {
      // added when the span has no such tag (a long value went to fields, so it does not count)
      if (this.hasShortTag(r.id, e0, e1) || names[r.id]!.dropTag) continue;
      ptGen[r.id] = gen;
      w = put(d, w, r.bytes);
    }
    for (const c of this.core) {
      if (c.fixed || ptGen[c.id] === gen) continue;
      w = put(d, w, c.bytes);
    }
    // fields
    w = put(d, w, F_TRACE);
    const hi = sp.tidHi[i]!;
    const lo = sp.tidLo[i]!;
    if (tid !== undefined) w = hex64(d, put(d, w, tid), hi, lo);
    else if (o.otelIds || o.hex64) w = hex64(d, w, hi, lo);
    else w = writeU64(d, ddv, w, hi, lo);
    w = put(d, w, F_SPAN);
    w = o.otelIds ? hex64(d, w, sp.sidHi[i]!, sp.sidLo[i]!) : writeU64(d, ddv, w, sp.sidHi[i]!, sp.sidLo[i]!);
    w = put(d, w, F_PARENT);
    const phi = sp.pidHi[i]!;
    const plo = sp.pidLo[i]!;
    if (phi === 0 && plo === 0) d[w++] = 0x30;
    else w = o.otelIds ? hex64(d, w, phi, plo) : writeU64(d, ddv, w, phi, plo);
    w = put(d, w, F_RESOURCE);
    w = escapeStrInto(d, ddv, w, body, bdv, sp.resS[i]!, sp.resE[i]!);
    w = put(d, w, F_START);
    const startUs = sp.startUs[i]!;
    w = writeUint(d, ddv, w, startUs);
    w = put(d, w, F_DURATION);
    w = writeUint(d, ddv, w, sp.durUs[i]!);
    d[w++] = 0x69; // i
    // fields from meta (long tag values, error.*), in meta order
    for (let e = e0; e < e1; e++) {
      const cls = this.entCls[e]!;
      if (this.entLong[e] === 0) continue; // a tag
      const name = names[this.nameOf[cls]!]!;
      if (name.dropField) continue;
      w = put(d, w, name.field);
      w = escapeStrInto(d, ddv, w, body, bdv, this.entS[e]!, this.entE[e]!);
      d[w++] = 0x22;
    }
    if (o.message) {
      // the span's JSON, escaped for line protocol as it is written (msgjson.ts); it grows the buffer itself
      w = put(d, w, F_MESSAGE);
      const m = ctx.arena;
      if (m.out !== d) {
        m.out = d;
        m.odv = ddv;
      }
      m.o = w;
      if (writeSpanEscaped(body, bdv, sp.mapS[i]!, m) !== sp.mapE[i]) throw new Error('ddtrace fast path: msgjson and the scan disagree on a span');
      w = m.o;
      if (m.out !== d) {
        out.data = m.out; // grown: a copy of everything written so far
        d = m.out;
        ddv = out.view();
      }
      out.off = w;
      out.reserve(32);
      if (out.data !== d) {
        d = out.data;
        ddv = out.view();
      }
      d[w++] = 0x22;
    }
    if (startUs > 0) {
      d[w++] = 0x20;
      w = writeUint(d, ddv, w, startUs);
      d[w++] = 0x30;
      d[w++] = 0x30;
      d[w++] = 0x30;
      d[w++] = 0x0a;
    } else w = put(d, w, ctx.now);
    out.off = w;
    out.ends.push(w);
  }

  private hasShortTag(name: number, e0: number, e1: number): boolean {
    for (let e = e0; e < e1; e++) if (this.entLong[e] === 0 && this.nameOf[this.entCls[e]!] === name) return true;
    return false;
  }

}

const TAG_SERVICE = Buffer.from(',service=');
const TAG_OPERATION = Buffer.from(',operation=');
const CUSTOM_TYPE = Buffer.from(',source_type=custom');
const SPAN_KINDS = [Buffer.from(',span_type=entry'), Buffer.from(',span_type=local'), Buffer.from(',span_type=exit')];
const STATUS_OK = Buffer.from(',status=ok');
const STATUS_ERROR = Buffer.from(',status=error');

/** 16 lower-case hex digits of hi·2^32 + lo. */
function hex64(d: Buffer, w: number, hi: number, lo: number): number {
  for (let k = 7; k >= 0; k--) {
    d[w + k] = HEX[hi & 0xf]!;
    hi >>>= 4;
  }
  for (let k = 15; k >= 8; k--) {
    d[w + k] = HEX[lo & 0xf]!;
    lo >>>= 4;
  }
  return w + 16;
}
