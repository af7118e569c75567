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
 * Three parts: wire.ts reads protobuf's wire format, spans.ts reads the
 * request into columns of offsets (SpanScan), and this file writes the lines
 * from them (line-out.ts holds the byte output it shares with the metrics
 * writer; agent/services/trace/span-line.ts the pieces it shares with
 * ddtrace's writer).
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
import { escapeStrInto, type LineBuf } from '../../agent/model/linebuf.js';
import type { FieldValue } from '../../agent/model/point.js';
import { escapeKey, escapeName, fieldText } from '../../agent/model/lineproto.js';
import { BytesMap } from '../../agent/services/trace/bytes-map.js';
import { FIXED_TAGS, type TraceProcessor } from '../../agent/services/trace/processor.js';
import type { TraceRequest } from '../../agent/services/trace/offthread.js';
import { F_DURATION, F_PARENT, F_RESOURCE, F_SPAN, F_START, F_TRACE, indexLike, tagValue } from '../../agent/services/trace/span-line.js';
import type { OtelConfig } from './config.js';
import { COMMA, lp, SpanJsonOut, type JsonKey } from './span-json.js';
import { AttrSelector } from './select.js';
import { E_KV0, E_KV1, E_NE, E_NS, KV_A, KV_B, KV_KE, KV_KS, KV_T, R_KV0, R_KV1, S_KV0, S_KV1, S_RES, SP_CODE, SP_EN_HI, SP_EN_LO, SP_EV0, SP_EV1, SP_KIND, SP_KV0, SP_KV1, SP_NE, SP_NS, SP_PE, SP_PS, SP_SCOPE, SP_SE, SP_SS, SP_ST_HI, SP_ST_LO, SP_TE, SP_TS, V_STR } from './spans.js';
import { KIND_TYPE, KINDS, putAttr } from './traces.js';
import { zero } from './wire.js';

export { MAX_SPANS } from './spans.js';

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

interface KeyInfo extends JsonKey {
  text: string;
  /** The tag key it is promoted to, or undefined (it stays in the message). */
  tag: string | undefined;
  src: number;
  /** `,<tag>=` escaped, for a promoted key. */
  tagPiece: Buffer;
  /** The promoted tag is not written (a fixed tag, ignored by ignore_tags, or empty). */
  tagSkip: boolean;
}

const EXCEPTION = Buffer.from('exception');
const SERVICE_NAME = Buffer.from('service.name');
const EX_MESSAGE = Buffer.from('exception.message');
const EX_STACK = Buffer.from('exception.stacktrace');
const EX_TYPE = Buffer.from('exception.type');

interface ScopeCtx {
  service: string;
  /** `,service=<service>` escaped (empty for an empty service). */
  serviceTag: Buffer;
  /** No tags or fields from the resource and scope: a span's tags may be written straight from its attributes (see line()). */
  plain: boolean;
  tags: Record<string, string>;
  fields: Record<string, FieldValue>;
  /** The resource's and scope's message attributes, JSON escaped for line protocol, comma-separated. */
  rest: Buffer;
}

export class OtlpLineWriter extends SpanJsonOut {
  private readonly select: AttrSelector;
  private readonly message: boolean;
  private readonly supported: boolean;
  private readonly keys = new BytesMap();
  private readonly infos: KeyInfo[] = [];
  private readonly kv = this.scan.kv;
  private readonly res = this.scan.res;
  private readonly scopes = this.scan.scopes;
  private readonly spans = this.scan.spans;
  private readonly events = this.scan.events;
  private dv: DataView = this.scan.view;
  private readonly measurement: Buffer;
  private readonly source: string;
  private readonly sourceTag: Buffer;
  private coreFor: Record<string, string> | undefined;
  private core: [string, Buffer][] = [];
  private readonly escKeys = new Map<string, string>();
  /** A span's promoted attributes: their rows and keys. */
  private readonly prom: number[] = [];
  private readonly promInfo: KeyInfo[] = [];
  private readonly spanKindSkip: boolean;
  /** Trace ids → their group (groupTraces' order: first appearance). */
  private readonly traceIds = new BytesMap();

  constructor(
    cfg: OtelConfig,
    private readonly pipeline: TraceProcessor,
  ) {
    super();
    this.select = new AttrSelector(cfg.customer_tags, cfg.customer_tags_all);
    this.message = !cfg.del_message;
    this.supported = !cfg.compatible_ddtrace && !cfg.split_service_name;
    this.source = pipeline.source;
    this.measurement = Buffer.from(escapeName(pipeline.source));
    this.sourceTag = Buffer.from(this.source === '' ? '' : ',source=' + escapeKey(this.source));
    this.spanKindSkip = FIXED_TAGS.has('span_kind') || pipeline.tagIgnored('span_kind');
  }

  /**
   * Writes the request's spans as lines into `out` and returns the spans
   * dropped by reason (`invalid`: no trace or span id); undefined, having
   * written nothing, when the fast path does not take the request.
   */
  write(req: TraceRequest, out: LineBuf, coreTags: Record<string, string>, now: bigint): Record<string, number> | undefined {
    if (!this.supported || !this.pipeline.filters.trivial || !req.contentType.includes('protobuf')) return undefined;
    if (coreTags !== this.coreFor && !this.setCore(coreTags)) return undefined;
    try {
      if (!this.scan.read(req.body)) return undefined;
      this.body = this.scan.bytes;
      this.dv = this.scan.view;
      const start = out.off;
      const nEnds = out.ends.length;
      const r = this.emit(out, now);
      if (r === undefined) {
        out.off = start;
        out.ends.length = nEnds;
      }
      return r;
    } finally {
      this.scan.reset();
      this.body = this.scan.bytes;
      this.dv = this.scan.view;
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

  // ---- values ----

  private key(k: number): KeyInfo {
    const c = this.kv.cols;
    const a = c[KV_KS]![k]!;
    const e = c[KV_KE]![k]!;
    const h = BytesMap.hash(this.body, this.dv, a, e);
    const id = this.keys.get(this.body, a, e, h);
    if (id >= 0) return this.infos[id]!;
    const text = this.body.toString('utf8', a, e);
    const tag = this.select.tagKey(text);
    const info: KeyInfo = {
      text,
      tag,
      json: lp('{"key":' + JSON.stringify(text) + ',"value":'),
      jsonStr: lp('{"key":' + JSON.stringify(text) + ',"value":{"stringValue":"'),
      src: SRC_OF.get(text) ?? SRC_NONE,
      tagPiece: Buffer.from(tag === undefined ? '' : ',' + escapeKey(tag) + '='),
      tagSkip: tag === undefined || tag === '' || FIXED_TAGS.has(tag) || this.pipeline.tagIgnored(tag),
    };
    if (e - a > BytesMap.MAX_KEY) return info; // not cached
    if (!this.keys.set(this.body, a, e, h, this.infos.length)) {
      this.keys.clear();
      this.infos.length = 0;
      this.keys.set(this.body, a, e, h, 0);
    }
    this.infos.push(info);
    return info;
  }

  // ---- writing ----

  /** An id as idHex writes it: `0` when empty or all zero. */
  private id(a: number, e: number): void {
    if (zero(this.body, a, e)) {
      this.room(1);
      this.d[this.w++] = 0x30;
    } else this.hex(this.body, a, e);
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
      if (this.scan.keyIs(k, SERVICE_NAME)) {
        service = this.scan.str(k);
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
        if (skipService && this.scan.keyIs(k, SERVICE_NAME)) continue;
        const info = this.key(k);
        if (info.tag === undefined) {
          if (!this.message) continue;
          if (!first) this.put(COMMA);
          first = false;
          this.kvJson(k, info);
          continue;
        }
        if (indexLike(info.tag)) return false;
        putAttr(info.tag, this.scan.anyOf(k), tags, fields);
      }
      return true;
    };
    // the message fragment is written into the output buffer, copied out, and the buffer rewound
    const ok = take(k0, k1, true) && take(sc[S_KV0]![s]!, sc[S_KV1]![s]!, false);
    const rest = Buffer.from(this.d.subarray(start, this.w));
    this.w = start;
    if (!ok) return undefined;
    const svc = service || 'unknown_service';
    const ctx: ScopeCtx = { service: svc, serviceTag: Buffer.from(svc === '' ? '' : ',service=' + escapeKey(svc)), plain: Object.keys(tags).length === 0 && Object.keys(fields).length === 0, tags, fields, rest };
    cache[s] = ctx;
    return ctx;
  }

  private emit(out: LineBuf, now: bigint): Record<string, number> | undefined {
    this.begin(out);
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
    const k0 = sp[SP_KV0]![i]!;
    const k1 = sp[SP_KV1]![i]!;
    let src = SRC_NONE;
    let restAt = -1;
    const prom = this.prom;
    const promInfo = this.promInfo;
    prom.length = 0;
    promInfo.length = 0;
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
      prom.push(k);
      promInfo.push(info);
    }
    const kind = sp[SP_KIND]![i]!;
    // Plain: the promoted attributes are tags with distinct keys, so the tags are written from their bytes in
    // attribute order, then span_kind, as the tags object would enumerate them; else that object is built.
    const plain = ctx.plain && this.plainTags();
    let tags: Record<string, string> | undefined;
    let fields: Record<string, FieldValue>;
    if (plain) fields = {};
    else {
      tags = { ...ctx.tags };
      fields = { ...ctx.fields };
      for (let j = 0; j < prom.length; j++) putAttr(promInfo[j]!.tag!, this.scan.anyOf(prom[j]!), tags, fields);
      tags.span_kind = KINDS[kind] ?? 'unspecified';
    }
    // exception events
    const ev = this.events.cols;
    const e0 = sp[SP_EV0]![i]!;
    const e1 = sp[SP_EV1]![i]!;
    let keptEvents = 0;
    for (let e = e0; e < e1; e++) {
      if (this.scan.bytesAre(ev[E_NS]![e]!, ev[E_NE]![e]!, EXCEPTION) && fields.error_message === undefined) {
        ev[E_NS]![e] = -1; // consumed: not in the message
        const m = this.attrStr(ev[E_KV0]![e]!, ev[E_KV1]![e]!, EX_MESSAGE);
        const st = this.attrStr(ev[E_KV0]![e]!, ev[E_KV1]![e]!, EX_STACK);
        const ty = this.attrStr(ev[E_KV0]![e]!, ev[E_KV1]![e]!, EX_TYPE);
        if (m !== undefined) fields.error_message = m;
        if (st !== undefined) fields.error_stack = st;
        if (ty !== undefined) fields.error_type = ty;
      } else keptEvents++;
    }
    if (tags !== undefined) for (const k in tags) if (indexLike(k)) return false;
    for (const k in fields) if (indexLike(k)) return false;
    // measurement and the pipeline's tags
    this.put(this.measurement);
    const ns = sp[SP_NS]![i]!;
    const ne = sp[SP_NE]![i]!;
    if (!this.scan.utf8(ns, ne)) return false; // the resource field and the operation tag copy its bytes
    this.put(ctx.serviceTag);
    this.put(this.sourceTag);
    this.room(2 * (ne - ns) + TAG_OPERATION.length);
    this.w = tagValue(this.d, this.w, TAG_OPERATION, this.body, ns, ne);
    this.put(SOURCE_TYPE_TAGS[src]!);
    this.put(spanType === 'local' ? SPAN_LOCAL : spanType === 'exit' ? SPAN_EXIT : SPAN_ENTRY);
    this.put(sp[SP_CODE]![i] === 2 ? STATUS_ERROR : STATUS_OK);
    const pl = this.pipeline;
    if (tags === undefined) {
      for (let j = 0; j < prom.length; j++) {
        const info = promInfo[j]!;
        if (info.tagSkip) continue;
        const a = kvc[KV_A]![prom[j]!]!;
        const e = kvc[KV_B]![prom[j]!]!;
        this.room(info.tagPiece.length + 2 * (e - a));
        this.w = tagValue(this.d, this.w, info.tagPiece, this.body, a, e);
      }
      if (!this.spanKindSkip) this.put(SPAN_KIND_TAGS[kind] ?? SPAN_KIND_UNSPECIFIED);
    } else {
      let head = '';
      for (const k in tags) {
        if (FIXED_TAGS.has(k) || pl.tagIgnored(k)) continue;
        const v = tags[k]!;
        if (k === '' || v === '') continue;
        head += ',' + this.escKey(k) + '=' + escapeKey(v);
      }
      if (head !== '') this.text(head);
    }
    // the core's tags where the point has none (a span tag that ignore_tags removed does not count)
    for (const [k, bytes] of this.core) if (!FIXED_TAGS.has(k) && !(this.hasTag(tags, k) && !pl.tagIgnored(k))) this.put(bytes);
    // fields
    this.put(F_TRACE);
    this.hex(this.body, sp[SP_TS]![i]!, sp[SP_TE]![i]!);
    this.put(F_SPAN);
    this.hex(this.body, sp[SP_SS]![i]!, sp[SP_SE]![i]!);
    this.put(F_PARENT);
    this.id(sp[SP_PS]![i]!, sp[SP_PE]![i]!);
    this.put(F_RESOURCE);
    this.room(2 * (ne - ns));
    this.w = escapeStrInto(this.d, this.odv, this.w, this.body, this.dv, ns, ne);
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
    if (this.message) this.writeMessage(i, ctx.rest, restAt, k0, k1, keptEvents);
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
    this.endLine();
    return true;
  }

  /**
   * Whether the span's promoted attributes (`prom`) can be written as tags
   * from their bytes: each a string of at most 1024 bytes (so at most 1024
   * UTF-16 units: putAttr makes it a tag) in valid UTF-8, their tag keys
   * distinct and none `span_kind` (which the tags object would overwrite in place).
   */
  private plainTags(): boolean {
    const kvc = this.kv.cols;
    const prom = this.prom;
    const infos = this.promInfo;
    for (let j = 0; j < prom.length; j++) {
      const k = prom[j]!;
      const tag = infos[j]!.tag!;
      if (kvc[KV_T]![k] !== V_STR || tag === 'span_kind') return false;
      const a = kvc[KV_A]![k]!;
      const e = kvc[KV_B]![k]!;
      if (e - a > 1024 || !this.scan.utf8(a, e)) return false;
      for (let x = 0; x < j; x++) if (infos[x]!.tag === tag) return false;
    }
    return true;
  }

  /** Whether the span's tags have key `k`: the tags object, or (plain) its promoted keys and span_kind. */
  private hasTag(tags: Record<string, string> | undefined, k: string): boolean {
    if (tags !== undefined) return Object.hasOwn(tags, k);
    if (k === 'span_kind') return true;
    for (const info of this.promInfo) if (info.tag === k) return true;
    return false;
  }

  /** The first attribute named `name` of rows [k0, k1) as a string (attr() in attrs.ts). */
  private attrStr(k0: number, k1: number, name: Buffer): string | undefined {
    for (let k = k0; k < k1; k++) if (this.scan.keyIs(k, name)) return this.scan.str(k);
    return undefined;
  }
}

const F_INT = Buffer.from('i');
const TAG_OPERATION = Buffer.from(',operation=');
const SPAN_KIND_TAGS = KINDS.map((k) => Buffer.from(',span_kind=' + escapeKey(k)));
const SPAN_KIND_UNSPECIFIED = Buffer.from(',span_kind=unspecified');
const SOURCE_TYPE_TAGS = SOURCE_TYPES.map((t) => Buffer.from(',source_type=' + t));
const SPAN_ENTRY = Buffer.from(',span_type=entry');
const SPAN_LOCAL = Buffer.from(',span_type=local');
const SPAN_EXIT = Buffer.from(',span_type=exit');
const STATUS_OK = Buffer.from(',status=ok');
const STATUS_ERROR = Buffer.from(',status=error');
const BASE_FIELDS = new Set(['trace_id', 'span_id', 'parent_id', 'resource', 'start', 'duration']);

/** ⌊(hi·2^32 + lo) / 1000⌋ as a double, rounded once as Number(bigint) rounds. */
function div1000(hi: number, lo: number): number {
  const qh = Math.floor(hi / 1000);
  const r = hi - qh * 1000;
  const ql = Math.floor((r * 0x1_0000_0000 + lo) / 1000);
  return qh * 0x1_0000_0000 + ql;
}
