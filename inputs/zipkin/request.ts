/**
 * A Zipkin request body → traces: the part of the input that runs on the main
 * thread or in a trace worker (agent/services/trace/offthread.ts) alike. `route` tells
 * v1 from v2; Content-Type tells JSON, proto3 (v2) and Thrift (v1) apart.
 */
import { BadRequest } from '../../agent/services/trace/bad-request.js';
import type { Decoded, TraceDecoder, TraceRequest } from '../../agent/services/trace/offthread.js';
import type { Utf8String } from '../../agent/model/point.js';
import type { TraceSpan } from '../../agent/services/trace/span.js';
import type { ZipkinConfig } from './config.js';
import { decodeProto } from './proto.js';
import { convertV1 } from './v1.js';
import { decodeThriftV1 } from './thrift.js';
import { groupTraces } from '../../agent/services/trace/span.js';
import { convertV2, decodeV2Json } from './v2.js';

export const ZIPKIN_HEADERS = ['content-type'] as const;

export function zipkinDecoder(cfg: ZipkinConfig): TraceDecoder {
  const keep = !cfg.del_message;
  const json = (body: Buffer, convert: (o: unknown, msg: string | Utf8String | undefined) => TraceSpan): TraceSpan[] => {
    const { spans, raw } = decodeV2Json(body.toString('utf8'), body);
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
