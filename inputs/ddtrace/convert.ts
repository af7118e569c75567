/**
 * Datadog spans → the shared {@link TraceSpan} model: ids (decimal, or hex
 * with compatible_otel; 128-bit via `_dd.p.tid`), sampling priority, source
 * type, promoted meta (built-in map + customer_tags) and the `message`
 * (from msgjson.ts for msgpack bodies, else JSON.stringify of the span).
 */
import type { FieldValue } from '../../agent/model/point.js';
import type { Trace, TraceSpan } from '../../agent/services/trace/span.js';
import type { DdSpan } from './decode.js';
import { Utf8String } from '../../agent/model/point.js';
import type { SpanJsons } from './msgjson.js';

export interface ConvertOptions {
  trace128: boolean;
  otelIds: boolean;
  keepRejected: boolean;
  maxSpans: number;
  /** 64-bit trace ids in hex (trace_id_64_bit_hex). */
  hex64?: boolean;
  message: boolean;
  customerTags: readonly string[];
}

export interface ConvertResult {
  traces: Trace[];
  rejectedSpans: number;
  truncatedSpans: number;
}

/** Meta keys DataKit promotes to point tags, and their tag names. */
const META_TAGS = new Map<string, string>(Object.entries({
  env: 'env',
  version: 'version',
  project: 'project',
  'http.method': 'http_method',
  'http.status_code': 'http_status_code',
  'http.url': 'http_url',
  'http.route': 'http_route',
  'http.hostname': 'http_host',
  'http.client_ip': 'http_client_ip',
  'span.kind': 'span_kind',
  component: 'component',
  'db.type': 'db_system',
  'db.system': 'db_system',
  'db.instance': 'db_instance',
  'db.name': 'db_name',
  'out.host': 'out_host',
  'peer.service': 'peer_service',
  'runtime-id': 'runtime_id',
  language: 'language',
}));
/** Meta keys that become fields (long values). */
const META_FIELDS = new Map<string, string>(Object.entries({
  'error.message': 'error_message',
  'error.msg': 'error_message',
  'error.stack': 'error_stack',
  'error.type': 'error_type',
}));
const MAX_TAG_VALUE = 1024;

export const SOURCE_TYPES = new Map<string, string>(Object.entries({
  web: 'web',
  http: 'web',
  serverless: 'web',
  db: 'db',
  sql: 'db',
  cassandra: 'db',
  elasticsearch: 'db',
  mongodb: 'db',
  cache: 'cache',
  memcached: 'cache',
  redis: 'cache',
  queue: 'message_queue',
  kafka: 'message_queue',
  worker: 'message_queue',
  custom: 'custom',
}));

const DIGITS = /^[0-9]+$/;
const NEG = /^-[0-9]+$/;

/** A uint64 id as a decimal string ("0" when absent or invalid). */
export function idDec(v: unknown): string {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? String(v) : v < 0 && Number.isSafeInteger(v) ? BigInt.asUintN(64, BigInt(v)).toString() : '0';
  if (typeof v === 'string') {
    if (DIGITS.test(v)) return v.length > 20 ? BigInt.asUintN(64, BigInt(v)).toString() : v;
    if (NEG.test(v)) return BigInt.asUintN(64, BigInt(v)).toString();
  }
  return '0';
}

export function decToHex(dec: string): string {
  return BigInt(dec).toString(16).padStart(16, '0');
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : typeof v === 'string' ? Number(v) || 0 : 0;
}

/**
 * Nanoseconds → whole microseconds (floor). A 64-bit ns value arrives as a
 * decimal string and does not fit a double exactly (near 1.7e18 doubles are
 * 256 ns apart, so `Number(v) / 1000` was off by a µs now and then); its
 * µs, below 2^53, do: dropping the last three digits divides exactly.
 */
export function micros(v: unknown): number {
  if (typeof v === 'string' && v.length > 15 && DIGITS.test(v)) return Number(v.slice(0, -3));
  return Math.floor(num(v) / 1000);
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v);
}

