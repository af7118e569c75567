/** Options of `[[inputs.ddtrace]]`: DataKit's names and defaults plus the shared tracing options. */
import { bool, int, list, object, str, type Infer } from '../../agent/config/schema.js';
import { traceOptionShape } from '../../agent/trace/options.js';

export const schema = object({
  endpoints: list(str(), ['/v0.3/traces', '/v0.4/traces', '/v0.5/traces']),
  /** Writes 128-bit trace ids (`_dd.p.tid`) as 32 hex characters. */
  trace_128_bit_id: bool(true),
  /** Writes span_id/parent_id (and 64-bit trace ids) in hex, as OpenTelemetry does. */
  compatible_otel: bool(false),
  /** Keeps traces the tracer marked rejected (sampling priority ≤ 0). DataKit always drops them. */
  keep_rejected_traces: bool(false),
  /** Spans kept per trace; 0 = no limit. */
  trace_max_spans: int(0, { min: 0 }),
  /** Largest request body accepted (after gunzip), MiB. */
  max_trace_body_mb: int(10, { min: 1 }),
  /** Answers `GET /info` like the Datadog agent (DataKit answers 404). */
  enable_info: bool(true),
  ...traceOptionShape,
});

export type DdtraceConfig = Infer<typeof schema>;
