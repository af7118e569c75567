/**
 * The opentelemetry input's metrics worker thread: an OTLP metrics request to
 * `otel_service` line protocol, off the main thread. Protobuf bodies are read
 * byte by byte (metric-lines.ts); what that path declines is decoded, mapped
 * to points (metrics.ts) and written by LineBuf.point. It reuses the trace worker pool
 * (agent/services/trace/offthread.ts) through its line-writer fast path; the
 * pool's decoder only runs when the fast path declined, to answer a bad body
 * with its BadRequest. Started only while the metric category takes line
 * protocol as it is.
 */
import { serveTraceJobs } from '../../agent/services/trace/offthread.js';
import { decodeBody } from './request.js';
import { MetricLineWriter } from './metric-lines.js';
import { mapMetrics, TagInterner, type MetricsRequestBody } from './metrics.js';

let interner = new TagInterner();
let lastTags: Record<string, string> | undefined;
const fast = new MetricLineWriter();

serveTraceJobs(
  () => (req) => {
    decodeBody('metrics', req.contentType, req.body); // throws the request's BadRequest
    throw new Error('metrics worker: the request decoded on the second try');
  },
  () => (req, out, tags, now): Record<string, number> | undefined => {
    const written = fast.write(req, out, tags, now);
    if (written !== undefined) return written;
    let body: unknown;
    try {
      body = decodeBody('metrics', req.contentType, req.body);
    } catch {
      return undefined; // the decoder above answers with the reason
    }
    if (tags !== lastTags) {
      // the core's tags are part of the interned series tags
      interner = new TagInterner();
      lastTags = tags;
    }
    const { points, rejected } = mapMetrics(body as MetricsRequestBody, interner, tags);
    for (const p of points) out.point(p, now);
    return rejected > 0 ? { invalid: rejected } : {};
  },
);
