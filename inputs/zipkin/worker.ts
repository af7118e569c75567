/** The zipkin input's trace worker thread (agent/services/trace/offthread.ts). */
import { serveTraceJobs } from '../../agent/services/trace/offthread.js';
import type { ZipkinConfig } from './config.js';
import { zipkinDecoder } from './request.js';

serveTraceJobs((config) => zipkinDecoder(config as ZipkinConfig));
