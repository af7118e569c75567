/**
 * The statsd input's self-metrics on the agent registry. Shared by every
 * `[[inputs.statsd]]` instance (prom-client refuses a second registration of a
 * name), so counters carry no instance label; gauges do (bounded by config).
 *
 * The hot path only bumps plain numbers; each instance registers a publisher
 * that moves them into prom-client, run when the registry is read (collect)
 * and at every flush. So a packet costs no prom-client call at all.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface StatsdMetrics {
  packets: Counter<'protocol'>;
  metrics: Counter<'type'>;
  malformed: Counter<'reason'>;
  dropped: Counter<'reason'>;
  points: Counter<'category'>;
  series: Gauge<'instance'>;
  connections: Gauge<'instance'>;
  /** Registers a publisher run before every read of these metrics; returns its removal. */
  onCollect(publish: () => void): () => void;
}

const shared = new WeakMap<Registry, StatsdMetrics>();

export function statsdMetrics(reg: Registry): StatsdMetrics {
  const have = shared.get(reg);
  if (have) return have;
  const publishers = new Set<() => void>();
  let running = false;
  // collect() runs per metric read; publishing once per read of any of them is enough
  const collect = () => {
    if (running) return;
    running = true;
    try {
      for (const p of publishers) p();
    } finally {
      running = false;
    }
  };
  const counter = <L extends string>(name: string, help: string, labelNames: L[]) => new Counter<L>({ name, help, labelNames, registers: [reg], collect });
  const gauge = <L extends string>(name: string, help: string, labelNames: L[]) => new Gauge<L>({ name, help, labelNames, registers: [reg], collect });
  const m: StatsdMetrics = {
    packets: counter('telekit_statsd_packets_total', 'UDP packets or TCP line blocks parsed', ['protocol']),
    metrics: counter('telekit_statsd_metrics_total', 'StatsD values aggregated, by type (c, g, ms, h, d, s, event, service_check)', ['type']),
    malformed: counter('telekit_statsd_malformed_total', 'Lines skipped because they could not be parsed, by reason', ['reason']),
    dropped: counter('telekit_statsd_dropped_total', 'Well-formed data dropped by a limit or an option, by reason', ['reason']),
    points: counter('telekit_statsd_points_total', 'Points handed to the pipeline, by category', ['category']),
    series: gauge('telekit_statsd_series', 'Live aggregation series', ['instance']),
    connections: gauge('telekit_statsd_tcp_connections', 'Open TCP connections', ['instance']),
    onCollect(p) {
      publishers.add(p);
      return () => publishers.delete(p);
    },
  };
  shared.set(reg, m);
  return m;
}