function objOf(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/**
 * The `message` of a ddtrace span from v0.5 or JSON bodies: the decoded span
 * as JSON (msgpack v0.3/v0.4 bodies get theirs from msgjson.ts instead). V8's
 * JSON.stringify beats a hand-written serializer here (bench/traces/msg-micro.mjs)
 * because the decoder keeps 64-bit ids and ns timestamps as decimal strings
 * (no BigInt, so no replacer). Those values therefore appear as JSON strings
 * (exact), where DataKit writes JSON numbers.
 */
export function spanMessage(s: DdSpan): string {
  return JSON.stringify(s);
}

export interface KeyClass {
  tag: string | undefined;
  field: string | undefined;
}

/** The last trace_id seen in a trace and its converted form (spans of a trace share it). */
interface TraceIdCache {
  raw: unknown;
  id: string;
  dec: string;
}

export class DdConverter {
  private readonly custom = new Map<string, string>();
  private readonly customRes: RegExp[] = [];
  private readonly classes = new Map<string, KeyClass | null>();

  constructor(private readonly o: ConvertOptions) {
    for (const c of o.customerTags) {
      if (c.startsWith('reg:')) this.customRes.push(new RegExp(c.slice(4)));
      else this.custom.set(c, c.replace(/\./g, '_'));
    }
  }

  /**
   * `messages`, when given, are the spans' JSON as UTF-8 bytes in payload order
   * (spanJsons()): span k of the payload gets `messages.arena[ends[k-1], ends[k])`
   * as its message instead of JSON.stringify of the decoded span.
   */
  convert(payload: DdSpan[][], messages?: SpanJsons): ConvertResult {
    // the given JSON is used only when it has exactly one text per span of the payload
    const given = messages !== undefined && messages.ends.length === payload.reduce((n, t) => n + t.length, 0) ? messages : undefined;
    const traces: Trace[] = [];
    let rejectedSpans = 0;
    let truncatedSpans = 0;
    let next = 0; // payload index of the trace's first span
    for (let spans of payload) {
      const first = next;
      next += spans.length;
      if (spans.length === 0) continue;
      if (!this.o.keepRejected && rejected(spans)) {
        rejectedSpans += spans.length;
        continue;
      }
      if (this.o.maxSpans > 0 && spans.length > this.o.maxSpans) {
        truncatedSpans += spans.length - this.o.maxSpans;
        spans = spans.slice(0, this.o.maxSpans);
      }
      let tid: string | undefined;
      if (this.o.trace128) {
        for (const s of spans) {
          const t = objOf(s.meta)?.['_dd.p.tid'];
          if (typeof t === 'string' && /^[0-9a-fA-F]{1,16}$/.test(t)) {
            tid = t.toLowerCase().padStart(16, '0');
            break;
          }
        }
      }
      const trace: Trace = [];
      const ids: TraceIdCache = { raw: undefined, id: '', dec: '' };
      for (let i = 0; i < spans.length; i++) trace.push(this.span(spans[i]!, tid, ids, this.message(spans[i]!, first + i, given)));
      traces.push(trace);
    }
    return { traces, rejectedSpans, truncatedSpans };
  }

  /** The message of the payload's span `k`: its given JSON bytes, else JSON.stringify of the span; none with del_message. */
  private message(s: DdSpan, k: number, given: SpanJsons | undefined): TraceSpan['message'] {
    if (!this.o.message) return undefined;
    if (given === undefined) return spanMessage(s);
    return new Utf8String(given.arena.subarray(k === 0 ? 0 : given.ends[k - 1]!, given.ends[k]!));
  }

  /** What a meta key becomes: a tag, a field, or nothing (null); cached, keys repeat across spans. */
  classify(k: string): KeyClass | null {
    let c = this.classes.get(k);
    if (c === undefined) {
      let tag = META_TAGS.get(k) ?? this.custom.get(k);
      if (tag === undefined && this.customRes.some((r) => r.test(k))) tag = k.replace(/\./g, '_');
      const field = tag === undefined ? META_FIELDS.get(k) : undefined;
      c = tag === undefined && field === undefined ? null : { tag, field };
      if (this.classes.size >= 10_000) this.classes.clear(); // bounded: keys come from senders
      this.classes.set(k, c);
    }
    return c;
  }

  private span(s: DdSpan, tid: string | undefined, ids: TraceIdCache, message: TraceSpan['message']): TraceSpan {
    const otel = this.o.otelIds;
    if (ids.raw === undefined || ids.raw !== s.trace_id) {
      const dec = idDec(s.trace_id);
      ids.raw = s.trace_id;
      ids.dec = dec;
      ids.id = tid !== undefined ? tid + decToHex(dec) : otel || this.o.hex64 ? decToHex(dec) : dec;
    }
    const traceId = ids.id;
    const spanDec = idDec(s.span_id);
    const parentDec = idDec(s.parent_id);
    const tags: Record<string, string> = {};
    let fields: Record<string, FieldValue> | undefined;
    const meta = objOf(s.meta);
    let httpStatus: string | undefined;
    let origin: string | undefined;
    if (meta) {
      for (const k in meta) {
        const v = meta[k];
        if (typeof v !== 'string') continue;
        const c = this.classify(k);
        if (c === null) continue;
        if (c.tag !== undefined) {
          if (v.length > MAX_TAG_VALUE) (fields ??= {})[c.tag] = v;
          else tags[c.tag] = v;
        } else if (c.field !== undefined) (fields ??= {})[c.field] = v;
      }
      const hs = meta['http.status_code'];
      if (typeof hs === 'string') httpStatus = hs;
      const og = meta['_dd.origin'];
      if (typeof og === 'string') origin = og;
    }
    const type = str(s.type);
    const span: TraceSpan = {
      traceId,
      spanId: otel ? decToHex(spanDec) : spanDec,
      parentId: parentDec === '0' ? '0' : otel ? decToHex(parentDec) : parentDec,
      service: str(s.service),
      operation: str(s.name),
      resource: str(s.resource),
      sourceType: SOURCE_TYPES.get(type) ?? 'custom',
      spanType: '',
      startUs: micros(s.start),
      durationUs: micros(s.duration),
      error: num(s.error) !== 0,
      httpStatusCode: httpStatus,
      origin,
      tags,
      fields,
      message,
    };
    return span;
  }
}

/** Sampling priority ≤ 0 (auto-reject 0, user-reject −1, −3) on any span of the trace. */
function rejected(spans: DdSpan[]): boolean {
  for (const s of spans) {
    const p = objOf(s.metrics)?.['_sampling_priority_v1'];
    if (p !== undefined) return typeof p === 'number' && p <= 0;
  }
  return false;
}
