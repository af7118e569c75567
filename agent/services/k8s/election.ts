/**
 * Leader election over a coordination.k8s.io/v1 Lease, the way client-go's
 * leaderelection does it (client-node 1.x has no helper):
 *
 * - every candidate reads the Lease; a missing Lease is created (409 → someone else won);
 * - a Lease held by another identity is taken over only when it has not changed
 *   for leaseDurationSeconds as observed on OUR clock (so clock skew between nodes
 *   does not matter), or when its holder is empty (released);
 * - updates carry the read resourceVersion, so two candidates cannot both win (409);
 * - the leader renews every renewIntervalMs and steps down by itself when it could not
 *   renew for renewDeadlineMs (< lease duration), before anyone else may take over;
 * - stop() releases the Lease (empty holder) so another agent takes over at once.
 */
import type { KubeConfig, V1Lease } from '@kubernetes/client-node';
import { CoordinationV1Api, V1MicroTime } from './client.js';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { k8sMetrics, type K8sMetrics } from './metrics.js';
import type { Election } from './types.js';
import { abortable, describe, jitter, RateLimitedWarn, sleep, statusOf } from './util.js';

export interface LeaseElectionOptions {
  kubeConfig: KubeConfig;
  /** Namespace of the Lease. */
  namespace: string;
  /** Name of the Lease. Default `telekit`. */
  name?: string;
  /** This agent's identity (holderIdentity), unique per agent: the pod or node name. */
  identity: string;
  log: Logger;
  metrics: Registry;
  /** Default 15 s (written as whole seconds, at least 1). */
  leaseDurationMs?: number;
  /** How often the leader renews. Default 5 s. */
  renewIntervalMs?: number;
  /** How often a follower retries. Default 2 s. */
  retryIntervalMs?: number;
  /** The leader steps down when it could not renew for this long. Default 10 s; capped below the lease duration. */
  renewDeadlineMs?: number;
}

export class LeaseElection implements Election {
  private leader = false;
  private readonly listeners = new Set<(leader: boolean) => void>();
  private readonly api: CoordinationV1Api;
  private readonly metrics: K8sMetrics;
  private readonly warnOnce: RateLimitedWarn;
  private readonly stopSignal = new AbortController();
  private running: Promise<void> | undefined;
  private deadline: NodeJS.Timeout | undefined;
  /** resourceVersion of the Lease as last seen, and when (our monotonic clock) it last changed. */
  private observedRv = '';
  private observedAt = 0;
  private readonly name: string;
  private readonly durationSec: number;
  private readonly renewMs: number;
  private readonly retryMs: number;
  private readonly deadlineMs: number;

  constructor(private readonly opts: LeaseElectionOptions) {
    this.api = opts.kubeConfig.makeApiClient(CoordinationV1Api);
    this.metrics = k8sMetrics(opts.metrics);
    this.warnOnce = new RateLimitedWarn(opts.log);
    this.name = opts.name ?? 'telekit';
    this.durationSec = Math.max(1, Math.ceil((opts.leaseDurationMs ?? 15_000) / 1000));
    this.renewMs = opts.renewIntervalMs ?? 5000;
    this.retryMs = opts.retryIntervalMs ?? 2000;
    this.deadlineMs = Math.min(opts.renewDeadlineMs ?? 10_000, Math.floor(this.durationSec * 1000 * 0.8));
  }

  /** `<namespace>/<lease> as <identity>`, for logs. */
  describe(): string {
    return `${this.opts.namespace}/${this.name} as ${this.opts.identity}`;
  }

  isLeader(): boolean {
    return this.leader;
  }

