/**
 * Options every tracing input shares, with DataKit's names and defaults. An
 * input's schema spreads {@link traceOptionShape} next to its own options.
 */
import { bool, int, list, num, object, record, regex, str, tags, type Infer, type ObjectField } from '../../config/schema.js';

const samplerTable = object({ sampling_rate: num(1, { min: 0, max: 1 }) });

/**
 * `[sampler] sampling_rate = 0.3` in TOML. In env, DataKit's
 * `ENV_INPUT_<NAME>_SAMPLER` is the bare rate ("0.3"); a JSON table works too.
 */
const sampler: ObjectField<typeof samplerTable.shape> = {
  ...samplerTable,
  fromEnv(s, key, issues) {
    const t = s.trim();
    return /^[0-9]*\.?[0-9]+$/.test(t) ? { sampling_rate: Number(t) } : samplerTable.fromEnv(s, key, issues);
  },
};

export const traceOptionShape = {
  /** Regexes on span tag keys: matching tags are not added to points. */
  ignore_tags: list(regex(), []),
  /** Regexes on resources: a trace with a matching span is dropped (older form of close_resource for every service). */
  ignore_resources: list(regex(), []),
  /** Keeps a trace whose service+resource was not seen in the last hour, past the sampler. */
  keep_rare_resource: bool(false),
  /** HTTP status codes that do not make a span an error. */
  omit_err_status: list(str(), []),
  /** service → resource regexes; a trace with a matching span is dropped. Service `*` matches all. */
  close_resource: record(list(regex()), {}),
  sampler,
  /** Span meta keys promoted to point tags (`reg:` prefix for a regex). */
  customer_tags: list(str(), []),
  /** Leaves out the `message` field (the original span as JSON). */
  del_message: bool(false),
  /**
   * Worker threads that decode, map and encode spans (telekit's, not DataKit's):
   * 0 = up to one per two CPUs the process may use (defaultWorkers: affinity and cgroup quota; at least 1, at most 4),
   * started as requests come; -1 = on the main thread. Workers are used
   * while every sink takes encoded points as they are (v1 lines or v2 PBPoints records; not with OTLP forwarding).
   */
  workers: int(0, { min: -1, max: 64 }),
  tags: tags(),
};

const traceOptionsSchema = object(traceOptionShape);
export type TraceOptions = Infer<typeof traceOptionsSchema>;

/** The defaults, for tests and benches. */
export function defaultTraceOptions(over: Partial<TraceOptions> = {}): TraceOptions {
  return { ...traceOptionsSchema.defaultValue()!, ...over };
}
