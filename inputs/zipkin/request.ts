/**
 * A Zipkin request body → traces: the part of the input that runs on the main
 * thread or in a trace worker (agent/services/trace/offthread.ts) alike. `route` tells
 * v1 from v2; Content-Type tells JSON, proto3 (v2) and Thrift (v1) apart.
 */
import { isAscii } from 'node:buffer';
import { BadRequest } from '../../agent/services/trace/bad-request.js';
import type { Decoded, TraceDecoder, TraceRequest } from '../../agent/services/trace/offthread.js';
import { Utf8String } from '../../agent/model/point.js';
import type { TraceSpan } from '../../agent/services/trace/span.js';
import type { ZipkinConfig } from './config.js';
import { decodeProto } from './proto.js';
import { convertV1 } from './v1.js';
import { decodeThriftV1 } from './thrift.js';
import { groupTraces } from '../../agent/services/trace/span.js';
import { convertV2, decodeV2Json } from './v2.js';
import { splitJsonArrayRanges } from './json-split.js';

export const ZIPKIN_HEADERS = ['content-type'] as const;

export function zipkinDecoder(cfg: ZipkinConfig): TraceDecoder {
  const keep = !cfg.del_message;
  const json = (body: Buffer, convert: (o: unknown, msg: string | Utf8String | undefined) => TraceSpan): TraceSpan[] => {
    // an ASCII body (the usual case) decoded as Latin-1: the same string without UTF-8 decoding
    const text = isAscii(body) ? body.toString('latin1') : body.toString('utf8');
    const each = eachSpan(text, body, convert, keep);
    if (each !== undefined) return each;
    // not an array of valid spans: the whole body parsed at once gives the error (or the spans)
    const { spans, raw } = decodeV2Json(text, body);
    const out: TraceSpan[] = new Array(spans.length);
    for (let i = 0; i < spans.length; i++) {
      const s = spans[i];
      out[i] = convert(s, keep ? (raw ? raw[i] : JSON.stringify(s)) : undefined);
    }
    return out;
  };
  const v2 = (ct: string, body: Buffer): TraceSpan[] => {
    if (ct.includes('protobuf')) return decodeProto(body).map((s) => convertV2(s, keep ? JSON.stringify(s) : undefined));
    if (ct !== '' && !ct.includes('json')) throw new BadRequest(415, 'unsupported_media_type', `zipkin v2 takes application/json or application/x-protobuf, got ${ct}`);
    return json(body, convertV2);
  };
  const v1 = (ct: string, body: Buffer): TraceSpan[] => {
    if (ct.includes('thrift')) return decodeThriftV1(body).map((s) => convertV1(s, keep ? JSON.stringify(s) : undefined));
    if (ct !== '' && !ct.includes('json')) throw new BadRequest(415, 'unsupported_media_type', `zipkin v1 takes application/json, got ${ct}`);
    return json(body, convertV1);
  };
  return (req: TraceRequest): Decoded => {
    const spans = req.route === cfg.pathV1 ? v1(req.contentType, req.body) : v2(req.contentType, req.body);
    return { traces: groupTraces(spans) };
  };
}

/**
 * A JSON array of spans parsed and converted one element at a time: each
 * span's parsed object dies as soon as it is converted, so a request's garbage
 * stays in the worker's young generation instead of all of its parsed spans
 * being alive at once and promoted (a 500-span request parsed whole is ~3 MiB
 * of objects against trace workers' 2 MiB semi-spaces). Undefined when the
 * body is not such an array or a span does not parse or convert: the caller
 * then parses the whole body, which answers the same error as before.
 */
function eachSpan(text: string, body: Buffer, convert: (o: unknown, msg: string | Utf8String | undefined) => TraceSpan, keep: boolean): TraceSpan[] | undefined {
  const r = splitJsonArrayRanges(text);
  if (r === undefined) return undefined;
  // an ASCII body (as many bytes as characters) has the same offsets in bytes: messages are views of it
  const ascii = body.length === text.length;
  const out: TraceSpan[] = new Array(r.length >> 1);
  try {
    for (let i = 0; i < r.length; i += 2) {
      const t = text.slice(r[i], r[i + 1]);
      out[i >> 1] = convert(JSON.parse(t), keep ? (ascii ? new Utf8String(body.subarray(r[i], r[i + 1])) : t) : undefined);
    }
  } catch {
    return undefined;
  }
  return out;
}
