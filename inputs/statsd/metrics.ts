/**
 * The statsd input's self-metrics on the agent registry. Shared by every
 * `[[inputs.statsd]]` instance (prom-client refuses a second registration of a
 * name), so counters carry no instance label; gauges do (bounded by config).
 * Updated once per received batch, never per line.
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
}

function counter<L extends string>(reg: Registry, name: string, help: string, labelNames: L[]): Counter<L> {
  return (reg.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter({ name, help, labelNames, registers: [reg] });
}

function gauge<L extends string>(reg: Registry, name: string, help: string, labelNames: L[]): Gauge<L> {
  return (reg.getSingleMetric(name) as Gauge<L> | undefined) ?? new Gauge({ name, help, labelNames, registers: [reg] });
}

export function statsdMetrics(reg: Registry): StatsdMetrics {
  return {
    packets: counter(reg, 'telekit_statsd_packets_total', 'UDP packets or TCP line blocks parsed', ['protocol']),
    metrics: counter(reg, 'telekit_statsd_metrics_total', 'StatsD values aggregated, by type (c, g, ms, h, d, s, event, service_check)', ['type']),
    malformed: counter(reg, 'telekit_statsd_malformed_total', 'Lines skipped because they could not be parsed, by reason', ['reason']),
    dropped: counter(reg, 'telekit_statsd_dropped_total', 'Well-formed data dropped by a limit or an option, by reason', ['reason']),
    points: counter(reg, 'telekit_statsd_points_total', 'Points handed to the pipeline, by category', ['category']),
    series: gauge(reg, 'telekit_statsd_series', 'Live aggregation series', ['instance']),
    connections: gauge(reg, 'telekit_statsd_tcp_connections', 'Open TCP connections', ['instance']),
  };
}
