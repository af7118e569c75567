/**
 * An ExportTraceServiceRequest (protobuf-decoded or OTLP/JSON) → the shared
 * {@link TraceSpan} model, as DataKit's opentelemetry input maps it:
 * service from the resource's `service.name`, ids in hex (decimal with
 * `compatible_ddtrace`), resource = span name, status error when the span's
 * status code is ERROR, `span_kind` tag, promoted attributes as tags
 * (select.ts), exception events as error_message/error_stack/error_type,
 * and the rest of the span as the JSON `message`.
 */
import type { FieldValue } from '../../agent/model/point.js';
import type { SpanType, TraceSpan } from '../../agent/services/trace/span.js';
import { anyField, anyJson, anyString, arr, attr, idDecimal, idHex, toBig, type AnyValue, type KeyValue } from './attrs.js';
import type { AttrSelector } from './select.js';

interface OtlpEvent {
  timeUnixNano?: unknown;
  name?: string;
  attributes?: KeyValue[];
}
interface OtlpLink {
  traceId?: unknown;
  spanId?: unknown;
  attributes?: KeyValue[];
}
interface OtlpSpan {
  traceId?: unknown;
  spanId?: unknown;
  parentSpanId?: unknown;
  traceState?: string;
  name?: string;
  kind?: number | string;
  startTimeUnixNano?: unknown;
  endTimeUnixNano?: unknown;
  attributes?: KeyValue[];
  events?: OtlpEvent[];
  links?: OtlpLink[];
  status?: { code?: number | string; message?: string } | null;
}
interface ScopeSpans {
  scope?: { name?: string; version?: string; attributes?: KeyValue[] } | null;
  spans?: OtlpSpan[];
}
interface ResourceSpans {
  resource?: { attributes?: KeyValue[] } | null;
  scopeSpans?: ScopeSpans[];
  /** OTLP before 0.15 (still sent by a few exporters). */
  instrumentationLibrarySpans?: ScopeSpans[];
}
export interface TraceRequestBody {
  resourceSpans?: ResourceSpans[];
}

export interface TraceMapOptions {
  select: AttrSelector;
  /** Ids as decimal (low 64 bits), DataKit's `compatible_ddtrace`. */
  decimalIds: boolean;
  /** DataKit's `split_service_name`: a db/rpc/messaging system's name becomes the service. */
  splitService: boolean;
  message: boolean;
}

export const KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
/** As the zipkin input: SERVER/CONSUMER start a service's part of the trace, CLIENT/PRODUCER leave it; others are derived from the trace. */
export const KIND_TYPE: readonly SpanType[] = ['', '', 'entry', 'exit', 'exit', 'entry'];
const JSON_KINDS: Record<string, number> = { SPAN_KIND_UNSPECIFIED: 0, SPAN_KIND_INTERNAL: 1, SPAN_KIND_SERVER: 2, SPAN_KIND_CLIENT: 3, SPAN_KIND_PRODUCER: 4, SPAN_KIND_CONSUMER: 5 };
const MAX_TAG_VALUE = 1024;
const ERROR = 2;

function enumNum(v: number | string | undefined, names: Record<string, number>): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return names[v] ?? Number(v) ?? 0;
  return 0;
}

const quoted = new Map<string, string>();
/** JSON.stringify of an attribute key, cached (keys repeat across spans). */
function quote(k: string): string {
  let q = quoted.get(k);
  if (q === undefined) {
    q = JSON.stringify(k);
    if (quoted.size > 10_000) quoted.clear();
    quoted.set(k, q);
  }
  return q;
}

/** One attribute as OTLP/JSON writes it, as JSON text: the message is built from these fragments. */
function kvJson(k: string, v: AnyValue | null | undefined): string {
  let value: string;
  if (v && typeof v === 'object' && v.stringValue != null) value = '{"stringValue":' + JSON.stringify(String(v.stringValue)) + '}';
  else if (v && typeof v === 'object' && v.intValue != null) value = '{"intValue":"' + toBig(v.intValue).toString() + '"}';
  else value = JSON.stringify(plain(v));
  return '{"key":' + quote(k) + ',"value":' + value + '}';
}

