/** Options of `[[inputs.zipkin]]`: DataKit's names and defaults plus the shared tracing options. */
import { any, int, object, optional, str, type Infer } from '../../agent/config/schema.js';
import { traceOptionShape } from '../../agent/services/trace/options.js';

export const schema = object({
  pathV1: str('/api/v1/spans'),
  pathV2: str('/api/v2/spans'),
  /**
   * Also listen on this address with a server of the input's own (e.g.
   * `0.0.0.0:9411`, Zipkin's port), so Envoy/Istio can point at the agent
   * directly. Empty (default): only the agent's HTTP server.
   */
  listen: str(''),
  /** Largest request body accepted (after gunzip), MiB; -1 = the agent's limit. */
  max_trace_body_mb: int(32, { min: -1 }),
  /** DataKit's worker-pool and local-cache tables: accepted for compatibility, not needed here. */
  threads: optional(any()),
  storage: optional(any()),
  ...traceOptionShape,
});

export type ZipkinConfig = Infer<typeof schema>;
