import { bool, duration, object, optional, str, tags, type Infer } from '../../agent/config/schema.js';

export const schema = object({
  /** Collection interval, clamped to [1s, 1m] like DataKit. */
  interval: duration('10s'),
  /** One point per core (tag cpu=cpuN) in addition to cpu-total. */
  percpu: bool(false),
  /** Average core temperature from hwmon (coretemp/k10temp) as `core_temperature`. */
  enable_temperature: bool(true),
  /** `load5s`: the run-queue length averaged over the interval, derived from load1. */
  enable_load5s: bool(true),
  /** Deprecated DataKit options, accepted and ignored. */
  totalcpu: optional(bool()),
  collect_cpu_time: optional(bool()),
  report_active: optional(bool()),
  disable_temperature_collect: optional(bool()),
  /** Host root when running in a container (else HOST_PROC / HOST_SYS / HOST_ROOT). */
  host_root: str(''),
  tags: tags(),
});

export type CpuConfig = Infer<typeof schema>;
