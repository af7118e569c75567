/**
 * `[[inputs.statsd]]` options. Names and defaults follow DataKit's statsd
 * input (shared/spec/datakit.md); options DataKit accepts but telekit does not
 * act on are still accepted so existing configs load (see README).
 */
import { any, bool, duration, int, list, num, object, oneOf, optional, str, tags, type Field, type Infer, type Issue } from '../../agent/config/schema.js';

/** Wraps a field with an extra check that reports config errors (no I/O). */
function checked<T>(base: Field<T>, check: (v: T) => string | undefined): Field<T> {
  const parse = (v: unknown, key: string, issues: Issue[]): T | undefined => {
    const r = base.parse(v, key, issues);
    if (r === undefined) return undefined;
    const msg = check(r);
    if (msg !== undefined) {
      issues.push({ key, message: msg });
      return undefined;
    }
    return r;
  };
  return { ...base, parse }; // fromEnv yields the raw value, which parse() then checks
}

export const PROTOCOLS = ['udp', 'udp4', 'udp6', 'tcp', 'tcp4', 'tcp6'] as const;

export const schema = object({
  /** Listener protocol; one listener per instance. */
  protocol: oneOf(PROTOCOLS, 'udp'),
  /** `host:port`; an empty host listens on every address. */
  service_address: checked(str(':8125'), (v) => (parseAddress(v) ? undefined : `expected "host:port" such as ":8125", got ${JSON.stringify(v)}`)),
  /** Flush (aggregation) interval. */
  interval: duration('10s', { min: '100ms' }),
  /** TCP only: connections beyond this are closed at once (counted). */
  max_tcp_connections: int(250, { min: 1 }),
  /** Received packets waiting to be parsed; beyond this packets are dropped (counted). */
  allowed_pending_messages: int(128, { min: 1 }),
  percentiles: list(num(undefined, { min: 0, max: 100 }), [50, 90, 99, 99.9, 99.95, 100]),
  /** Samples kept per timing series for percentiles (a uniform reservoir beyond this). */
  percentile_limit: int(1000, { min: 1 }),
  metric_separator: checked(str('_'), (v) => (v === '' ? 'must not be empty' : undefined)),
  delete_gauges: bool(true),
  delete_counters: bool(true),
  delete_sets: bool(true),
  delete_timings: bool(true),
  /** Deprecated DataKit alias of datadog_extensions; false turns extensions off. */
  parse_data_dog_tags: bool(true),
  /** DogStatsD `|#tags`, events `_e{}` and service checks `_sc`. */
  datadog_extensions: bool(true),
  /** DogStatsD distributions (`|d`); when off such lines are dropped. */
  datadog_distributions: bool(true),
  /** Tag keys removed from every metric. */
  drop_tags: list(str(), []),
  /** `"prefix:measurement"`: names starting with prefix go to that measurement, the rest is the field. */
  metric_mapping: checked(list(str(), []), (v) => {
    const bad = v.filter((e) => parseMappings([e]).length === 0);
    return bad.length > 0 ? `expected "prefix:measurement" entries, got ${bad.map((b) => JSON.stringify(b)).join(', ')}` : undefined;
  }),
  /** Series not updated for this long are forgotten (0 = never); matters with delete_* = false. */
  max_ttl: duration('0s'),
  /** Counters are floats (DataKit's current behaviour); true makes them integers. */
  set_counter_int: bool(false),
  /** A tag whose value replaces the point's `host` tag (DataKit's statsd_host_key). */
  statsd_host_key: str(''),
  /** A tag whose value becomes the `source` tag (DataKit's statsd_source_key). */
  statsd_source_key: str(''),
  /** Keep the statsd_host_key / statsd_source_key tags themselves. */
  save_above_key: bool(false),
  /** Socket receive buffer in bytes (SO_RCVBUF); the kernel caps it at net.core.rmem_max. */
  read_buffer_size: int(8 * 1024 * 1024, { min: 0 }),
  /**
   * telekit: live series limit; new series beyond it are dropped (counted) until the next flush frees room.
   * A series with its line-shape cache entries holds ~0.3 KiB (~30 MiB at the limit).
   */
  max_series: int(100_000, { min: 1 }),
  /** telekit: distinct members kept per set series per interval. */
  max_set_size: int(100_000, { min: 1 }),
  /** telekit: bytes of metric names, tag keys and values over the live series; new series beyond are dropped (counted). */
  max_series_bytes: int(16 << 20, { min: 1024 }),
  /** telekit: timing/histogram/distribution samples kept for percentiles over every series per interval; beyond it values still count in count/sum/mean/min/max. */
  max_timing_samples: int(1_000_000, { min: 1 }),
  /** telekit: set members kept over every set series per interval. */
  max_set_members: int(500_000, { min: 1 }),
  /** telekit: longest TCP line in bytes; longer lines are dropped (counted). */
  max_line_bytes: int(65_536, { min: 64 }),

  // Accepted for DataKit compatibility, not acted on (README explains).
  source: optional(str()),
  service_unix_address: optional(str()),
  udp_packet_size: optional(int()),
  tcp_keep_alive: optional(bool()),
  tcp_keep_alive_period: optional(duration()),
  templates: optional(any()),
  convert_names: optional(bool()),

  tags: tags(),
});

export type StatsdConfig = Infer<typeof schema>;

/** `metric_mapping` entries split into [prefix, measurement], in config order; malformed entries are left out. */
export function parseMappings(entries: readonly string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const e of entries) {
    const i = e.indexOf(':');
    if (i > 0 && i < e.length - 1) out.push([e.slice(0, i), e.slice(i + 1)]);
  }
  return out;
}

/** Splits `service_address` into host and port; undefined when the port is not 0..65535. */
export function parseAddress(addr: string): { host: string; port: number } | undefined {
  const i = addr.lastIndexOf(':');
  if (i < 0) return undefined;
  let host = addr.slice(0, i);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const p = addr.slice(i + 1);
  if (!/^\d{1,5}$/.test(p)) return undefined;
  const port = Number(p);
  return port <= 65535 ? { host, port } : undefined;
}
