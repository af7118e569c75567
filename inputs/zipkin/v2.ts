/**
 * Zipkin v2 spans (JSON, or proto3 decoded to the same shape) → the shared
 * {@link TraceSpan} model. Every tag becomes a point tag with `.` replaced by
 * `_` (values over 1024 bytes become fields); `error` in tags makes the span
 * an error; kind SERVER/CONSUMER is an entry, CLIENT/PRODUCER an exit.
 */
import { Utf8String, type FieldValue } from '../../agent/model/point.js';
import { BadRequest } from '../../agent/services/trace/bad-request.js';
import { underscoreKey, type TraceSpan, type SpanType } from '../../agent/services/trace/span.js';
import { splitJsonArrayRanges } from './json-split.js';

export interface V2Endpoint {
  serviceName?: string;
  ipv4?: string;
  ipv6?: string;
  port?: number;
}

export interface V2Span {
  traceId: string;
  id: string;
  parentId?: string;
  kind?: string;
  name?: string;
  timestamp?: number;
  duration?: number;
  localEndpoint?: V2Endpoint;
  remoteEndpoint?: V2Endpoint;
  annotations?: { timestamp: number; value: string }[];
  tags?: Record<string, string>;
  debug?: boolean;
  shared?: boolean;
}

const MAX_TAG_VALUE = 1024;
const HEX = /^[0-9a-f]+$/;
const KIND_TYPE = new Map<string, SpanType>([['SERVER', 'entry'], ['CONSUMER', 'entry'], ['CLIENT', 'exit'], ['PRODUCER', 'exit']]);

function bad(msg: string): BadRequest {
  return new BadRequest(400, 'bad_payload', msg);
}

/** A lowercase hex id padded to 16 (or 32 when longer than 16) characters. */
export function normId(v: unknown, what: string, required: boolean): string {
  if (v === undefined || v === null || v === '') {
    if (required) throw bad(`span without ${what}`);
    return '0';
  }
  if (typeof v !== 'string') throw bad(`${what} is not a string`);
  const s = v.toLowerCase();
  if (s.length > 32 || !HEX.test(s)) throw bad(`${what} ${JSON.stringify(v.slice(0, 40))} is not a hex id`);
  return s.length <= 16 ? s.padStart(16, '0') : s.padStart(32, '0');
}


/** Parses a v2 JSON body: the spans and, per span, its original text. */
export function decodeV2Json(text: string, body?: Buffer): { spans: unknown[]; raw: (string | Utf8String)[] | undefined } {
  let spans: unknown;
  try {
    spans = JSON.parse(text);
  } catch (e) {
    throw bad(`invalid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(spans)) throw bad('payload is not a JSON array of spans');
  const r = splitJsonArrayRanges(text);
  if (r === undefined || r.length !== spans.length * 2) return { spans, raw: undefined };
  const raw: (string | Utf8String)[] = new Array(spans.length);
  // An ASCII body (as many bytes as characters, the usual case) has the same offsets in bytes:
  // each span's text is then a view of the body, written to line protocol without a JS string.
  const ascii = body !== undefined && body.length === text.length;
  for (let i = 0; i < r.length; i += 2) raw[i >> 1] = ascii ? new Utf8String(body.subarray(r[i], r[i + 1])) : text.slice(r[i], r[i + 1]);
  return { spans, raw };
}

function num(v: unknown, what: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`${what} is not a number`);
  return v;
}

/** Converts one v2 span (validated here: the input is untrusted). */
export function convertV2(o: unknown, message: string | Utf8String | undefined): TraceSpan {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw bad('a span is not an object');
  const s = o as Record<string, unknown>;
  const traceId = normId(s.traceId, 'traceId', true);
  const spanId = normId(s.id, 'id', true);
  const parentId = normId(s.parentId, 'parentId', false);
  const le = s.localEndpoint as V2Endpoint | undefined;
  const service = typeof le === 'object' && le !== null && typeof le.serviceName === 'string' ? le.serviceName : '';
  const name = typeof s.name === 'string' ? s.name : '';
  const tags: Record<string, string> = {};
  let fields: Record<string, FieldValue> | undefined;
  let error = false;
  let httpStatus: string | undefined;
  const st = s.tags;
  if (st !== undefined && st !== null) {
    if (typeof st !== 'object' || Array.isArray(st)) throw bad('tags is not an object');
    const t = st as Record<string, unknown>;
    for (const k in t) {
      const v = t[k];
      const sv = typeof v === 'string' ? v : String(v);
      if (k === 'error') error = true;
      if (k === 'http.status_code') httpStatus = sv;
      if (sv.length > MAX_TAG_VALUE) (fields ??= {})[underscoreKey(k)] = sv;
      else tags[underscoreKey(k)] = sv;
    }
  }
  const kind = typeof s.kind === 'string' ? s.kind : '';
  return {
    traceId,
    spanId,
    parentId,
    service,
    operation: name,
    resource: name,
    sourceType: 'custom',
    spanType: KIND_TYPE.get(kind) ?? '',
    startUs: num(s.timestamp, 'timestamp'),
    durationUs: num(s.duration, 'duration'),
    error,
    httpStatusCode: httpStatus,
    tags,
    fields,
    message,
  };
}

