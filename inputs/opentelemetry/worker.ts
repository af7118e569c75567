/** The opentelemetry input's trace worker thread (agent/services/trace/offthread.ts), with the protobuf-to-lines fast path (lines.ts). */
import { serveTraceJobs } from '../../agent/services/trace/offthread.js';
import type { OtelConfig } from './config.js';
import { OtlpLineWriter } from './lines.js';
import { otelDecoder } from './request.js';

serveTraceJobs(
  (config) => otelDecoder(config as OtelConfig),
  (config, pipeline) => {
    const w = new OtlpLineWriter(config as OtelConfig, pipeline);
    return (req, out, tags, now) => w.write(req, out, tags, now);
  },
);
