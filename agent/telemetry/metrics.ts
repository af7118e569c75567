/**
 * The agent's self-metrics (prom-client), one registry per agent so several
 * agents can run in one process (tests). Label sets are bounded: input names,
 * categories, sink names, error kinds and drop reasons are all finite.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class CoreMetrics {
  readonly registry = new Registry();
  readonly inputPoints = new Counter({ name: 'telekit_input_points_total', help: 'Points accepted from inputs', labelNames: ['input', 'category'], registers: [this.registry] });
  readonly inputErrors = new Counter({ name: 'telekit_input_errors_total', help: 'Runtime errors reported by inputs', labelNames: ['input', 'kind'], registers: [this.registry] });
  readonly dropped = new Counter({ name: 'telekit_points_dropped_total', help: 'Points dropped, by reason', labelNames: ['category', 'reason'], registers: [this.registry] });
  readonly queuePoints = new Gauge({ name: 'telekit_queue_points', help: 'Points queued (pending and in flight) per category', labelNames: ['category'], registers: [this.registry] });
  readonly queueCapacity = new Gauge({ name: 'telekit_queue_capacity_points', help: 'Queue capacity per category', labelNames: ['category'], registers: [this.registry] });
  readonly sinkPoints = new Counter({ name: 'telekit_sink_points_total', help: 'Points handled by sinks, by result (sent, rejected, dropped, spilled)', labelNames: ['sink', 'category', 'result'], registers: [this.registry] });
  readonly sinkRequests = new Counter({ name: 'telekit_sink_requests_total', help: 'Sink send attempts by result', labelNames: ['sink', 'category', 'result'], registers: [this.registry] });
  readonly sinkSeconds = new Histogram({
    name: 'telekit_sink_request_seconds',
    help: 'Latency of one sink send attempt',
    labelNames: ['sink', 'category'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly sinkRetries = new Counter({ name: 'telekit_sink_retries_total', help: 'Retried sink sends', labelNames: ['sink', 'category'], registers: [this.registry] });
  readonly httpRequests = new Counter({ name: 'telekit_http_requests_total', help: 'HTTP requests by route and status code', labelNames: ['route', 'code'], registers: [this.registry] });
  readonly busyGzipBodies = new Counter({ name: 'telekit_dataway_busy_gzip_bodies_total', help: 'Dataway bodies gzipped at ENV_DATAWAY_GZIP_LEVEL_BUSY (the agent over 60 % of its CPU), per dataway', registers: [this.registry] });
  readonly configReloads = new Counter({ name: 'telekit_config_reloads_total', help: 'Configuration reloads by result', labelNames: ['result'], registers: [this.registry] });

  constructor(defaultMetrics = true) {
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'telekit_' });
  }
}