  onChange(listener: (leader: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts campaigning in the background. Idempotent. */
  start(): void {
    if (this.running || this.stopSignal.signal.aborted) return;
    this.running = this.loop();
  }

  /** Stops campaigning; a leader steps down and releases the Lease. Idempotent; safe without start. */
  stop(): Promise<void> {
    return (this.stopping ??= this.doStop());
  }

  private stopping: Promise<void> | undefined;
  /** The current acquire/renew attempt (it may outlive the loop when stop() cuts it short). */
  private inflight: Promise<boolean> | undefined;

  private async doStop(): Promise<void> {
    this.stopSignal.abort();
    if (!this.running) return;
    await this.running;
    const bounded = <T>(p: Promise<T>) => abortable(p, new AbortController().signal, 2000).catch(() => undefined);
    // an attempt cut short by stop() may still land and make us the holder: let it finish first
    if (this.inflight) await bounded(this.inflight);
    const wasLeader = this.leader;
    if (wasLeader) this.setLeader(false);
    await bounded(this.release(wasLeader));
  }

  private async loop(): Promise<void> {
    const signal = this.stopSignal.signal;
    while (!signal.aborted) {
      let ok = false;
      try {
        // a hung request must not keep stop() waiting or the loop frozen (the renew deadline still applies)
        this.inflight = this.tryAcquireOrRenew();
        ok = (await abortable(this.inflight, signal, this.deadlineMs)) ?? false;
      } catch (err) {
        this.metrics.errors.inc({ op: 'lease' });
        this.warnOnce.warn({ err: describe(err), lease: `${this.opts.namespace}/${this.name}` }, 'Leader election: Lease request failed');
      }
      if (signal.aborted) break;
      if (ok) {
        this.armDeadline();
        this.setLeader(true);
      } else if (this.leader && this.lostTo !== undefined) {
        this.setLeader(false); // someone else holds it now
      }
      await sleep(jitter(ok ? this.renewMs : this.retryMs), signal);
    }
  }

  /** Set when the last attempt saw the Lease held by another identity. */
  private lostTo: string | undefined;

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, identity } = this.opts;
    const name = this.name;
    this.lostTo = undefined;
    let lease: V1Lease | undefined;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
    const now = () => new V1MicroTime();
    if (!lease) {
      try {
        const created = await this.api.createNamespacedLease({
          namespace,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name, namespace },
            spec: { holderIdentity: identity, leaseDurationSeconds: this.durationSec, acquireTime: now(), renewTime: now(), leaseTransitions: 0 },
          },
        });
        this.observe(created);
        return true;
      } catch (err) {
        if (statusOf(err) === 409) return false;
        throw err;
      }
    }
    this.observe(lease);
    const spec = (lease.spec ??= {});
    const holder = spec.holderIdentity ?? '';
    const durationMs = (spec.leaseDurationSeconds ?? this.durationSec) * 1000;
    const expired = holder === '' || performance.now() > this.observedAt + durationMs;
    if (holder !== identity && !expired) {
      this.lostTo = holder;
      return false;
    }
    if (holder !== identity) {
      spec.acquireTime = now();
      spec.leaseTransitions = (spec.leaseTransitions ?? 0) + 1;
    } else if (spec.acquireTime !== undefined) {
      spec.acquireTime = toMicro(spec.acquireTime);
    }
    spec.holderIdentity = identity;
    spec.leaseDurationSeconds = this.durationSec;
    spec.renewTime = now();
    try {
      this.observe(await this.api.replaceNamespacedLease({ name, namespace, body: lease }));
      return true;
    } catch (err) {
      if (statusOf(err) === 409) return false;
      throw err;
    }
  }

  private observe(lease: V1Lease): void {
    const rv = lease.metadata?.resourceVersion ?? '';
    if (rv !== this.observedRv) {
      this.observedRv = rv;
      this.observedAt = performance.now();
    }
  }

  /** Gives the Lease up (if we hold it) so that another agent takes over without waiting for it to expire. */
  private async release(wasLeader: boolean): Promise<void> {
    const { namespace, identity } = this.opts;
    try {
      const lease = await this.api.readNamespacedLease({ name: this.name, namespace });
      if (lease.spec?.holderIdentity !== identity) return;
      lease.spec.holderIdentity = '';
      lease.spec.leaseDurationSeconds = 1;
      lease.spec.renewTime = new V1MicroTime();
      if (lease.spec.acquireTime !== undefined) lease.spec.acquireTime = toMicro(lease.spec.acquireTime);
      await this.api.replaceNamespacedLease({ name: this.name, namespace, body: lease });
    } catch (err) {
      if (!wasLeader) return; // a follower only checked; nothing to report
      this.metrics.errors.inc({ op: 'lease' });
      this.opts.log.warn({ err: describe(err) }, 'Leader election: could not release the Lease; it will expire');
    }
  }

  /** The leader steps down when no renewal succeeds within renewDeadlineMs. */
  private armDeadline(): void {
    clearTimeout(this.deadline);
    this.deadline = setTimeout(() => {
      if (this.leader) {
        this.opts.log.warn({ lease: `${this.opts.namespace}/${this.name}` }, 'Leader election: could not renew the Lease in time; stepping down');
        this.setLeader(false);
      }
    }, this.deadlineMs);
    this.deadline.unref();
  }

  private setLeader(leader: boolean): void {
    if (!leader) clearTimeout(this.deadline);
    if (leader === this.leader) return;
    this.leader = leader;
    this.metrics.leader.set(leader ? 1 : 0);
    this.metrics.leaderChanges.inc();
    this.opts.log.info({ lease: `${this.opts.namespace}/${this.name}`, identity: this.opts.identity }, leader ? 'Became the leader' : 'No longer the leader');
    for (const l of this.listeners) {
      try {
        l(leader);
      } catch (err) {
        this.metrics.errors.inc({ op: 'listener' });
        this.warnOnce.warn({ err: String(err) }, 'An election listener threw; continuing');
      }
    }
  }
}

/** Re-wraps a time read back from the API (a string or Date) so it serializes with microseconds. */
function toMicro(t: Date | string): V1MicroTime {
  return new V1MicroTime(t instanceof Date ? t.getTime() : Date.parse(t));
}
