/** The opentelemetry input's trace worker thread (agent/services/trace/offthread.ts). */
import { serveTraceJobs } from '../../agent/services/trace/offthread.js';
import type { OtelConfig } from './config.js';
import { otelDecoder } from './request.js';

serveTraceJobs((config) => otelDecoder(config as OtelConfig));
