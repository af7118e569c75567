/**
 * Container, pod and Kubernetes object metrics for `[inputs.container]`.
 *
 * Every `interval`:
 * - on every node, one kubelet Summary (`/stats/summary`) becomes
 *   `docker_containers` (enable_container_metric) and `kube_pod`
 *   (enable_pod_metric) points, with rates computed between two samples;
 * - on the elected leader only (or always when election is off), the caches
 *   of one informer per object kind become `kube_*` and `kubernetes` points
 *   (enable_k8s_metric).
 *
 * start() does no blocking I/O beyond starting informers; stop() is
 * idempotent, safe without start, and waits for an in-flight collection.
 */
import os from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Input, InputContext } from '../../../agent/input/contract.js';
import type { Point } from '../../../agent/model/point.js';
import type { ContainerConfig } from '../config.js';
import { ContainerFilter } from '../filter.js';
import type { ObjectWatcher } from './informers.js';
import { ApiServerProxySource, KubeletClient, SA_TOKEN_FILE, ScrapeError, defaultKubeletUrl, type SummarySource } from './kubelet.js';
import { objectPoints } from './objects.js';
import { parseQuantity } from './quantity.js';
import { RateTracker } from './rates.js';
import { summaryToPoints } from './summary.js';

/** Seams for tests and benchmarks; production uses the defaults. */
export interface MetricsDeps {
  /** Service-account token file sent to the kubelet (default: the in-pod path). */
  tokenFile?: string;
  /** Node CPU cores; default: the node's capacity from the API, else os.cpus(). */
  cpuCount?: () => number | undefined;
}

type Metrics = ReturnType<typeof selfMetrics>;

