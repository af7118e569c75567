/**
 * `[[inputs.zipkin]]`: receives Zipkin spans on the agent's HTTP server —
 * v1 JSON at pathV1, v2 JSON and proto3 at pathV2 (gzip bodies are inflated
 * by the core) — and, when `listen` is set, on a server of its own (Zipkin's
 * port 9411) so Envoy/Istio can send straight to the agent.
 */
import type { InputDefinition } from '../../agent/input/contract.js';
import { lazyInput } from '../../agent/input/lazy.js';
import { schema, type ZipkinConfig } from './config.js';
import { parseListen } from '../../agent/server/listener.js';

export const zipkin: InputDefinition<ZipkinConfig> = {
  name: 'zipkin',
  description: 'Receives Zipkin spans (v1 JSON, v2 JSON and proto3) and writes them as tracing points',
  schema,
  ports: (config) => {
    if (config.listen === '') return [];
    const { host, port } = parseListen(config.listen);
    return [{ protocol: 'tcp', host, port, key: 'listen' }];
  },
  // the receiver, its decoders and worker threads are loaded when an instance starts (agent/input/lazy.ts)
  create: (config, ctx) => lazyInput(async () => new (await import('./input.js')).ZipkinInput(config, ctx)),
};