/** An attribute value as OTLP/JSON writes it, for the message. */
function plain(v: AnyValue | null | undefined): unknown {
  if (!v) return {};
  if (v.stringValue != null) return { stringValue: v.stringValue };
  if (v.intValue != null) return { intValue: toBig(v.intValue).toString() };
  if (v.doubleValue != null) return { doubleValue: v.doubleValue };
  if (v.boolValue != null) return { boolValue: v.boolValue };
  if (v.arrayValue != null) return { arrayValue: anyJson(v) };
  if (v.kvlistValue != null) return { kvlistValue: anyJson(v) };
  if (v.bytesValue != null) return { bytesValue: anyString(v) };
  return {};
}

export interface MappedSpans {
  spans: TraceSpan[];
  /** Spans refused (no valid trace or span id): reported as the OTLP partial success. */
  rejected: number;
}

export function mapTraces(req: TraceRequestBody, o: TraceMapOptions): MappedSpans {
  const spans: TraceSpan[] = [];
  let rejected = 0;
  const id = (v: unknown): string | undefined => {
    const h = idHex(v);
    return h === undefined || !o.decimalIds ? h : idDecimal(h);
  };
  for (const rs of arr(req.resourceSpans)) {
    if (!rs) continue;
    const resAttrs = arr(rs.resource?.attributes);
    const service = attr(resAttrs, 'service.name') || 'unknown_service';
    // resource attributes: the same tags and message entries for every span of the resource
    const resTags: Record<string, string> = {};
    const resFields: Record<string, FieldValue> = {};
    const resRest: string[] = [];
    split(resAttrs, o.select, resTags, resFields, o.message ? resRest : undefined, 'service.name');
    for (const ss of arr(rs.scopeSpans ?? rs.instrumentationLibrarySpans)) {
      if (!ss) continue;
      const scopeTags: Record<string, string> = { ...resTags };
      const scopeFields: Record<string, FieldValue> = { ...resFields };
      const scopeParts: string[] = o.message ? [...resRest] : [];
      split(arr(ss.scope?.attributes), o.select, scopeTags, scopeFields, o.message ? scopeParts : undefined);
      // the resource's and scope's attributes left for the message: one fragment shared by the scope's spans
      const scopeRest = scopeParts.join(',');
      for (const s of arr(ss.spans)) {
        if (!s) continue;
        const traceId = id(s.traceId);
        const spanId = id(s.spanId);
        const parentId = id(s.parentSpanId) ?? '0';
        if (traceId === undefined || spanId === undefined || traceId === '0' || spanId === '0') {
          rejected++;
          continue;
        }
        spans.push(mapSpan(s, traceId, spanId, parentId, service, scopeTags, scopeFields, scopeRest, o));
      }
    }
  }
  return { spans, rejected };
}

/** Sorts attributes into promoted tags, fields (numbers, long strings) and the rest (message). */
function split(attrs: readonly KeyValue[], select: AttrSelector, tags: Record<string, string>, fields: Record<string, FieldValue>, rest: string[] | undefined, skip?: string): void {
  for (const kv of attrs) {
    if (!kv || typeof kv.key !== 'string' || kv.key === '' || kv.key === skip) continue;
    const t = select.tagKey(kv.key);
    if (t === undefined) {
      rest?.push(kvJson(kv.key, kv.value));
      continue;
    }
    putAttr(t, kv.value, tags, fields);
  }
}

/** A promoted attribute's value as tag `t` (strings up to 1024 units) or as a field (numbers, booleans, long strings). */
export function putAttr(t: string, v: AnyValue | null | undefined, tags: Record<string, string>, fields: Record<string, FieldValue>): void {
  if (v?.stringValue != null || t === 'http_status_code') {
    const s = anyString(v) ?? '';
    if (s.length > MAX_TAG_VALUE) fields[t] = s;
    else tags[t] = s;
  } else {
    const f = anyField(v);
    if (f !== undefined) fields[t] = f;
  }
}

