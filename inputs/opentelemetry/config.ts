/** Options of `[[inputs.opentelemetry]]`: DataKit's names and defaults plus the shared tracing options. */
import { any, bool, int, object, optional, record, str, type Infer } from '../../agent/config/schema.js';
import { traceOptionShape } from '../../agent/services/trace/options.js';

const http = object({
  /** Receive OTLP/HTTP on the agent's port at the paths below. */
  enable: bool(true),
  /** Status of a successful answer: 200 (DataKit's default) or 202. */
  http_status_ok: int(200, { min: 200, max: 202 }),
  trace_api: str('/otel/v1/traces'),
  metric_api: str('/otel/v1/metrics'),
  logs_api: str('/otel/v1/logs'),
  /**
   * telekit's: also serve the standard paths `/v1/traces`, `/v1/metrics`,
   * `/v1/logs` on a listener of the input's own (e.g. `0.0.0.0:4318`, the
   * SDKs' default endpoint). Empty (default, as DataKit): off.
   */
  listen: str(''),
});

const grpc = object({
  trace_enable: bool(true),
  metric_enable: bool(true),
  /** telekit's: the logs service (DataKit serves it whenever gRPC runs). */
  logs_enable: bool(true),
  /** Address of the OTLP/gRPC server; empty = no gRPC. */
  addr: str('0.0.0.0:4317'),
  /** Largest gRPC message accepted (after decompression), bytes. */
  max_payload: int(16 * 1024 * 1024, { min: 1024 }),
});

export const schema = object({
  /** Promote every attribute to a tag (DataKit's customer_tags_all). */
  customer_tags_all: bool(false),
  /** Trace and span ids as decimal (low 64 bits), for DDTrace-style ids. */
  compatible_ddtrace: bool(false),
  /** A span's db.system / rpc.system / messaging.system becomes its service (the original in base_service). */
  split_service_name: bool(false),
  /** Longest log message, KiB: longer bodies are split into several points. */
  log_max: int(500, { min: 1 }),
  http,
  grpc,
  /** Headers (name = value) every HTTP request must carry; otherwise 400. */
  expected_headers: record(str(), {}),
  /** DataKit options accepted for compatibility and not used here. */
  clean_message: optional(any()),
  jmarshaler: optional(any()),
  tracing_metric_enable: optional(any()),
  tracing_metric_disable_global_host_tags: optional(any()),
  tracing_metric_tag_blacklist: optional(any()),
  tracing_metric_tag_whitelist: optional(any()),
  metric_enable_aggregate: optional(any()),
  compatible_zhaoshang: optional(any()),
  threads: optional(any()),
  storage: optional(any()),
  /** Deprecated in DataKit (older confs still carry them). */
  ignore_attribute_keys: optional(any()),
  pipelines: optional(any()),
  ...traceOptionShape,
});

export type OtelConfig = Infer<typeof schema>;
