/** The ddtrace input's trace worker thread (agent/trace/offthread.ts). */
import { serveTraceJobs } from '../../agent/trace/offthread.js';
import type { DdtraceConfig } from './config.js';
import { ddDecoder } from './request.js';

serveTraceJobs((config) => ddDecoder(config as DdtraceConfig));