function selfMetrics(reg: Registry) {
  const get = <T>(name: string, make: () => T): T => (reg.getSingleMetric(name) as T | undefined) ?? make();
  return {
    collections: get('telekit_container_metrics_collections_total', () => new Counter({ name: 'telekit_container_metrics_collections_total', help: 'Metric collections by source (kubelet, objects) and result (ok, error, skipped)', labelNames: ['source', 'result'], registers: [reg] })),
    points: get('telekit_container_metrics_points_total', () => new Counter({ name: 'telekit_container_metrics_points_total', help: 'Metric points produced by source', labelNames: ['source'], registers: [reg] })),
    dropped: get('telekit_container_metrics_dropped_total', () => new Counter({ name: 'telekit_container_metrics_dropped_total', help: 'Metric points the pipeline did not accept (queue full)', labelNames: ['source'], registers: [reg] })),
    filtered: get('telekit_container_metrics_filtered_total', () => new Counter({ name: 'telekit_container_metrics_filtered_total', help: 'Containers and pods skipped by container_include_metric / container_exclude_metric', registers: [reg] })),
    seconds: get('telekit_container_metrics_collect_seconds', () => new Histogram({ name: 'telekit_container_metrics_collect_seconds', help: 'Duration of one collection by source', labelNames: ['source'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [reg] })),
  };
}

export class ContainerMetrics implements Input {
  private readonly filter: ContainerFilter;
  private readonly rates = new RateTracker();
  private readonly m: Metrics;
  /** Summary sources in order of preference; collections use `active`, switching after repeated failures. */
  private sources: SummarySource[] = [];
  private active = 0;
  private failures = 0;
  private watcher: ObjectWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;
  private abort = new AbortController();
  private started = false;
  private nodeCpu: { value: number | undefined; at: number } | undefined;

  constructor(
    private readonly config: ContainerConfig,
    private readonly ctx: InputContext,
    private readonly deps: MetricsDeps = {},
  ) {
    this.filter = new ContainerFilter(config.container_include_metric, config.container_exclude_metric);
    this.m = selfMetrics(ctx.metrics);
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.abort = new AbortController();
    const { config, ctx } = this;
    if (config.enable_container_metric || config.enable_pod_metric) {
      this.sources = this.summarySources();
      this.active = 0;
      this.failures = 0;
      if (this.sources.length > 0) {
        ctx.log.info({ kubelet: this.sources.map((x) => x.describe) }, 'Collecting container and pod metrics from the kubelet Summary API.');
      } else {
        ctx.log.info('No kubelet address (set kubelet_url, ENV_K8S_NODE_IP or ENV_K8S_NODE_NAME): container and pod metrics are off.');
      }
    }
    if (config.enable_k8s_metric) {
      if (!ctx.k8s) {
        ctx.log.info('No Kubernetes API configured: Kubernetes object metrics are off.');
      } else {
        const election = ctx.k8s.election;
        if (election) this.unsubscribe = election.onChange((leader) => this.follow(leader));
        // Not awaited: a slow API server must not hold up the agent's start; kinds report once listed.
        this.follow(election?.isLeader() ?? true);
      }
    }
    this.timer = setInterval(() => this.tick(), config.interval);
    this.timer.unref();
    this.tick();
  }

  /**
   * `kubelet_url` set: that kubelet only (`"apiserver"`: only the API server's node proxy).
   * Unset: the node's kubelet at https://<node IP>:10250, then the API server's node
   * proxy as a fallback when a Kubernetes API is configured.
   */
  private summarySources(): SummarySource[] {
    const { config, ctx } = this;
    const timeoutMs = Math.min(config.interval, 10_000);
    const kc = ctx.k8s?.kubeConfig as KubeConfig | undefined;
    const node = ctx.host.nodeName;
    const proxy = kc && node ? new ApiServerProxySource(kc, node, timeoutMs) : undefined;
    const direct = (url: string) => new KubeletClient({ url, tokenFile: this.deps.tokenFile ?? SA_TOKEN_FILE, timeoutMs });
    if (config.kubelet_url === 'apiserver') return proxy ? [proxy] : [];
    if (config.kubelet_url) return [direct(config.kubelet_url)];
    const url = defaultKubeletUrl(ctx.host.ip, node);
    return [...(url ? [direct(url)] : []), ...(proxy ? [proxy] : [])];
  }

  private follow(leader: boolean): void {
    this.lead(leader).catch((e: unknown) => this.ctx.acc.error('k8s_objects', e));
  }

  /** Starts the informers on becoming leader, stops them on losing it. */
  private async lead(leader: boolean): Promise<void> {
    if (!this.started) return;
    if (leader && !this.watcher) {
      const kc = this.ctx.k8s?.kubeConfig as KubeConfig | undefined;
      if (!kc) return;
      this.ctx.log.info('Leading: watching Kubernetes objects for object metrics.');
      // the Kubernetes client is loaded only where there is an API to watch
      const { ObjectWatcher } = await import('./informers.js');
      if (!this.started || this.watcher || !(this.ctx.k8s?.election?.isLeader() ?? true)) return; // stopped or lost the lead meanwhile
      this.watcher = new ObjectWatcher(kc, { onError: (kind, err) => this.ctx.acc.error(`k8s_watch_${kind}`, err) });
      await this.watcher.start();
    } else if (!leader && this.watcher) {
      this.ctx.log.info('No longer leading: Kubernetes object metrics stop on this node.');
      const w = this.watcher;
      this.watcher = undefined;
      await w.stop();
    }
  }

  private tick(): void {
    if (this.inflight) {
      this.m.collections.inc({ source: 'all', result: 'skipped' });
      return;
    }
    this.inflight = this.collect().finally(() => (this.inflight = undefined));
  }

  /** One collection; never throws. Exposed for benchmarks. */
  async collect(): Promise<void> {
    const now = Date.now();
    const source = this.sources[this.active];
    if (source) await this.collectKubelet(source, now);
    if (this.watcher) this.collectObjects(this.watcher, now);
  }

  private emit(source: string, points: Point[]): void {
    if (points.length === 0) return;
    // Object metrics describe the cluster, not this node: election tags, so `host` does not follow the leader.
    const accepted = this.ctx.acc.add(points, { electionTags: source === 'objects' });
    this.m.points.inc({ source }, points.length);
    if (accepted < points.length) this.m.dropped.inc({ source }, points.length - accepted);
  }

  private async collectKubelet(client: SummarySource, now: number): Promise<void> {
    const end = this.m.seconds.startTimer({ source: 'kubelet' });
    try {
      const summary = await client.summary(this.abort.signal);
      const pods = this.ctx.k8s?.pods;
      this.rates.beginRound();
      const res = summaryToPoints(summary, this.rates, {
        containers: this.config.enable_container_metric,
        pods: this.config.enable_pod_metric,
        filter: this.filter,
        podInfo: (ns, name) => pods?.get(ns, name),
        nodeName: this.ctx.host.nodeName || summary.node?.nodeName || '',
        cpuCount: await this.cpuCount(),
        nowMs: now,
      });
      this.rates.endRound();
      if (res.filtered > 0) this.m.filtered.inc(res.filtered);
      this.emit('kubelet', res.points);
      this.m.collections.inc({ source: 'kubelet', result: 'ok' });
      this.failures = 0;
    } catch (e) {
      if (this.abort.signal.aborted) return;
      this.m.collections.inc({ source: 'kubelet', result: 'error' });
      this.ctx.acc.error(e instanceof ScrapeError ? `kubelet_${e.kind}` : 'kubelet', e);
      // After 3 failures in a row, try the next source (direct kubelet ⇄ API server proxy).
      if (++this.failures >= 3 && this.sources.length > 1) {
        this.failures = 0;
        this.active = (this.active + 1) % this.sources.length;
        this.ctx.log.info({ from: client.describe, to: this.sources[this.active]!.describe }, 'The kubelet Summary source keeps failing; switching to the other one.');
      }
    } finally {
      end();
    }
  }

  private collectObjects(w: ObjectWatcher, now: number): void {
    const end = this.m.seconds.startTimer({ source: 'objects' });
    try {
      const points = objectPoints(w.lists(), BigInt(now) * 1_000_000n);
      this.emit('objects', points);
      this.m.collections.inc({ source: 'objects', result: 'ok' });
    } catch (e) {
      this.m.collections.inc({ source: 'objects', result: 'error' });
      this.ctx.acc.error('k8s_objects', e);
    } finally {
      end();
    }
  }

  /** Node CPU cores: from the Node's capacity (refreshed every 10 minutes), else this host's CPUs. */
  private async cpuCount(): Promise<number | undefined> {
    if (this.deps.cpuCount) return this.deps.cpuCount();
    const now = Date.now();
    if (this.nodeCpu && now - this.nodeCpu.at < 600_000) return this.nodeCpu.value;
    let value: number | undefined;
    const kc = this.ctx.k8s?.kubeConfig as KubeConfig | undefined;
    const nodeName = this.ctx.host.nodeName;
    if (kc && nodeName) {
      try {
        const { CoreV1Api } = await import('../../../agent/services/k8s/client.js');
        const node = await kc.makeApiClient(CoreV1Api).readNode({ name: nodeName });
        value = parseQuantity(node.status?.capacity?.cpu);
      } catch {
        value = undefined; // no `get nodes` permission or no API: fall back below
      }
    }
    value ??= os.cpus().length || undefined;
    this.nodeCpu = { value, at: now };
    return value;
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.abort.abort();
    await this.inflight?.catch(() => undefined);
    const w = this.watcher;
    this.watcher = undefined;
    await w?.stop();
    const sources = this.sources;
    this.sources = [];
    await Promise.allSettled(sources.map((x) => x.close()));
  }
}

export function createContainerMetrics(config: ContainerConfig, ctx: InputContext, deps?: MetricsDeps): Input {
  return new ContainerMetrics(config, ctx, deps);
}
