/**
 * Self-metrics of Kubernetes discovery and election (`telekit_k8s_*`). Labels
 * are bounded: `reason` and `op` take a handful of fixed values.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface K8sMetrics {
  /** Watch reconnects, by reason: closed, timeout, gone, error. */
  watchRestarts: Counter<'reason'>;
  /** Full relists (initial list, after 410 Gone, after errors). */
  relists: Counter;
  /** Pods of this node currently known. */
  pods: Gauge;
  /** API, decoding and listener errors, by op: list, watch, decode, lease, listener. */
  errors: Counter<'op'>;
  /** 1 while this agent holds the election Lease. */
  leader: Gauge;
  /** Times this agent gained or lost leadership. */
  leaderChanges: Counter;
}

function counter<L extends string>(reg: Registry, name: string, help: string, labelNames: L[] = []): Counter<L> {
  return (reg.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter<L>({ name, help, labelNames, registers: [reg] });
}

function gauge(reg: Registry, name: string, help: string): Gauge {
  return (reg.getSingleMetric(name) as Gauge | undefined) ?? new Gauge({ name, help, registers: [reg] });
}

/** Gets or creates the metrics in `reg` (safe to call again with the same registry). */
export function k8sMetrics(reg: Registry): K8sMetrics {
  return {
    watchRestarts: counter(reg, 'telekit_k8s_watch_restarts_total', 'Pod watch reconnects, by reason (closed, timeout, gone, error)', ['reason']),
    relists: counter(reg, 'telekit_k8s_relists_total', 'Full pod lists (initial, after 410 Gone or errors)'),
    pods: gauge(reg, 'telekit_k8s_pods', 'Pods of this node known to the watcher'),
    errors: counter(reg, 'telekit_k8s_errors_total', 'Kubernetes API, decoding and listener errors, by op (list, watch, decode, lease, listener)', ['op']),
    leader: gauge(reg, 'telekit_k8s_election_leader', '1 while this agent holds the election Lease'),
    leaderChanges: counter(reg, 'telekit_k8s_election_changes_total', 'Times this agent gained or lost leadership'),
  };
}
