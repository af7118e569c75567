/**
 * A ddtrace request body → traces: the part of the input that runs on the
 * main thread or in a trace worker (agent/services/trace/offthread.ts) alike.
 */
import { BadRequest } from '../../agent/services/trace/bad-request.js';
import type { Decoded, TraceDecoder, TraceRequest } from '../../agent/services/trace/offthread.js';
import type { DdtraceConfig } from './config.js';
import { DdConverter, type ConvertOptions } from './convert.js';
import { decodeJson, decodeMsgpack, decodeV05, type DdSpan } from './decode.js';
import { spanJsons, type SpanJsons } from './msgjson.js';

/** The request headers the decoder reads. */
export const DD_HEADERS = ['content-type', 'datadog-meta-lang', 'datadog-container-id'] as const;

/** The converter's options from the input's configuration (the generic path and the fast path share them). */
export function convertOptions(cfg: DdtraceConfig): ConvertOptions {
  return {
    trace128: cfg.trace_128_bit_id,
    otelIds: cfg.compatible_otel,
    keepRejected: cfg.keep_rejected_traces,
    maxSpans: cfg.trace_max_spans,
    hex64: cfg.trace_id_64_bit_hex,
    message: !cfg.del_message,
    customerTags: cfg.customer_tags,
  };
}

export function ddDecoder(cfg: DdtraceConfig): TraceDecoder {
  const converter = new DdConverter(convertOptions(cfg));
  const keepMessage = !cfg.del_message;
  return (req: TraceRequest): Decoded => {
    const ct = req.contentType;
    const msgpack = ct.includes('msgpack');
    let payload: DdSpan[][];
    let messages: SpanJsons | undefined;
    if (req.route.includes('v0.5')) {
      if (!msgpack && ct !== '') throw new BadRequest(415, 'unsupported_media_type', `v0.5 takes application/msgpack, got ${ct}`);
      payload = decodeV05(req.body);
    } else if (msgpack) {
      payload = decodeMsgpack(req.body);
      // each span's JSON straight from the msgpack bytes (msgjson.ts), instead of JSON.stringify per span
      if (keepMessage) messages = spanJsons(req.body);
    } else payload = decodeJson(req.body);
    const { traces, rejectedSpans, truncatedSpans } = converter.convert(payload, messages);
    const extra = requestTags(req.headers);
    if (extra) for (const t of traces) for (const s of t) for (const k in extra) if (!Object.hasOwn(s.tags, k)) s.tags[k] = extra[k]!;
    return { traces, dropped: { rejected_priority: rejectedSpans, truncated: truncatedSpans } };
  };
}

/** Tags from tracer headers: Datadog-Meta-Lang → language, Datadog-Container-ID → container_id. */
export function requestTags(h: Record<string, string>): Record<string, string> | undefined {
  const lang = h['datadog-meta-lang'];
  const cid = h['datadog-container-id'];
  if (!lang && !cid) return undefined;
  const t: Record<string, string> = {};
  if (lang) t.language = lang.slice(0, 64);
  if (cid) t.container_id = cid.slice(0, 128);
  return t;
}
