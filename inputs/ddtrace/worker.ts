/** The ddtrace input's trace worker thread (agent/services/trace/offthread.ts), with the msgpack-to-lines fast path (lines.ts). */
import { serveTraceJobs } from '../../agent/services/trace/offthread.js';
import type { DdtraceConfig } from './config.js';
import { DdLineWriter } from './lines.js';
import { ddDecoder } from './request.js';

serveTraceJobs(
  (config) => ddDecoder(config as DdtraceConfig),
  (config, pipeline) => {
    const w = new DdLineWriter(config as DdtraceConfig, pipeline);
    return (req, out, tags, now) => w.write(req, out, tags, now);
  },
);
