/**
 * An OTLP trace request body → traces: the part of the input that runs on
 * the main thread or in a trace worker (agent/services/trace/offthread.ts)
 * alike. Content-Type tells protobuf from JSON.
 */
import { BadRequest } from '../../agent/services/trace/bad-request.js';
import type { Decoded, TraceDecoder, TraceRequest } from '../../agent/services/trace/offthread.js';
import type { OtelConfig } from './config.js';
import { decodeRequest, parseJsonRequest } from './proto.js';
import { AttrSelector } from './select.js';
import { mapTraces, type TraceRequestBody } from './traces.js';
import { groupTraces } from '../../agent/services/trace/span.js';

/** The request headers the decoder reads. */
export const OTEL_HEADERS = ['content-type'] as const;

/** `protobuf`, `json`, or undefined for a content type OTLP does not define. */
export function bodyFormat(contentType: string): 'protobuf' | 'json' | undefined {
  if (contentType.includes('protobuf')) return 'protobuf';
  if (contentType.includes('json')) return 'json';
  return undefined;
}

/** Decodes an OTLP body by content type: 415 for others. */
export function decodeBody(signal: 'traces' | 'metrics' | 'logs', contentType: string, body: Uint8Array): unknown {
  const f = bodyFormat(contentType);
  if (f === 'protobuf') return decodeRequest(signal, body);
  if (f === 'json') return parseJsonRequest(signal, body);
  throw new BadRequest(415, 'unsupported_media_type', `OTLP takes application/x-protobuf or application/json, got ${contentType || 'no content type'}`);
}


export function otelDecoder(cfg: OtelConfig): TraceDecoder {
  const o = { select: new AttrSelector(cfg.customer_tags, cfg.customer_tags_all), decimalIds: cfg.compatible_ddtrace, splitService: cfg.split_service_name, message: !cfg.del_message };
  return (req: TraceRequest): Decoded => {
    const { spans, rejected } = mapTraces(decodeBody('traces', req.contentType, req.body) as TraceRequestBody, o);
    return { traces: groupTraces(spans), dropped: rejected > 0 ? { invalid: rejected } : undefined };
  };
}
