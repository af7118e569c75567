/**
 * OTLP/protobuf ExportTraceServiceRequest straight to line protocol: the
 * trace workers' fast path for the opentelemetry input. The generic path
 * (protobufjs → traces.ts → the shared pipeline → LineBuf.point) builds a JS
 * object for every span, attribute and value, a JSON `message` from string
 * fragments, a point, and then escapes the message again for line protocol.
 * Here the body is read once as protobuf wire format (varints and
 * length-delimited fields) into offsets; the attributes that stay in the
 * message are copied from the body's bytes into the line, JSON-escaped and
 * line-protocol-escaped as they are copied; only the promoted attributes
 * (tags, a handful per span) become JS values, through the same code as the
 * generic path (traces.ts putAttr), so tags and fields keep its semantics.
 *
 * The lines are byte for byte what the generic path writes (lines.test.ts
 * compares both on random requests). Whatever this path does not model
 * returns `undefined` before anything is written, and the caller runs the
 * generic path, which also gives the 400 answers:
 * - a body that is not protobuf (JSON), malformed or truncated wire format,
 *   groups, a wire type other than the field's, a singular message field given
 *   twice (resource, scope, status, an attribute's value), an AnyValue with
 *   two values;
 * - array, kvlist or bytes attribute values; span links;
 * - a string the point or the message uses that is not valid UTF-8;
 * - a tag or field name that JS objects would order first (array-index-like);
 * - the options `compatible_ddtrace`, `split_service_name`, and any filter
 *   that needs the span objects (sampler, keep_rare_resource, close_resource,
 *   omit_err_status).
 */
import { isUtf8 } from 'node:buffer';
import { escapeStrInto, viewOf, type LineBuf } from '../../agent/model/linebuf.js';
import type { FieldValue } from '../../agent/model/point.js';
import { escapeKey, escapeName, fieldText } from '../../agent/model/lineproto.js';
import { BytesMap } from '../../agent/services/trace/bytes-map.js';
import { FIXED_TAGS, type TraceProcessor } from '../../agent/services/trace/processor.js';
import type { TraceRequest } from '../../agent/services/trace/offthread.js';
import type { AnyValue } from './attrs.js';
import type { OtelConfig } from './config.js';
import { AttrSelector } from './select.js';
import { KIND_TYPE, KINDS, putAttr } from './traces.js';

/** Spans of one request the fast path takes (bounds its arrays). */
export const MAX_SPANS = 1 << 17;

// AnyValue kinds
const V_NONE = 0;
const V_STR = 1;
const V_BOOL = 2;
const V_INT = 3;
const V_DOUBLE = 4;

const SRC_NONE = 0;
const SOURCE_TYPES = ['custom', 'web', 'db', 'message_queue'];
const SRC_OF = new Map<string, number>([
  ['http.method', 1],
  ['http.request.method', 1],
  ['http.scheme', 1],
  ['rpc.system', 1],
  ['db.system', 2],
  ['messaging.system', 3],
]);
const INDEX_LIKE = /^(?:0|[1-9][0-9]*)$/;
const HEX = Buffer.from('0123456789abcdef', 'latin1');
/** Decline: the caller runs the generic path. */
const NO = -1;

/** Bytes that JSON escapes, and how each is written once the JSON is escaped again for line protocol. */
const JLP: (Buffer | undefined)[] = [];
for (let c = 0; c < 0x20; c++) {
  const short = { 8: 'b', 9: 't', 10: 'n', 12: 'f', 13: 'r' }[c];
  JLP[c] = Buffer.from('\\\\' + (short ?? 'u' + c.toString(16).padStart(4, '0')), 'latin1');
}
JLP[0x22] = Buffer.from('\\\\\\"', 'latin1');
JLP[0x5c] = Buffer.from('\\\\\\\\', 'latin1');

function indexLike(k: string): boolean {
  return INDEX_LIKE.test(k) && Number(k) < 0xffff_ffff;
}

