/**
 * Kubernetes discovery for the agent: the pods of this node (list + watch) and,
 * when ENV_ENABLE_ELECTION is set, leader election over a Lease. The core calls
 * {@link startK8s} once and hands `services` to every input as `ctx.k8s`.
 */
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { LeaseElection, type LeaseElectionOptions } from './election.js';
import { loadKubeConfig, SERVICE_ACCOUNT_DIR } from './kubeconfig.js';
import { K8sPodWatcher, type PodWatcherOptions } from './pod-watcher.js';
import type { K8sServices } from './types.js';

export { K8sPodWatcher, type PodWatcherOptions } from './pod-watcher.js';
export { LeaseElection, type LeaseElectionOptions } from './election.js';
export { loadKubeConfig } from './kubeconfig.js';
export { podInfoFromObject, ownerOf, parseQuantity, splitContainerId } from './pod-info.js';
export type * from './types.js';

/** Every environment variable startK8s reads (for the deploy manifest test and docs). */
export const K8S_ENV = [
  'KUBECONFIG',
  'KUBERNETES_SERVICE_HOST',
  'KUBERNETES_SERVICE_PORT',
  'ENV_K8S_NODE_NAME',
  'ENV_ENABLE_ELECTION',
  'ENV_NAMESPACE',
  'ENV_K8S_LEASE_NAMESPACE',
  'ENV_K8S_LEASE_NAME',
  'ENV_K8S_LEASE_DURATION',
  'ENV_HOSTNAME',
] as const;

export interface K8sRuntime {
  services: K8sServices;
  /** Stops the watch and the election (releasing the Lease if held). Idempotent. */
  stop(): Promise<void>;
}

export interface StartK8sOptions {
  env: Record<string, string | undefined>;
  log: Logger;
  metrics: Registry;
  /** Where the in-cluster token, CA and namespace files are (tests). */
  serviceAccountDir?: string;
  /** Overrides for the pod watcher (backoff, timeouts). */
  watch?: Partial<Omit<PodWatcherOptions, 'kubeConfig' | 'log' | 'metrics'>>;
  /** Overrides for the election (durations, lease name and namespace, identity). */
  election?: Partial<Omit<LeaseElectionOptions, 'kubeConfig' | 'log' | 'metrics'>>;
}

/**
 * The election Lease: in the agent's own namespace (where its Role can grant access to
 * leases), named `telekit`, or `telekit-<ENV_NAMESPACE>` when ENV_NAMESPACE names another
 * election scope (DataKit's ENV_NAMESPACE is a free-form scope, not a Kubernetes namespace).
 */
export function leaseLocation(env: Record<string, string | undefined>, agentNamespace: string): { namespace: string; name: string } {
  const scope = (env.ENV_NAMESPACE ?? '')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 50);
  return {
    namespace: env.ENV_K8S_LEASE_NAMESPACE || agentNamespace,
    name: env.ENV_K8S_LEASE_NAME || (scope && scope !== 'default' ? `telekit-${scope}` : 'telekit'),
  };
}

/**
 * ENV_K8S_LEASE_DURATION (`15s`, `2000ms`, or seconds) scales every election period the way
 * client-go's defaults relate (15 s lease: renew every 5 s, retry every 2 s, step down after 10 s).
 */
export function leaseTimings(
  text: string | undefined,
  log?: Logger,
): Pick<LeaseElectionOptions, 'leaseDurationMs' | 'renewIntervalMs' | 'retryIntervalMs' | 'renewDeadlineMs'> {
  if (!text) return {};
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(text);
  const ms = m ? Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000) : NaN;
  if (!(ms >= 1000)) {
    log?.warn({ value: text }, 'ENV_K8S_LEASE_DURATION is not a duration of at least 1s; using 15s');
    return {};
  }
  return { leaseDurationMs: ms, renewIntervalMs: ms / 3, retryIntervalMs: ms / 7.5, renewDeadlineMs: (ms * 2) / 3 };
}

/**
 * Starts discovery when a Kubernetes API is configured (KUBECONFIG, or in-cluster
 * credentials); otherwise logs one line and returns undefined. Never waits for the
 * API: `services.pods.synced()` resolves after the first successful list.
 */
export async function startK8s(opts: StartK8sOptions): Promise<K8sRuntime | undefined> {
  const { env } = opts;
  const log = opts.log; // the core passes a logger bound to { component: 'k8s' }
  let loaded;
  try {
    loaded = loadKubeConfig(env, opts.serviceAccountDir ?? SERVICE_ACCOUNT_DIR);
  } catch (err) {
    log.error({ err: String(err) }, 'The Kubernetes configuration could not be loaded; discovery off');
    return undefined;
  }
  if (!loaded) {
    log.info('no Kubernetes API configured; discovery off');
    return undefined;
  }
  const nodeName = env.ENV_K8S_NODE_NAME ?? '';
  if (!nodeName) log.warn('ENV_K8S_NODE_NAME is not set: watching the pods of every node');

  const pods = new K8sPodWatcher({ kubeConfig: loaded.kubeConfig, nodeName, log, metrics: opts.metrics, ...opts.watch });
  pods.start();

  let election: LeaseElection | undefined;
  if (env.ENV_ENABLE_ELECTION) {
    election = new LeaseElection({
      kubeConfig: loaded.kubeConfig,
      // unique even if two agents share a hostname (a constant ENV_HOSTNAME would otherwise make both leaders)
      identity: `${env.ENV_HOSTNAME || os.hostname()}_${randomUUID().slice(0, 8)}`,
      ...leaseLocation(env, loaded.namespace),
      ...leaseTimings(env.ENV_K8S_LEASE_DURATION, log),
      log,
      metrics: opts.metrics,
      ...opts.election,
    });
    election.start();
  }
  log.info({ source: loaded.source, server: loaded.server, nodeName, election: election?.describe() ?? 'off' }, 'Kubernetes discovery started');

  let stopping: Promise<void> | undefined;
  return {
    services: { pods, election, kubeConfig: loaded.kubeConfig },
    stop: () => (stopping ??= Promise.all([pods.stop(), election?.stop()]).then(() => undefined)),
  };
}
