/** The zipkin input's trace worker thread (agent/services/trace/offthread.ts), with the v2-JSON-to-lines fast path (lines.ts). */
import { serveTraceJobs } from '../../agent/services/trace/offthread.js';
import type { ZipkinConfig } from './config.js';
import { ZipkinLineWriter } from './lines.js';
import { zipkinDecoder } from './request.js';

serveTraceJobs(
  (config) => zipkinDecoder(config as ZipkinConfig),
  (config, pipeline) => {
    const w = new ZipkinLineWriter(config as ZipkinConfig, pipeline);
    return (req, out, tags, now) => w.write(req, out, tags, now);
  },
);
