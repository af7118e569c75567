/**
 * `[[inputs.prom]]` options: DataKit's names and defaults (spec: "prom input").
 * The same schema validates conf.d tables and the tables of a pod's
 * `datakit/prom.instances` annotation.
 */
import { any, bool, duration, int, list, object, optional, record, regex, str, tags, type Infer } from '../../agent/config/schema.js';

export const METRIC_TYPES = ['counter', 'gauge', 'histogram', 'summary', 'untyped', 'info', 'stateset', 'gaugehistogram', 'unknown'] as const;

export const schema = object({
  /** Targets to scrape. `url` is DataKit's older single-target spelling; both are merged. */
  urls: list(str(), []),
  url: optional(str()),
  /** DataKit: ignore request errors of this instance (kept for compatibility; errors are always counted and never fatal). */
  ignore_req_err: bool(false),
  /** Source name of the instance (used in logs and the `telekit_prom_*` metrics' `source` label). */
  source: str('prom'),
  interval: duration('30s', { min: '100ms' }),
  timeout: duration('30s', { min: '10ms' }),
  /** Metric types to keep; empty keeps all. */
  metric_types: list(str(), []),
  /** Regexes on the metric name: when non-empty, only matching metrics are kept. */
  metric_name_filter: list(regex(), []),
  /** Regexes on the metric name: matching metrics are dropped. */
  metric_name_filter_ignore: list(regex(), []),
  measurement_prefix: str(''),
  measurement_name: str(''),
  measurements: list(object({ prefix: str(), name: str() }), []),
  keep_exist_metric_name: bool(false),
  honor_timestamps: bool(true),
  tags_ignore: list(str(), []),
  /** Regexes on tag values, per tag key: a sample whose tag value matches is dropped. */
  ignore_tag_kv_match: record(list(regex()), {}),
  tags_rename: object({
    overwrite_exist_tags: bool(false),
    mapping: record(str(), {}),
  }),
  http_headers: record(str(), {}),
  tls_open: bool(false),
  tls_ca: str(''),
  tls_cert: str(''),
  tls_key: str(''),
  insecure_skip_verify: bool(false),
  /** DataKit's spelling inside `[inputs.prom.tls]`-less configs. */
  tls_insecure_skip_verify: optional(bool()),
  bearer_token_file: str(''),
  /** DataKit `[inputs.prom.auth]`: `type = "bearer_token"`, `token` or `token_file`. */
  auth: record(str(), {}),
  disable_info_tag: bool(false),
  disable_host_tag: bool(false),
  disable_instance_tag: bool(false),
  election: bool(true),
  /** Largest accepted response body (bytes, after decompression). */
  max_body_bytes: int(64 * 1024 * 1024, { min: 1024 }),
  /** Scrapes in flight at once across every target of this instance. */
  max_concurrent_scrapes: int(32, { min: 1 }),
  /** Scrape the pods of this node that carry a `datakit/prom.instances` annotation. */
  discover_pod_annotations: bool(false),
  /** Scrape the pods of this node annotated `prometheus.io/scrape: "true"` (`/port`, `/path`, `/scheme`). */
  discover_prometheus_annotations: bool(false),
  /** Accepted for DataKit compatibility, not used. */
  as_logging: optional(any()),
  stream_size: optional(any()),
  max_batch_callback: optional(any()),
  tags: tags(),
});

export type PromConfig = Infer<typeof schema>;

/** The URLs of an instance: `urls` then `url`, without duplicates or blanks. */
export function targetUrls(c: PromConfig): string[] {
  const all = [...c.urls, ...(c.url ? [c.url] : [])].map((u) => u.trim()).filter((u) => u !== '');
  return [...new Set(all)];
}
