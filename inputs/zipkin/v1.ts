/**
 * Zipkin v1 JSON spans → {@link TraceSpan}. Service from the endpoint of the
 * core annotations (sr/ss/cs/cr) or of any annotation; binary annotations
 * become tags; `sr`/`ss` make an entry span, `cs`/`cr` an exit span;
 * timestamp/duration fall back to the annotations' range.
 */
import type { FieldValue, Utf8String } from '../../agent/model/point.js';
import { BadRequest } from '../../agent/services/trace/bad-request.js';
import type { SpanType, TraceSpan } from '../../agent/services/trace/span.js';
import { underscoreKey } from '../../agent/services/trace/span.js';
import { normId } from './v2.js';

const MAX_TAG_VALUE = 1024;

interface V1Endpoint {
  serviceName?: unknown;
}
interface V1Annotation {
  timestamp?: unknown;
  value?: unknown;
  endpoint?: V1Endpoint;
}
interface V1Binary {
  key?: unknown;
  value?: unknown;
  endpoint?: V1Endpoint;
}

function bad(msg: string): BadRequest {
  return new BadRequest(400, 'bad_payload', msg);
}

function arr<T>(v: unknown, what: string): T[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw bad(`${what} is not an array`);
  return v as T[];
}

function svc(e: V1Endpoint | undefined): string | undefined {
  return typeof e === 'object' && e !== null && typeof e.serviceName === 'string' && e.serviceName !== '' ? e.serviceName : undefined;
}

export function convertV1(o: unknown, message: string | Utf8String | undefined): TraceSpan {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw bad('a span is not an object');
  const s = o as Record<string, unknown>;
  const anns = arr<V1Annotation>(s.annotations, 'annotations');
  const bins = arr<V1Binary>(s.binaryAnnotations, 'binaryAnnotations');
  let service: string | undefined;
  let spanType: SpanType = '';
  let minTs = Infinity;
  let maxTs = -Infinity;
  for (const a of anns) {
    if (typeof a !== 'object' || a === null) throw bad('an annotation is not an object');
    const ts = typeof a.timestamp === 'number' ? a.timestamp : undefined;
    if (ts !== undefined) {
      minTs = Math.min(minTs, ts);
      maxTs = Math.max(maxTs, ts);
    }
    const v = a.value;
    if (v === 'sr' || v === 'ss') {
      spanType = 'entry';
      service = svc(a.endpoint) ?? service;
    } else if (v === 'cs' || v === 'cr') {
      if (spanType === '') spanType = 'exit';
      service ??= svc(a.endpoint);
    }
  }
  for (const a of anns) service ??= svc(a.endpoint);
  const tags: Record<string, string> = {};
  let fields: Record<string, FieldValue> | undefined;
  let error = false;
  let httpStatus: string | undefined;
  for (const b of bins) {
    if (typeof b !== 'object' || b === null || typeof b.key !== 'string') throw bad('a binary annotation has no key');
    service ??= svc(b.endpoint);
    const v = typeof b.value === 'string' ? b.value : JSON.stringify(b.value ?? '');
    if (b.key === 'error') error = true;
    if (b.key === 'http.status_code') httpStatus = v;
    if (v.length > MAX_TAG_VALUE) (fields ??= {})[underscoreKey(b.key)] = v;
    else tags[underscoreKey(b.key)] = v;
  }
  const name = typeof s.name === 'string' ? s.name : '';
  const ts = typeof s.timestamp === 'number' ? s.timestamp : Number.isFinite(minTs) ? minTs : 0;
  const dur = typeof s.duration === 'number' ? s.duration : Number.isFinite(minTs) ? maxTs - minTs : 0;
  return {
    traceId: normId(s.traceId, 'traceId', true),
    spanId: normId(s.id, 'id', true),
    parentId: normId(s.parentId, 'parentId', false),
    service: service ?? '',
    operation: name,
    resource: name,
    sourceType: 'custom',
    spanType,
    startUs: ts,
    durationUs: dur,
    error,
    httpStatusCode: httpStatus,
    tags,
    fields,
    message,
  };
}
