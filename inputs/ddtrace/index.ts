/**
 * `[[inputs.ddtrace]]`: receives Datadog tracer payloads (v0.3/v0.4 msgpack,
 * v0.5 string-table msgpack, v0.3 JSON) on the agent's HTTP server, answers
 * `GET /info` so tracers discover the endpoints, and feeds the shared tracing
 * pipeline.
 */
import type { InputDefinition } from '../../agent/input/contract.js';
import { lazyInput } from '../../agent/input/lazy.js';
import { schema, type DdtraceConfig } from './config.js';

export const ddtrace: InputDefinition<DdtraceConfig> = {
  name: 'ddtrace',
  description: 'Receives Datadog APM traces (v0.3/v0.4/v0.5) and writes them as tracing points',
  schema,
  // the receiver, its decoders and worker threads are loaded when an instance starts (agent/input/lazy.ts)
  create: (config, ctx) => lazyInput(async () => new (await import('./input.js')).DdtraceInput(config, ctx)),
};
