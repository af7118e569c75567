/**
 * The opentelemetry input's logs worker thread: decodes an OTLP logs request,
 * maps it to logging points, adds the core's tags where a point lacks the key
 * and writes their line protocol, off the main thread — as metrics-worker.ts
 * does for metrics. Started only while the logging category takes line
 * protocol as it is.
 */
import { serveTraceJobs } from '../../agent/services/trace/offthread.js';
import type { OtelConfig } from './config.js';
import { decodeBody } from './request.js';
import { mapLogs, type LogsRequestBody } from './logs.js';

serveTraceJobs(
  () => (req) => {
    decodeBody('logs', req.contentType, req.body); // throws the request's BadRequest
    throw new Error('logs worker: the request decoded on the second try');
  },
  (config) => {
    const cfg = config as OtelConfig;
    const opts = { maxMessage: cfg.log_max * 1024, decimalIds: cfg.compatible_ddtrace };
    return (req, out, tags, now): Record<string, number> | undefined => {
      let body: unknown;
      try {
        body = decodeBody('logs', req.contentType, req.body);
      } catch {
        return undefined; // the decoder above answers with the reason
      }
      const { points, rejected } = mapLogs(body as LogsRequestBody, opts);
      for (const p of points) {
        const t = p.tags;
        for (const k in tags) if (t[k] === undefined) t[k] = tags[k]!;
        out.point(p, now);
      }
      return rejected > 0 ? { invalid: rejected } : {};
    };
  },
);