function sourceType(attrs: readonly KeyValue[]): string {
  for (const kv of attrs) {
    switch (kv?.key as unknown) {
      case 'http.method':
      case 'http.request.method':
      case 'http.scheme':
      case 'rpc.system':
        return 'web';
      case 'db.system':
        return 'db';
      case 'messaging.system':
        return 'message_queue';
    }
  }
  return 'custom';
}

function mapSpan(s: OtlpSpan, traceId: string, spanId: string, parentId: string, service: string, scopeTags: Record<string, string>, scopeFields: Record<string, FieldValue>, scopeRest: string, o: TraceMapOptions): TraceSpan {
  const attrs = arr(s.attributes);
  const tags: Record<string, string> = { ...scopeTags };
  const fields: Record<string, FieldValue> = { ...scopeFields };
  const rest: string[] | undefined = o.message ? (scopeRest === '' ? [] : [scopeRest]) : undefined;
  split(attrs, o.select, tags, fields, rest);
  const kind = enumNum(s.kind, JSON_KINDS);
  tags.span_kind = KINDS[kind] ?? 'unspecified';
  let svc = service;
  if (o.splitService) {
    const sys = attr(attrs, 'db.system') ?? attr(attrs, 'rpc.system') ?? attr(attrs, 'messaging.system');
    if (sys) {
      svc = sys;
      tags.base_service = service;
    }
  }
  let events: unknown[] | undefined;
  for (const e of arr(s.events)) {
    if (!e) continue;
    if (e.name === 'exception' && fields.error_message === undefined) {
      const ea = arr(e.attributes);
      const m = attr(ea, 'exception.message');
      const st = attr(ea, 'exception.stacktrace');
      const ty = attr(ea, 'exception.type');
      if (m !== undefined) fields.error_message = m;
      if (st !== undefined) fields.error_stack = st;
      if (ty !== undefined) fields.error_type = ty;
      continue;
    }
    if (rest) (events ??= []).push({ timeUnixNano: toBig(e.timeUnixNano).toString(), name: e.name ?? '', attributes: arr(e.attributes).map((kv) => ({ key: kv?.key ?? '', value: plain(kv?.value) })) });
  }
  const startNs = toBig(s.startTimeUnixNano);
  const endNs = toBig(s.endTimeUnixNano);
  const code = enumNum(s.status?.code ?? undefined, { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 });
  const httpStatus = tags.http_status_code ?? attr(attrs, 'http.response.status_code');
  let message: string | undefined;
  if (rest) {
    message = '{"attributes":[' + rest.join(',') + ']';
    if (events) message += ',"events":' + JSON.stringify(events);
    if (arr(s.links).length > 0) message += ',"links":' + JSON.stringify(arr(s.links).map((l) => ({ traceId: idHex(l?.traceId) ?? '', spanId: idHex(l?.spanId) ?? '', attributes: arr(l?.attributes).map((kv) => ({ key: kv?.key ?? '', value: plain(kv?.value) })) })));
    if (typeof s.status?.message === 'string' && s.status.message !== '') message += ',"status":' + JSON.stringify({ message: s.status.message });
    message += '}';
  }
  const name = typeof s.name === 'string' ? s.name : '';
  return {
    traceId,
    spanId,
    parentId,
    service: svc,
    operation: name,
    resource: name,
    sourceType: sourceType(attrs),
    spanType: KIND_TYPE[kind] ?? '',
    startUs: Number(startNs / 1000n),
    durationUs: endNs > startNs ? Number((endNs - startNs) / 1000n) : 0,
    timeNs: startNs > 0n ? startNs : undefined,
    error: code === ERROR,
    httpStatusCode: httpStatus,
    tags,
    fields,
    message,
  };
}