/** JSON text escaped for a line-protocol string field: `"` and `\` get a backslash. */
function lp(json: string): Buffer {
  return Buffer.from(json.replace(/[\\"]/g, '\\$&'));
}

interface KeyInfo {
  text: string;
  /** The tag key it is promoted to, or undefined (it stays in the message). */
  tag: string | undefined;
  /** `{"key":<key>,"value":` as JSON, escaped for line protocol. */
  json: Buffer;
  /** `{"key":<key>,"value":{"stringValue":"`, escaped: the common case in one piece. */
  jsonStr: Buffer;
  src: number;
}

const P_ATTRS = lp('{"attributes":[');
const P_EVENTS = lp('],"events":[');
const P_END_ATTRS = lp(']');
const P_EV_TIME = lp('{"timeUnixNano":"');
const P_EV_NAME = lp('","name":');
const P_EV_ATTRS = lp(',"attributes":[');
const P_STATUS = lp(',"status":{"message":');
const P_STR = lp('{"stringValue":');
const P_INT = lp('{"intValue":"');
const P_INT_END = lp('"}');
const P_DOUBLE = lp('{"doubleValue":');
const P_BOOL_T = lp('{"boolValue":true}');
const P_BOOL_F = lp('{"boolValue":false}');
const P_EMPTY = lp('{}');
const P_QUOTE = lp('"');
const EXCEPTION = Buffer.from('exception');
const SERVICE_NAME = Buffer.from('service.name');
const EX_MESSAGE = Buffer.from('exception.message');
const EX_STACK = Buffer.from('exception.stacktrace');
const EX_TYPE = Buffer.from('exception.type');

/**
 * The fields of each message that protobufjs's schema knows and this path
 * skips, by number: their wire type, U32 when protobufjs reads them as uint32
 * (see u32Len), MSG for a message field (not this path's). 0: unknown to both.
 */
type Schema = readonly number[];
const U32 = 8;
const MSG = 16;
const WT_VARINT = 1 << 5; // a non-zero marker for wire type 0
const schemaOf = (fields: Record<number, number>): Schema => {
  const t: number[] = [];
  for (const [no, v] of Object.entries(fields)) t[Number(no)] = v;
  return Array.from(t, (v) => v ?? 0);
};
const S_ESR = schemaOf({});
const S_RS = schemaOf({ 3: 2 });
const S_RESOURCE = schemaOf({ 2: WT_VARINT | U32, 3: MSG });
const S_SS = schemaOf({ 3: 2 });
const S_SCOPE = schemaOf({ 1: 2, 2: 2, 4: WT_VARINT | U32 });
const S_SPAN = schemaOf({ 3: 2, 10: WT_VARINT | U32, 12: WT_VARINT | U32, 14: WT_VARINT | U32, 16: 5 });
const S_EVENT = schemaOf({ 4: WT_VARINT | U32 });
const S_STATUS = schemaOf({});
const S_KV = schemaOf({});
const S_AV = schemaOf({});

/** Growable Int32Array columns. */
class Cols {
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

// key-value columns
const KV_KS = 0;
const KV_KE = 1;
const KV_T = 2;
const KV_A = 3; // string start, bool, int lo, double: index into doubles
const KV_B = 4; // string end, int hi
// resource columns
const R_KV0 = 0;
const R_KV1 = 1;
const R_SEEN = 2;
// scope columns
const S_RES = 0;
const S_KV0 = 1;
const S_KV1 = 2;
const S_SEEN = 3;
// span columns
const SP_SCOPE = 0;
const SP_TS = 1;
const SP_TE = 2;
const SP_SS = 3;
const SP_SE = 4;
const SP_PS = 5;
const SP_PE = 6;
const SP_NS = 7;
const SP_NE = 8;
const SP_KIND = 9;
const SP_ST_HI = 10;
const SP_ST_LO = 11;
const SP_EN_HI = 12;
const SP_EN_LO = 13;
const SP_CODE = 14;
const SP_MS = 15; // status message start (-1 none)
const SP_ME = 16;
const SP_KV0 = 17;
const SP_KV1 = 18;
const SP_EV0 = 19;
const SP_EV1 = 20;
const SP_STATUS = 21; // seen
// event columns
const E_T_HI = 0;
const E_T_LO = 1;
const E_NS = 2;
const E_NE = 3;
const E_KV0 = 4;
const E_KV1 = 5;

interface ScopeCtx {
  service: string;
  tags: Record<string, string>;
  fields: Record<string, FieldValue>;
  /** The resource's and scope's message attributes, JSON escaped for line protocol, comma-separated. */
  rest: Buffer;
}

export class OtlpLineWriter {
  private readonly select: AttrSelector;
  private readonly message: boolean;
  private readonly supported: boolean;
  private readonly keys = new BytesMap();
  private readonly infos: KeyInfo[] = [];
  private readonly kv = new Cols(5, 1 << 20);
  private readonly res = new Cols(3, 1 << 16);
  private readonly scopes = new Cols(4, 1 << 16);
  private readonly spans = new Cols(22, MAX_SPANS);
  private readonly events = new Cols(6, 1 << 18);
  private doubles = new Float64Array(64);
  private nDoubles = 0;
  private evStarts: number[] = [];
  private body: Buffer = Buffer.alloc(0);
  /** Set when a string copied as bytes was not valid UTF-8: the request goes to the generic path. */
  private bad = false;
  private dv: DataView = viewOf(this.body);
  // varint64 results
  private lo = 0;
  private hi = 0;
  private readonly measurement: Buffer;
  private readonly source: string;
  private coreFor: Record<string, string> | undefined;
  private core: [string, Buffer][] = [];
  private readonly escKeys = new Map<string, string>();
  private readonly rest: (KeyInfo | undefined)[] = [];
  /** Trace ids → their group (groupTraces' order: first appearance). */
  private readonly traceIds = new BytesMap();
  // the line being written
  private out!: LineBuf;
  private d: Buffer = Buffer.alloc(0);
  private w = 0;

  constructor(
    cfg: OtelConfig,
    private readonly pipeline: TraceProcessor,
  ) {
    this.select = new AttrSelector(cfg.customer_tags, cfg.customer_tags_all);
    this.message = !cfg.del_message;
    this.supported = !cfg.compatible_ddtrace && !cfg.split_service_name;
    this.source = pipeline.source;
    this.measurement = Buffer.from(escapeName(pipeline.source));
  }

  /**
   * Writes the request's spans as lines into `out` and returns the spans
   * dropped by reason (`invalid`: no trace or span id); undefined, having
   * written nothing, when the fast path does not take the request.
   */
  write(req: TraceRequest, out: LineBuf, coreTags: Record<string, string>, now: bigint): Record<string, number> | undefined {
    if (!this.supported || !this.pipeline.filters.trivial || !req.contentType.includes('protobuf')) return undefined;
    if (coreTags !== this.coreFor && !this.setCore(coreTags)) return undefined;
    this.body = req.body;
    this.dv = viewOf(req.body);
    try {
      if (!this.scan()) return undefined;
      const start = out.off;
      const nEnds = out.ends.length;
      const r = this.emit(out, now);
      if (r === undefined) {
        out.off = start;
        out.ends.length = nEnds;
      }
      return r;
    } finally {
      this.kv.reset();
      this.res.reset();
      this.scopes.reset();
      this.spans.reset();
      this.events.reset();
      this.nDoubles = 0;
      if (this.doubles.length > 4096) this.doubles = new Float64Array(64);
      this.body = Buffer.alloc(0);
      this.dv = viewOf(this.body);
    }
  }

  private setCore(tags: Record<string, string>): boolean {
    const core: [string, Buffer][] = [];
    for (const k in tags) {
      if (indexLike(k)) return false;
      const v = tags[k]!;
      core.push([k, Buffer.from(k === '' || v === '' ? '' : `,${escapeKey(k)}=${escapeKey(v)}`)]);
    }
    this.core = core;
    this.coreFor = tags;
    return true;
  }

  // ---- wire format ----

  /** A varint of at most 5 bytes (tags, lengths) at p: the value in `lo`, returns the end or NO. */
  private v32(p: number, end: number): number {
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
  private v64(p: number, end: number): number {
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

  /** Skips a field of wire type `wt` at p. */
  private skip(p: number, end: number, wt: number): number {
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
   * Skips a field this path does not read. protobufjs reads a field its
   * schema knows as the schema's type whatever the wire type says, and
   * decodes message fields: such a field with another wire type, or a message
   * field (Resource.entity_refs), is not this path's.
   */
  private skipField(p: number, end: number, wt: number, no: number, tbl: Schema): number {
    const want = no < tbl.length ? tbl[no]! : 0;
    if (want === 0) return this.skip(p, end, wt);
    if (want === MSG || (want & 7) !== wt) return NO;
    const from = p;
    p = this.skip(p, end, wt);
    if (p >= 0 && (want & U32) !== 0 && !u32Len(p - from)) return NO;
    return p;
  }

  /** A length-delimited field's content: returns its start and sets `lo` to its end; NO when it overruns. */
  private ld(p: number, end: number): number {
    p = this.v32(p, end);
    if (p < 0 || p + this.lo > end) return NO;
    this.lo = p + this.lo;
    return p;
  }

  /** Whether body[a, e) is valid UTF-8. */
  private utf8(a: number, e: number): boolean {
    const b = this.body;
    for (let i = a; i < e; i++) if (b[i]! >= 0x80) return isUtf8(b.subarray(a, e));
    return true;
  }

  private scan(): boolean {
    const end = this.body.length;
    let p = 0;
    while (p < end) {
      p = this.v32(p, end);
      if (p < 0) return false;
      const wt = this.lo & 7;
      const no = this.lo >>> 3;
      if (no === 1) {
        if (wt !== 2) return false;
        const a = this.ld(p, end);
        if (a < 0) return false;
        p = this.lo;
        if (!this.resourceSpans(a, p)) return false;
      } else {
        p = this.skipField(p, end, wt, no, S_ESR);
        if (p < 0) return false;
      }
    }
    return true;
  }

  private resourceSpans(p: number, end: number): boolean {
    const r = this.res.add();
    if (r < 0) return false;
    const rc = this.res.cols;
    rc[R_SEEN]![r] = 0;
    rc[R_KV0]![r] = 0;
    rc[R_KV1]![r] = 0;
    while (p < end) {
      p = this.v32(p, end);
      if (p < 0) return false;
      const no = this.lo >>> 3;
      const wt = this.lo & 7;
      if (no === 1 || no === 2) {
        if (wt !== 2) return false;
        const a = this.ld(p, end);
        if (a < 0) return false;
        p = this.lo;
        if (no === 1) {
          if (rc[R_SEEN]![r] === 1) return false;
          rc[R_SEEN]![r] = 1;
          // Resource { attributes = 1; dropped_attributes_count = 2 }
          const k0 = this.kv.n;
          if (!this.attrList(a, p, 1, S_RESOURCE)) return false;
          rc[R_KV0]![r] = k0;
          rc[R_KV1]![r] = this.kv.n;
        } else if (!this.scopeSpans(a, p, r)) return false;
      } else {
        p = this.skipField(p, end, wt, no, S_RS);
        if (p < 0) return false;
      }
    }
    return true;
  }

  /** The repeated KeyValue field `field` of a message [p, end); other fields skipped. */
  private attrList(p: number, end: number, field: number, tbl: Schema): boolean {
    while (p < end) {
      p = this.v32(p, end);
      if (p < 0) return false;
      const no = this.lo >>> 3;
      const wt = this.lo & 7;
      if (no === field) {
        if (wt !== 2) return false;
        const a = this.ld(p, end);
        if (a < 0) return false;
        p = this.lo;
        if (!this.keyValue(a, p)) return false;
      } else {
        p = this.skipField(p, end, wt, no, tbl);
        if (p < 0) return false;
      }
    }
    return true;
  }

  private keyValue(p: number, end: number): boolean {
    const i = this.kv.add();
    if (i < 0) return false;
    const c = this.kv.cols;
    c[KV_KS]![i] = 0;
    c[KV_KE]![i] = 0;
    c[KV_T]![i] = V_NONE;
    let seenValue = false;
    while (p < end) {
      p = this.v32(p, end);
      if (p < 0) return false;
      const no = this.lo >>> 3;
      const wt = this.lo & 7;
      if (no === 1 || no === 2) {
        if (wt !== 2) return false;
        const a = this.ld(p, end);
        if (a < 0) return false;
        p = this.lo;
        if (no === 1) {
          c[KV_KS]![i] = a;
          c[KV_KE]![i] = p;
        } else {
          if (seenValue) return false;
          seenValue = true;
          if (!this.anyValue(a, p, i)) return false;
        }
      } else {
        p = this.skipField(p, end, wt, no, S_KV);
        if (p < 0) return false;
      }
    }
    return true;
  }

  /** AnyValue { string 1, bool 2, int64 3, double 4, array 5, kvlist 6, bytes 7 }: one of the first four. */
  private anyValue(p: number, end: number, i: number): boolean {
    const c = this.kv.cols;
    let t = V_NONE;
    while (p < end) {
      p = this.v32(p, end);
      if (p < 0) return false;
      const no = this.lo >>> 3;
      const wt = this.lo & 7;
      if (no >= 1 && no <= 7 && t !== V_NONE && t !== no) return false; // two values
      switch (no) {
        case 1: {
          if (wt !== 2) return false;
          const a = this.ld(p, end);
          if (a < 0) return false;
          p = this.lo;
          t = V_STR;
          c[KV_A]![i] = a;
          c[KV_B]![i] = p;
          break;
        }
        case 2:
        case 3: {
          if (wt !== 0) return false;
          const from = p;
          p = this.v64(p, end);
          if (p < 0 || (no === 2 && !u32Len(p - from))) return false;
          t = no === 2 ? V_BOOL : V_INT;
          c[KV_A]![i] = this.lo | 0;
          c[KV_B]![i] = this.hi | 0;
          break;
        }
        case 4: {
          if (wt !== 1 || p + 8 > end) return false;
          if (t !== V_DOUBLE) {
            if (this.nDoubles === this.doubles.length) {
              const g = new Float64Array(this.doubles.length * 2);
              g.set(this.doubles);
              this.doubles = g;
            }
            c[KV_A]![i] = this.nDoubles++;
          }
          this.doubles[c[KV_A]![i]!] = this.dv.getFloat64(p, true);
          p += 8;
          t = V_DOUBLE;
          break;
        }
        case 5:
        case 6:
        case 7:
          return false; // arrays, maps, bytes: the generic path
        default:
          p = this.skipField(p, end, wt, no, S_AV);
          if (p < 0) return false;
      }
    }
    c[KV_T]![i] = t;
    return true;
  }

  private scopeSpans(p: number, end: number, r: number): boolean {
    const s = this.scopes.add();
    if (s < 0) return false;
    const sc = this.scopes.cols;
    sc[S_RES]![s] = r;
    sc[S_KV0]![s] = 0;
    sc[S_KV1]![s] = 0;
    sc[S_SEEN]![s] = 0;
    while (p < end) {
      p = this.v32(p, end);
      if (p < 0) return false;
      const no = this.lo >>> 3;
      const wt = this.lo & 7;
      if (no === 1 || no === 2) {
        if (wt !== 2) return false;
        const a = this.ld(p, end);
        if (a < 0) return false;
        p = this.lo;
        if (no === 1) {
          if (sc[S_SEEN]![s] === 1) return false;
          sc[S_SEEN]![s] = 1;
          // InstrumentationScope { name 1, version 2, attributes 3, dropped 4 }
          const k0 = this.kv.n;
          if (!this.attrList(a, p, 3, S_SCOPE)) return false;
          sc[S_KV0]![s] = k0;
          sc[S_KV1]![s] = this.kv.n;
        } else if (!this.span(a, p, s)) return false;
      } else {
        p = this.skipField(p, end, wt, no, S_SS);
        if (p < 0) return false;
      }
    }
    return true;
  }

  private span(p: number, end: number, scope: number): boolean {
    const i = this.spans.add();
    if (i < 0) return false;
    const c = this.spans.cols;
    for (let k = 0; k < c.length; k++) c[k]![i] = 0;
    c[SP_SCOPE]![i] = scope;
    c[SP_MS]![i] = -1;
    const k0 = this.kv.n;
    const evs = this.evStarts;
    evs.length = 0;
    while (p < end) {
      p = this.v32(p, end);
      if (p < 0) return false;
      const no = this.lo >>> 3;
      const wt = this.lo & 7;
      switch (no) {
        case 1:
        case 2:
        case 4:
        case 5: {
          if (wt !== 2) return false;
          const a = this.ld(p, end);
          if (a < 0) return false;
          p = this.lo;
          const col = no === 1 ? SP_TS : no === 2 ? SP_SS : no === 4 ? SP_PS : SP_NS;
          c[col]![i] = a;
          c[col + 1]![i] = p;
          break;
        }
        case 6: {
          if (wt !== 0) return false;
          const from = p;
          p = this.v64(p, end);
          if (p < 0 || !u32Len(p - from)) return false;
          c[SP_KIND]![i] = this.lo | 0;
          break;
        }
        case 7:
        case 8:
          if (wt !== 1 || p + 8 > end) return false;
          c[no === 7 ? SP_ST_LO : SP_EN_LO]![i] = this.dv.getUint32(p, true) | 0;
          c[no === 7 ? SP_ST_HI : SP_EN_HI]![i] = this.dv.getUint32(p + 4, true) | 0;
          p += 8;
          break;
        case 9: {
          if (wt !== 2) return false;
          const a = this.ld(p, end);
          if (a < 0) return false;
          p = this.lo;
          if (!this.keyValue(a, p)) return false;
          break;
        }
        case 11: {
          if (wt !== 2) return false;
          const a = this.ld(p, end);
          if (a < 0) return false;
          p = this.lo;
          evs.push(a, p);
          break;
        }
        case 13:
          return false; // links: the generic path
        case 15: {
          if (wt !== 2 || c[SP_STATUS]![i] === 1) return false;
          c[SP_STATUS]![i] = 1;
          const a = this.ld(p, end);
          if (a < 0) return false;
          p = this.lo;
          if (!this.status(a, p, i)) return false;
          break;
        }
        default:
          p = this.skipField(p, end, wt, no, S_SPAN);
          if (p < 0) return false;
      }
    }
    c[SP_KV0]![i] = k0;
    c[SP_KV1]![i] = this.kv.n;
    c[SP_EV0]![i] = this.events.n;
    // events after the span's attributes, so each list is one range of kv rows
    for (let k = 0; k < evs.length; k += 2) if (!this.event(evs[k]!, evs[k + 1]!)) return false;
    c[SP_EV1]![i] = this.events.n;
    return true;
  }

  /** Status { message 2, code 3 }. */
  private status(p: number, end: number, i: number): boolean {
    const c = this.spans.cols;
    while (p < end) {
      p = this.v32(p, end);
      if (p < 0) return false;
      const no = this.lo >>> 3;
      const wt = this.lo & 7;
      if (no === 2) {
        if (wt !== 2) return false;
        const a = this.ld(p, end);
        if (a < 0) return false;
        p = this.lo;
        c[SP_MS]![i] = a;
        c[SP_ME]![i] = p;
      } else if (no === 3) {
        if (wt !== 0) return false;
        const from = p;
        p = this.v64(p, end);
        if (p < 0 || !u32Len(p - from)) return false;
        c[SP_CODE]![i] = this.lo | 0;
      } else {
        p = this.skipField(p, end, wt, no, S_STATUS);
        if (p < 0) return false;
      }
    }
    return true;
  }

  /** Event { time_unix_nano 1, name 2, attributes 3, dropped 4 }. */
  private event(p: number, end: number): boolean {
    const e = this.events.add();
    if (e < 0) return false;
    const c = this.events.cols;
    c[E_T_HI]![e] = 0;
    c[E_T_LO]![e] = 0;
    c[E_NS]![e] = 0;
    c[E_NE]![e] = 0;
    const k0 = this.kv.n;
    while (p < end) {
      p = this.v32(p, end);
      if (p < 0) return false;
      const no = this.lo >>> 3;
      const wt = this.lo & 7;
      if (no === 1) {
        if (wt !== 1 || p + 8 > end) return false;
        c[E_T_LO]![e] = this.dv.getUint32(p, true) | 0;
        c[E_T_HI]![e] = this.dv.getUint32(p + 4, true) | 0;
        p += 8;
      } else if (no === 2 || no === 3) {
        if (wt !== 2) return false;
        const a = this.ld(p, end);
        if (a < 0) return false;
        p = this.lo;
        if (no === 2) {
          c[E_NS]![e] = a;
          c[E_NE]![e] = p;
        } else if (!this.keyValue(a, p)) return false;
      } else {
        p = this.skipField(p, end, wt, no, S_EVENT);
        if (p < 0) return false;
      }
    }
    c[E_KV0]![e] = k0;
    c[E_KV1]![e] = this.kv.n;
    return true;
  }

  // ---- values ----

  private key(k: number): KeyInfo {
    const c = this.kv.cols;
    const a = c[KV_KS]![k]!;
    const e = c[KV_KE]![k]!;
    const h = BytesMap.hash(this.body, this.dv, a, e);
    const id = this.keys.get(this.body, a, e, h);
    if (id >= 0) return this.infos[id]!;
    const text = this.body.toString('utf8', a, e);
    const info: KeyInfo = { text, tag: this.select.tagKey(text), json: lp('{"key":' + JSON.stringify(text) + ',"value":'), jsonStr: lp('{"key":' + JSON.stringify(text) + ',"value":{"stringValue":"'), src: SRC_OF.get(text) ?? SRC_NONE };
    if (e - a > BytesMap.MAX_KEY) return info; // not cached
    if (!this.keys.set(this.body, a, e, h, this.infos.length)) {
      this.keys.clear();
      this.infos.length = 0;
      this.keys.set(this.body, a, e, h, 0);
    }
    this.infos.push(info);
    return info;
  }

  private keyIs(k: number, name: Buffer): boolean {
    const c = this.kv.cols;
    const a = c[KV_KS]![k]!;
    if (c[KV_KE]![k]! - a !== name.length) return false;
    const b = this.body;
    for (let i = 0; i < name.length; i++) if (b[a + i] !== name[i]) return false;
    return true;
  }

  private int(k: number): bigint {
    const c = this.kv.cols;
    return BigInt.asIntN(64, (BigInt(c[KV_B]![k]! >>> 0) << 32n) | BigInt(c[KV_A]![k]! >>> 0));
  }

  /** The attribute's value as protobufjs and traces.ts see it. */
  private anyOf(k: number): AnyValue | null {
    const c = this.kv.cols;
    switch (c[KV_T]![k]) {
      case V_STR:
        return { stringValue: this.body.toString('utf8', c[KV_A]![k]!, c[KV_B]![k]!) };
      case V_BOOL:
        return { boolValue: c[KV_A]![k] !== 0 };
      case V_INT:
        return { intValue: this.int(k) };
      case V_DOUBLE:
        return { doubleValue: this.doubles[c[KV_A]![k]!]! };
      default:
        return null;
    }
  }

  /** anyString of the value. */
  private str(k: number): string | undefined {
    const c = this.kv.cols;
    switch (c[KV_T]![k]) {
      case V_STR:
        return this.body.toString('utf8', c[KV_A]![k]!, c[KV_B]![k]!);
      case V_BOOL:
        return c[KV_A]![k] !== 0 ? 'true' : 'false';
      case V_INT:
        return this.int(k).toString();
      case V_DOUBLE:
        return String(this.doubles[c[KV_A]![k]!]!);
      default:
        return undefined;
    }
  }

  // ---- writing ----

  private room(n: number): void {
    if (this.w + n <= this.d.length) return;
    const out = this.out;
    out.off = this.w;
    out.reserve(n);
    this.d = out.data;
  }

  private put(b: Buffer): void {
    this.room(b.length);
    const d = this.d;
    let w = this.w;
    const n = b.length;
    if (n < 24) for (let k = 0; k < n; k++) d[w++] = b[k]!;
    else {
      d.set(b, w);
      w += n;
    }
    this.w = w;
  }

  private text(s: string): void {
    this.room(s.length * 3);
    this.w += (this.d as unknown as { utf8Write(s: string, o: number): number }).utf8Write(s, this.w);
  }

  /**
   * body[a, e) as a JSON string's content, escaped for line protocol. Bytes
   * that are not valid UTF-8 would be U+FFFD on the generic path: such a
   * request is left to it (`bad`).
   */
  private jsonStr(a: number, e: number): void {
    this.room((e - a) * 7);
    const d = this.d;
    const b = this.body;
    let w = this.w;
    let high = 0;
    for (let i = a; i < e; i++) {
      const ch = b[i]!;
      high |= ch;
      if (ch >= 0x20 && ch !== 0x22 && ch !== 0x5c) d[w++] = ch;
      else {
        const x = JLP[ch]!;
        for (let k = 0; k < x.length; k++) d[w++] = x[k]!;
      }
    }
    this.w = w;
    if (high >= 0x80 && !isUtf8(b.subarray(a, e))) this.bad = true;
  }

  /** A JSON string (quotes included) of body[a, e), escaped for line protocol. */
  private jsonQuoted(a: number, e: number): void {
    this.put(P_QUOTE);
    this.jsonStr(a, e);
    this.put(P_QUOTE);
  }

  /** A value as OTLP/JSON writes it (traces.ts kvJson / plain). */
  private jsonValue(k: number): void {
    const c = this.kv.cols;
    switch (c[KV_T]![k]) {
      case V_STR:
        this.put(P_STR);
        this.jsonQuoted(c[KV_A]![k]!, c[KV_B]![k]!);
        this.put(P_END_OBJ);
        return;
      case V_INT: {
        const hi = c[KV_B]![k]!;
        const lo = c[KV_A]![k]!;
        this.put(P_INT);
        this.text(hi === 0 && lo >= 0 ? String(lo) : this.int(k).toString());
        this.put(P_INT_END);
        return;
      }
      case V_DOUBLE: {
        const v = this.doubles[c[KV_A]![k]!]!;
        this.put(P_DOUBLE);
        this.text(Number.isFinite(v) ? String(v) : 'null');
        this.put(P_END_OBJ);
        return;
      }
      case V_BOOL:
        this.put(c[KV_A]![k] !== 0 ? P_BOOL_T : P_BOOL_F);
        return;
      default:
        this.put(P_EMPTY);
    }
  }

  private kvJson(k: number, info: KeyInfo): void {
    const c = this.kv.cols;
    if (c[KV_T]![k] === V_STR) {
      // one piece before the value, one after
      this.put(info.jsonStr);
      this.jsonStr(c[KV_A]![k]!, c[KV_B]![k]!);
      this.put(P_STR_END);
      return;
    }
    this.put(info.json);
    this.jsonValue(k);
    this.put(P_END_OBJ);
  }

  /** The uint64 hi·2^32 + lo in decimal: a division by 10^6 in 32-bit limbs keeps every step exact. */
  private u64(hi: number, lo: number): void {
    if (hi < 0x20_0000) {
      this.text(String(hi * 0x1_0000_0000 + lo));
      return;
    }
    const qh = Math.floor(hi / 1e6);
    const t = (hi - qh * 1e6) * 0x1_0000_0000 + lo; // < 2^52
    let ql = Math.floor(t / 1e6);
    let r = t - ql * 1e6;
    if (r < 0) {
      ql--;
      r += 1e6;
    } else if (r >= 1e6) {
      ql++;
      r -= 1e6;
    }
    const head = qh * 0x1_0000_0000 + ql;
    this.text(head === 0 ? String(r) : String(head) + String(r).padStart(6, '0'));
  }

  /** Integers written as BigInt(Math.trunc(n)) would be. */
  private uint(n: number): void {
    this.text(n <= Number.MAX_SAFE_INTEGER ? String(n) : BigInt(n).toString());
  }

  private hex(a: number, e: number): void {
    this.room(2 * (e - a));
    const d = this.d;
    const b = this.body;
    let w = this.w;
    for (let i = a; i < e; i++) {
      const x = b[i]!;
      d[w++] = HEX[x >> 4]!;
      d[w++] = HEX[x & 15]!;
    }
    this.w = w;
  }

  /** An id as idHex writes it: `0` when empty or all zero. */
  private id(a: number, e: number): void {
    if (zero(this.body, a, e)) {
      this.room(1);
      this.d[this.w++] = 0x30;
    } else this.hex(a, e);
  }

  // ---- points ----

  private scopeCtx(s: number, cache: (ScopeCtx | undefined)[]): ScopeCtx | undefined {
    const hit = cache[s];
    if (hit) return hit;
    const sc = this.scopes.cols;
    const r = sc[S_RES]![s]!;
    const rc = this.res.cols;
    const k0 = rc[R_KV0]![r]!;
    const k1 = rc[R_KV1]![r]!;
    let service: string | undefined;
    for (let k = k0; k < k1; k++) {
      if (this.keyIs(k, SERVICE_NAME)) {
        service = this.str(k);
        break;
      }
    }
    const tags: Record<string, string> = {};
    const fields: Record<string, FieldValue> = {};
    const start = this.w;
    let first = true;
    const take = (from: number, to: number, skipService: boolean): boolean => {
      for (let k = from; k < to; k++) {
        const c = this.kv.cols;
        if (c[KV_KE]![k] === c[KV_KS]![k]) continue;
        if (skipService && this.keyIs(k, SERVICE_NAME)) continue;
        const info = this.key(k);
        if (info.tag === undefined) {
          if (!this.message) continue;
          if (!first) this.put(COMMA);
          first = false;
          this.kvJson(k, info);
          continue;
        }
        if (indexLike(info.tag)) return false;
        putAttr(info.tag, this.anyOf(k), tags, fields);
      }
      return true;
    };
    // the message fragment is written into the output buffer, copied out, and the buffer rewound
    const ok = take(k0, k1, true) && take(sc[S_KV0]![s]!, sc[S_KV1]![s]!, false);
    const rest = Buffer.from(this.d.subarray(start, this.w));
    this.w = start;
    if (!ok) return undefined;
    const ctx: ScopeCtx = { service: service || 'unknown_service', tags, fields, rest };
    cache[s] = ctx;
    return ctx;
  }

  private emit(out: LineBuf, now: bigint): Record<string, number> | undefined {
    this.out = out;
    this.d = out.data;
    this.w = out.off;
    this.bad = false;
    const sp = this.spans.cols;
    const n = this.spans.n;
    const body = this.body;
    // group by trace id, in order of first appearance (groupTraces): a list per trace through `next`
    const ids = this.traceIds;
    ids.clear();
    const heads: number[] = [];
    const tails: number[] = [];
    const next = new Int32Array(n).fill(-1);
    let rejected = 0;
    for (let i = 0; i < n; i++) {
      const ta = sp[SP_TS]![i]!;
      const te = sp[SP_TE]![i]!;
      if (zero(body, ta, te) || zero(body, sp[SP_SS]![i]!, sp[SP_SE]![i]!)) {
        rejected++;
        continue;
      }
      if (te - ta > BytesMap.MAX_KEY) return undefined; // not a real trace id: the generic path
      const h = BytesMap.hash(body, this.dv, ta, te);
      const g = ids.get(body, ta, te, h);
      if (g >= 0) {
        next[tails[g]!] = i;
        tails[g] = i;
        continue;
      }
      if (!ids.set(body, ta, te, h, heads.length)) return undefined; // more traces than the map holds
      heads.push(i);
      tails.push(i);
    }
    const scopeCache: (ScopeCtx | undefined)[] = [];
    const types: string[] = [];
    const nowText = ` ${now}\n`;
    const trace: number[] = [];
    for (const first of heads) {
      trace.length = 0;
      for (let i = first; i >= 0; i = next[i]!) trace.push(i);
      for (const i of trace) {
        const ctx = this.scopeCtx(sp[SP_SCOPE]![i]!, scopeCache);
        if (ctx === undefined) return undefined;
        types[i] = KIND_TYPE[sp[SP_KIND]![i]!] ?? '';
      }
      this.spanTypes(trace, types, scopeCache);
      for (const i of trace) if (!this.line(i, scopeCache[sp[SP_SCOPE]![i]!]!, types[i]!, nowText)) return undefined;
    }
    if (this.bad) return undefined;
    out.off = this.w;
    return rejected > 0 ? { invalid: rejected } : {};
  }

  private sameId(a: number, ae: number, b: number, be: number): boolean {
    const body = this.body;
    const za = zero(body, a, ae);
    const zb = zero(body, b, be);
    if (za || zb) return za && zb;
    if (ae - a !== be - b) return false;
    for (let k = 0; k < ae - a; k++) if (body[a + k] !== body[b + k]) return false;
    return true;
  }

  /** deriveSpanTypes (filters.ts) on the span rows. */
  private spanTypes(trace: number[], types: string[], scopes: (ScopeCtx | undefined)[]): void {
    let need = false;
    for (const i of trace) if (types[i] === '') need = true;
    if (!need) return;
    const sp = this.spans.cols;
    const svc = (i: number): string => scopes[sp[SP_SCOPE]![i]!]!.service;
    // x.spanId === s.parentId, on the ids as written ('0' for none)
    const parentOf = (x: number, s: number): boolean => this.sameId(sp[SP_SS]![x]!, sp[SP_SE]![x]!, sp[SP_PS]![s]!, sp[SP_PE]![s]!);
    if (trace.length > 16) {
      // as deriveSpanTypes on large traces: the last span of an id, and the set of parent ids
      const body = this.body;
      const key = (a: number, e: number): string => (zero(body, a, e) ? '0' : 'x' + body.toString('latin1', a, e));
      const byId = new Map<string, number>();
      const parents = new Set<string>();
      for (const s of trace) {
        byId.set(key(sp[SP_SS]![s]!, sp[SP_SE]![s]!), s);
        parents.add(key(sp[SP_PS]![s]!, sp[SP_PE]![s]!));
      }
      for (const s of trace) {
        if (types[s] !== '') continue;
        const p = byId.get(key(sp[SP_PS]![s]!, sp[SP_PE]![s]!));
        if (p === undefined || p === s || svc(p) !== svc(s)) types[s] = 'entry';
        else types[s] = parents.has(key(sp[SP_SS]![s]!, sp[SP_SE]![s]!)) ? 'local' : 'exit';
      }
      return;
    }
    for (const s of trace) {
      if (types[s] !== '') continue;
      let p = -1;
      for (const x of trace) if (x !== s && parentOf(x, s)) p = x;
      if (p < 0 || svc(p) !== svc(s)) types[s] = 'entry';
      else {
        let parent = false;
        for (const x of trace) if (parentOf(s, x)) parent = true;
        types[s] = parent ? 'local' : 'exit';
      }
    }
  }

  private escKey(k: string): string {
    let e = this.escKeys.get(k);
    if (e === undefined) {
      e = escapeKey(k);
      if (this.escKeys.size > 10_000) this.escKeys.clear();
      this.escKeys.set(k, e);
    }
    return e;
  }

  /** Span i's line, as mapSpan + TraceProcessor.toPoint + the core's tags + LineBuf.point write it. */
  private line(i: number, ctx: ScopeCtx, spanType: string, nowText: string): boolean {
    const sp = this.spans.cols;
    const kvc = this.kv.cols;
    const tags: Record<string, string> = { ...ctx.tags };
    const fields: Record<string, FieldValue> = { ...ctx.fields };
    const k0 = sp[SP_KV0]![i]!;
    const k1 = sp[SP_KV1]![i]!;
    let src = SRC_NONE;
    let restAt = -1;
    // the span's attributes that stay in the message, by row − k0
    const rest = this.rest;
    for (let k = k0; k < k1; k++) {
      const info = kvc[KV_KE]![k] === kvc[KV_KS]![k] ? undefined : this.key(k);
      if (src === SRC_NONE && info !== undefined && info.src !== SRC_NONE) src = info.src;
      if (info === undefined) {
        rest[k - k0] = undefined; // an empty key: skipped
        continue;
      }
      if (info.tag === undefined) {
        if (restAt < 0) restAt = k;
        rest[k - k0] = info;
        continue;
      }
      rest[k - k0] = undefined;
      if (indexLike(info.tag)) return false;
      putAttr(info.tag, this.anyOf(k), tags, fields);
    }
    const kind = sp[SP_KIND]![i]!;
    tags.span_kind = KINDS[kind] ?? 'unspecified';
    // exception events
    const ev = this.events.cols;
    const e0 = sp[SP_EV0]![i]!;
    const e1 = sp[SP_EV1]![i]!;
    let keptEvents = 0;
    for (let e = e0; e < e1; e++) {
      if (isName(this.body, ev[E_NS]![e]!, ev[E_NE]![e]!, EXCEPTION) && fields.error_message === undefined) {
        ev[E_NS]![e] = -1; // consumed: not in the message
        const m = this.attrStr(ev[E_KV0]![e]!, ev[E_KV1]![e]!, EX_MESSAGE);
        const st = this.attrStr(ev[E_KV0]![e]!, ev[E_KV1]![e]!, EX_STACK);
        const ty = this.attrStr(ev[E_KV0]![e]!, ev[E_KV1]![e]!, EX_TYPE);
        if (m !== undefined) fields.error_message = m;
        if (st !== undefined) fields.error_stack = st;
        if (ty !== undefined) fields.error_type = ty;
      } else keptEvents++;
    }
    for (const k in tags) if (indexLike(k)) return false;
    for (const k in fields) if (indexLike(k)) return false;
    // measurement and the pipeline's tags
    this.put(this.measurement);
    const ns = sp[SP_NS]![i]!;
    const ne = sp[SP_NE]![i]!;
    const name = ns === ne ? '' : this.body.toString('utf8', ns, ne);
    if (!this.utf8(ns, ne)) return false; // the resource field copies its bytes
    let head = '';
    if (ctx.service !== '') head += ',service=' + escapeKey(ctx.service);
    if (this.source !== '') head += ',source=' + this.escKey(this.source);
    if (name !== '') head += ',operation=' + escapeKey(name);
    head += ',source_type=' + SOURCE_TYPES[src] + ',span_type=' + (spanType === '' ? 'entry' : spanType) + (sp[SP_CODE]![i] === 2 ? ',status=error' : ',status=ok');
    const pl = this.pipeline;
    for (const k in tags) {
      if (FIXED_TAGS.has(k) || pl.tagIgnored(k)) continue;
      const v = tags[k]!;
      if (k === '' || v === '') continue;
      head += ',' + this.escKey(k) + '=' + escapeKey(v);
    }
    this.text(head);
    // the core's tags where the point has none (a span tag that ignore_tags removed does not count)
    for (const [k, bytes] of this.core) if (!FIXED_TAGS.has(k) && !(Object.hasOwn(tags, k) && !pl.tagIgnored(k))) this.put(bytes);
    // fields
    this.put(F_TRACE);
    this.hex(sp[SP_TS]![i]!, sp[SP_TE]![i]!);
    this.put(F_SPAN);
    this.hex(sp[SP_SS]![i]!, sp[SP_SE]![i]!);
    this.put(F_PARENT);
    this.id(sp[SP_PS]![i]!, sp[SP_PE]![i]!);
    this.put(F_RESOURCE);
    this.room(2 * (ne - ns));
    this.w = escapeStrInto(this.d, this.out.view(), this.w, this.body, this.dv, ns, ne);
    this.put(F_START);
    const shi = sp[SP_ST_HI]![i]! >>> 0;
    const slo = sp[SP_ST_LO]![i]! >>> 0;
    const ehi = sp[SP_EN_HI]![i]! >>> 0;
    const elo = sp[SP_EN_LO]![i]! >>> 0;
    this.uint(div1000(shi, slo));
    this.put(F_DURATION);
    if (ehi > shi || (ehi === shi && elo > slo)) {
      // end − start in 32-bit limbs
      let dlo = elo - slo;
      let dhi = ehi - shi;
      if (dlo < 0) {
        dlo += 0x1_0000_0000;
        dhi -= 1;
      }
      this.uint(div1000(dhi, dlo));
    } else this.text('0');
    this.put(F_INT);
    if (this.message) {
      this.put(F_MESSAGE);
      this.put(P_ATTRS);
      let first = ctx.rest.length === 0;
      this.put(ctx.rest);
      if (restAt >= 0) {
        for (let k = restAt; k < k1; k++) {
          const info = rest[k - k0];
          if (info === undefined) continue;
          if (!first) this.put(COMMA);
          first = false;
          this.kvJson(k, info);
        }
      }
      if (keptEvents > 0) {
        this.put(P_EVENTS);
        let firstEv = true;
        for (let e = e0; e < e1; e++) {
          if (ev[E_NS]![e]! < 0) continue;
          if (!firstEv) this.put(COMMA);
          firstEv = false;
          this.put(P_EV_TIME);
          this.u64(ev[E_T_HI]![e]! >>> 0, ev[E_T_LO]![e]! >>> 0);
          this.put(P_EV_NAME);
          this.jsonQuoted(ev[E_NS]![e]!, ev[E_NE]![e]!);
          this.put(P_EV_ATTRS);
          const a1 = ev[E_KV1]![e]!;
          for (let k = ev[E_KV0]![e]!; k < a1; k++) {
            if (k > ev[E_KV0]![e]!) this.put(COMMA);
            this.put(P_KEY);
            this.jsonQuoted(kvc[KV_KS]![k]!, kvc[KV_KE]![k]!);
            this.put(P_VALUE);
            this.jsonValue(k);
            this.put(P_END_OBJ);
          }
          this.put(P_END_EV);
        }
      }
      this.put(P_END_ATTRS);
      const ms = sp[SP_MS]![i]!;
      if (ms >= 0 && sp[SP_ME]![i]! > ms) {
        this.put(P_STATUS);
        this.jsonQuoted(ms, sp[SP_ME]![i]!);
        this.put(P_END_OBJ);
      }
      this.put(P_END_MSG);
    }
    let extra = '';
    for (const k in fields) {
      if (k === '' || BASE_FIELDS.has(k) || (this.message && k === 'message')) continue;
      const t = fieldText(fields[k]!);
      if (t === undefined) continue;
      extra += ',' + this.escKey(k) + '=' + t;
    }
    if (extra !== '') this.text(extra);
    if (shi !== 0 || slo !== 0) {
      this.room(1);
      this.d[this.w++] = 0x20;
      this.u64(shi, slo);
      this.room(1);
      this.d[this.w++] = 0x0a;
    } else this.text(nowText);
    this.out.off = this.w;
    this.out.ends.push(this.w);
    return true;
  }

  /** The first attribute named `name` of rows [k0, k1) as a string (attr() in attrs.ts). */
  private attrStr(k0: number, k1: number, name: Buffer): string | undefined {
    for (let k = k0; k < k1; k++) if (this.keyIs(k, name)) return this.str(k);
    return undefined;
  }
}

const COMMA = Buffer.from(',');
const P_END_OBJ = lp('}');
const P_STR_END = lp('"}}');
const P_END_EV = lp(']}');
const P_END_MSG = Buffer.from('}"');
const P_KEY = lp('{"key":');
const P_VALUE = lp(',"value":');
const F_TRACE = Buffer.from(' trace_id="');
const F_SPAN = Buffer.from('",span_id="');
const F_PARENT = Buffer.from('",parent_id="');
const F_RESOURCE = Buffer.from('",resource="');
const F_START = Buffer.from('",start=');
const F_DURATION = Buffer.from('i,duration=');
const F_INT = Buffer.from('i');
const F_MESSAGE = Buffer.from(',message="');
const BASE_FIELDS = new Set(['trace_id', 'span_id', 'parent_id', 'resource', 'start', 'duration']);

/**
 * protobufjs reads enums and bools as uint32: up to 5 bytes, and past a 5th
 * byte with its high bit set it skips exactly 5 more. Varints of 6 to 9 bytes
 * would be read differently there: not this path's.
 */
function u32Len(n: number): boolean {
  return n <= 5 || n === 10;
}

function zero(b: Buffer, a: number, e: number): boolean {
  for (let i = a; i < e; i++) if (b[i] !== 0) return false;
  return true;
}

function isName(b: Buffer, a: number, e: number, name: Buffer): boolean {
  if (a < 0 || e - a !== name.length) return false;
  for (let i = 0; i < name.length; i++) if (b[a + i] !== name[i]) return false;
  return true;
}

/** ⌊(hi·2^32 + lo) / 1000⌋ as a double, rounded once as Number(bigint) rounds. */
function div1000(hi: number, lo: number): number {
  const qh = Math.floor(hi / 1000);
  const r = hi - qh * 1000;
  const ql = Math.floor((r * 0x1_0000_0000 + lo) / 1000);
  return qh * 0x1_0000_0000 + ql;
}
