/**
 * Self-metrics shared by the tracing inputs: `telekit_<input>_requests_total`
 * and `telekit_<input>_spans_total`. Labels are bounded (route paths come from
 * config, codes and reasons from fixed sets).
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface TraceMetrics {
  /** Requests by route, HTTP status and reason (`ok`, `bad_payload`, `unsupported_media_type`, ...). */
  requests: Counter<'route' | 'code' | 'reason'>;
  /** Spans by result: `accepted`, `queue_full`, `closed`, `sampled_out`, `rejected_priority`, `ignored_resource`, `truncated`. */
  spans: Counter<'result'>;
  /** Worker threads decoding this input's requests (0: on the main thread). */
  workers: Gauge;
  /** Requests a worker wrote lines for, by path: `fast` (the input's own writer) or `generic` (decoder and pipeline). */
  paths: Counter<'path'>;
}

function counter<L extends string>(reg: Registry, name: string, help: string, labelNames: L[]): Counter<L> {
  const existing = reg.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [reg] });
}

export function traceMetrics(reg: Registry, input: string): TraceMetrics {
  return {
    requests: counter(reg, `telekit_${input}_requests_total`, `Requests received by the ${input} input, by route, status code and reason`, ['route', 'code', 'reason']),
    spans: counter(reg, `telekit_${input}_spans_total`, `Spans handled by the ${input} input, by result`, ['result']),
    paths: counter(reg, `telekit_${input}_worker_requests_total`, `Requests whose lines a ${input} worker wrote, by path: fast (the input's own writer) or generic (decoder and pipeline)`, ['path']),
    workers: (reg.getSingleMetric(`telekit_${input}_workers`) as Gauge | undefined) ?? new Gauge({ name: `telekit_${input}_workers`, help: `Worker threads decoding ${input} requests (0: the main thread)`, registers: [reg] }),
  };
}
