/**
 * `[[inputs.opentelemetry]]`: receives OTLP traces, metrics and logs —
 * OTLP/HTTP (protobuf or JSON, gzip) on the agent's port at DataKit's paths
 * (`/otel/v1/traces|metrics|logs`), optionally the standard `/v1/*` paths on
 * a listener of its own (4318), and OTLP/gRPC on its own server (4317).
 * Traces go through the shared tracing pipeline (worker threads when the
 * sinks take lines); metrics become `otel_service` points, logs logging points.
 */
import type { InputDefinition, PortClaim } from '../../agent/input/contract.js';
import { lazyInput } from '../../agent/input/lazy.js';
import { parseListen } from '../../agent/server/listener.js';
import { schema, type OtelConfig } from './config.js';

export const opentelemetry: InputDefinition<OtelConfig> = {
  name: 'opentelemetry',
  envName: 'OTEL',
  description: 'Receives OpenTelemetry traces, metrics and logs over OTLP/HTTP and OTLP/gRPC',
  schema,
  ports: (config) => {
    const g = config.grpc;
    const claims: PortClaim[] = [];
    if (config.http.listen !== '') claims.push({ protocol: 'tcp', ...parseListen(config.http.listen), key: 'http.listen' });
    if (g.addr !== '' && (g.trace_enable || g.metric_enable || g.logs_enable)) claims.push({ protocol: 'tcp', ...parseListen(g.addr), key: 'grpc.addr' });
    return claims;
  },
  // the input's code (and its libraries) is loaded when an instance starts (agent/input/lazy.ts)
  create: (config, ctx) => lazyInput(async () => new (await import('./input.js')).OtelInput(config, ctx)),
};
