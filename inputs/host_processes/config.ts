import { bool, duration, list, optional, object, regex, str, tags, type Infer } from '../../agent/config/schema.js';

export const schema = object({
  /** Regexes on the process name: only matching processes get metrics (objects are not filtered, as in DataKit). */
  process_name: list(regex(), []),
  /** Processes younger than this are skipped (objects and metrics). */
  min_run_time: duration('10m'),
  /** Also send the `host_processes` metric (every `metric_interval`). */
  open_metric: bool(false),
  /** Add `listen_ports` (JSON list of the TCP ports the process listens on) to objects. */
  enable_listen_ports: bool(false),
  /** Only processes running in a container (those with a `container_id`). */
  only_container_processes: bool(false),
  /** Object interval, clamped to [30s, 15m] like DataKit. */
  object_interval: duration('5m'),
  /** Metric interval, clamped to [10s, 1m] like DataKit. */
  metric_interval: duration('30s'),
  /** Deprecated DataKit options, accepted and ignored (`open_files` is always sent). */
  enable_open_files: optional(bool()),
  pipeline: optional(str()),
  /** Host root when running in a container (else HOST_PROC / HOST_ROOT). */
  host_root: str(''),
  tags: tags(),
});

export type HostProcessesConfig = Infer<typeof schema>;
