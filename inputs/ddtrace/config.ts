/** Options of `[[inputs.ddtrace]]`: DataKit's names and defaults plus the shared tracing options. */
import { any, bool, int, list, object, optional, str, type Infer } from '../../agent/config/schema.js';
import { traceOptionShape } from '../../agent/services/trace/options.js';

export const schema = object({
  endpoints: list(str(), ['/v0.3/traces', '/v0.4/traces', '/v0.5/traces']),
  /** Writes 128-bit trace ids (`_dd.p.tid`) as 32 hex characters. */
  trace_128_bit_id: bool(true),
  /** Writes span_id/parent_id (and 64-bit trace ids) in hex, as OpenTelemetry does. */
  compatible_otel: bool(false),
  /** Keeps traces the tracer marked rejected (sampling priority ≤ 0). DataKit always drops them. */
  keep_rejected_traces: bool(false),
  /** Writes 64-bit trace ids in hex (B3/B3Multi compatibility). */
  trace_id_64_bit_hex: bool(false),
  /** Spans kept per trace; -1 or 0 = no limit. DataKit's default. */
  trace_max_spans: int(100_000, { min: -1 }),
  /** Largest request body accepted (after gunzip), MiB; -1 = the agent's limit. DataKit's default. */
  max_trace_body_mb: int(32, { min: -1 }),
  /** Accepts (and discards) tracer telemetry at /telemetry/proxy/api/v2/apmtelemetry instead of 404. */
  apmtelemetry_route_enable: bool(true),
  /** DataKit's worker-pool and local-cache tables: accepted for compatibility, not needed here. */
  threads: optional(any()),
  storage: optional(any()),
  /** Answers `GET /info` like the Datadog agent (DataKit answers 404). */
  enable_info: bool(true),
  ...traceOptionShape,
});

export type DdtraceConfig = Infer<typeof schema>;
