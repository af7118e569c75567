/**
 * The whole `[inputs.container]` schema (one singleton input): log tailing
 * options (this folder) and metric options (consumed by ./metrics/).
 * Defaults follow DataKit's container.conf (shared/spec/datakit.md).
 */
import { any, bool, regex, duration, int, list, object, optional, record, str, tags, type Field, type Infer, type Issue } from '../../agent/config/schema.js';
import { filterIssues } from './filter.js';

/** A list of `<type>:<glob>` container filters; bad prefixes are config errors. */
function filters(def: string[]): Field<string[]> {
  const base = list(str(), def);
  const check = (v: string[] | undefined, key: string, issues: Issue[]) => {
    if (v === undefined) return undefined;
    const bad = filterIssues(v);
    for (const message of bad) issues.push({ key, message });
    return bad.length > 0 ? undefined : v;
  };
  const f: Field<string[]> = {
    ...base,
    parse: (v: unknown, key: string, issues: Issue[]) => check(base.parse(v, key, issues), key, issues),
  };
  return f;
}

export const schema = object({
  // ---- metrics (./metrics/) ----
  enable_container_metric: bool(true),
  enable_pod_metric: bool(false),
  enable_k8s_metric: bool(true),
  container_include_metric: filters([]),
  container_exclude_metric: filters(['image:*logfwd*', 'image:*datakit*']),
  /** How often container/pod/k8s metrics are collected. */
  interval: duration('60s', { min: '1s' }),
  // ---- Prometheus scraping from pod annotations (inputs/prom's discovery) ----
  /** Scrape pods annotated `datakit/prom.instances` (as DataKit does with no prom config). */
  enable_prom_instances_annotation: bool(true),
  /** Also scrape pods annotated `prometheus.io/scrape: "true"` (`/port`, `/path`, `/scheme`). */
  enable_auto_discovery_of_prometheus_pod_annotations: bool(false),
  /** Kubelet base URL for the Summary API; default https://<node ip>:10250. */
  kubelet_url: optional(str()),

  // ---- logs ----
  container_include_log: filters([]),
  container_exclude_log: filters(['image:*logfwd*', 'image:*datakit*']),
  exclude_pause_container: bool(true),
  logging_remove_ansi_escape_codes: bool(false),
  logging_file_from_beginning: bool(false),
  /** A file with no saved position that is smaller than this is read from its start. */
  logging_file_from_beginning_threshold_size: int(20_000_000, { min: 0 }),
  logging_max_open_files: int(500, { min: -1 }),
  logging_enable_multiline: bool(true),
  logging_auto_multiline_detection: bool(true),
  /** Extra record-start patterns tried first by automatic multiline detection. */
  logging_auto_multiline_extra_patterns: list(regex(), []),
  /** `source regexp = new source`: renames the source of matching containers. */
  logging_extra_source_map: record(str(), {}),
  /** `source = multiline regexp`: default multiline pattern per source. */
  logging_source_multiline_map: record(regex(), {}),
  /** How often log directories are rescanned for new files (DataKit: logging_search_interval). */
  logging_search_interval: duration('10s', { min: '100ms' }),
  /** A line longer than this is cut and emitted in pieces (CRI partials are force-emitted at this size). */
  logging_max_line_bytes: int(512 * 1024, { min: 1024 }),
  /** Multiline: at most this many lines / bytes joined into one message. */
  logging_multiline_max_lines: int(1000, { min: 1 }),
  logging_multiline_max_bytes: int(512 * 1024, { min: 1024 }),
  /** Multiline: an unfinished message is flushed after this much quiet time. */
  logging_multiline_timeout: duration('3s', { min: '10ms' }),
  /** Add the `filepath` field to log points. */
  logging_enable_filepath_field: bool(true),
  pod_logs_dir: str('/var/log/pods'),
  docker_logs_dir: str('/var/lib/docker/containers'),
  /** containerd's task directory (`<dir>/<container id>/rootfs`), for `type: file` entries; '' = the usual path under HOST_ROOT. */
  logging_containerd_task_dir: str(''),
  /** The kubelet's pods directory (emptyDir volumes), for `type: file` entries; '' = the usual path under HOST_ROOT. */
  logging_kubelet_pods_dir: str(''),
  /** docker's data root (`<dir>/overlay2/<layer>/merged` is a container's root), for `type: file` entries; '' = /var/lib/docker under HOST_ROOT. */
  logging_docker_data_dir: str(''),
  /** CRI-O's containers/storage root (`<dir>/overlay/<layer>/merged`), for `type: file` entries; '' = /var/lib/containers/storage under HOST_ROOT. */
  logging_crio_storage_dir: str(''),
  /** Read size per file read (bytes). */
  logging_read_buffer_size: int(256 * 1024, { min: 4096 }),

  // ---- accepted for compatibility with DataKit's container.conf (unused) ----
  endpoints: optional(list(str())),
  docker_endpoint: optional(str()),
  containerd_address: optional(str()),
  kubernetes_url: optional(str()),
  bearer_token: optional(str()),
  bearer_token_string: optional(str()),
  enable_k8s_event: optional(bool()),
  enable_k8s_node_local: optional(bool()),
  extract_k8s_label_as_tags: optional(bool()),
  extract_k8s_label_as_tags_v2: optional(list(str())),
  extract_k8s_label_as_tags_v2_for_metric: optional(list(str())),
  exclude_pause_container_metric: optional(bool()),
  logging_blocking_mode: optional(bool()),
  logging_min_flush_interval: optional(any()),
  logging_force_flush_limit: optional(any()),
  container_max_concurrent: optional(any()),
  port_for_k8s_event: optional(any()),

  tags: tags(),
});

export type ContainerConfig = Infer<typeof schema>;

/** Options accepted only so DataKit configs load; listed once at start as unused. */
export const COMPAT_ONLY = [
  'endpoints',
  'docker_endpoint',
  'containerd_address',
  'kubernetes_url',
  'bearer_token',
  'bearer_token_string',
  'enable_k8s_event',
  'enable_k8s_node_local',
  'extract_k8s_label_as_tags',
  'extract_k8s_label_as_tags_v2',
  'extract_k8s_label_as_tags_v2_for_metric',
  'exclude_pause_container_metric',
  'logging_blocking_mode',
  'logging_min_flush_interval',
  'logging_force_flush_limit',
  'container_max_concurrent',
  'port_for_k8s_event',
] as const;
