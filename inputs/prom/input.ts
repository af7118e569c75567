/**
 * The prom input: scrapes the `urls` of a conf.d `[[inputs.prom]]` table and,
 * when asked, the pods of this node that carry a `datakit/prom.instances` or
 * `prometheus.io/scrape` annotation.
 *
 * Election of conf.d instances is the core's: it starts the input only while
 * this agent leads. Pod discovery is node-local, so an instance that discovers
 * pods is never elected (see index.ts).
 */
import type { Input, InputContext } from '../../agent/input/contract.js';
import type { PodEvent, PodInfo, PodWatcher } from '../../agent/services/k8s/types.js';
import { targetUrls, type PromConfig } from './config.js';
import { annotationInstances, prometheusInstances, shouldScrape, type PodInstance } from './discovery.js';
import { Scheduler } from './scheduler.js';
import { makeClient } from './scrape.js';
import { makeJob, promMetrics, RateLimitedLog, type PromMetrics, type TargetEnv } from './target.js';

function tlsOf(c: PromConfig) {
  const tls = c.tls_open || c.tls_ca !== '' || c.tls_cert !== '';
  const insecure = c.insecure_skip_verify || (c.tls_insecure_skip_verify ?? false);
  return tls || insecure ? { ca: c.tls_ca || undefined, cert: c.tls_cert || undefined, key: c.tls_key || undefined, insecureSkipVerify: insecure } : undefined;
}

/** The discovery running per pod watcher (one per agent). */
const owners = new WeakMap<PodWatcher, PromDiscovery>();

export interface DiscoveryOptions {
  podAnnotations: boolean;
  prometheusAnnotations: boolean;
  maxConcurrent: number;
}

/**
 * Keeps one scrape job per pod instance in sync with the pod watcher: pods
 * that appear, change their annotations or go away add, replace or remove
 * their jobs at once. Usable on its own (e.g. hosted by another input) through
 * {@link createPromDiscovery}.
 */
export class PromDiscovery implements Input {
  private readonly scheduler: Scheduler;
  private readonly metrics: PromMetrics;
  private readonly rl: RateLimitedLog;
  private readonly env: TargetEnv;
  /** pod uid → instance key → fingerprint */
  private readonly pods = new Map<string, Map<string, string>>();
  private unsubscribe: (() => void) | undefined;
  private started = false;
  private pods$: PodWatcher | undefined;

  constructor(
    private readonly ctx: InputContext,
    private readonly o: DiscoveryOptions,
  ) {
    this.metrics = promMetrics(ctx.metrics);
    this.rl = new RateLimitedLog(ctx.log);
    this.scheduler = new Scheduler(o.maxConcurrent, {
      onOverrun: () => this.metrics.skipped.inc({ reason: 'overrun' }),
      shouldRun: () => !ctx.acc.overloaded('metric'),
      onSkip: () => this.metrics.skipped.inc({ reason: 'backpressure' }),
    });
    this.env = { acc: ctx.acc, metrics: this.metrics, rl: this.rl, client: makeClient(undefined, 2) };
  }

  async start(): Promise<void> {
    const pods: PodWatcher | undefined = this.ctx.k8s?.pods;
    if (!pods) {
      this.ctx.log.info('No Kubernetes API configured: pod annotation discovery is off.');
      return;
    }
    // one discovery per pod watcher: a second instance asking for it would scrape every pod twice
    if (owners.has(pods)) {
      this.ctx.log.warn('Pod annotation discovery already runs in another prom instance; this one does not repeat it.');
      return;
    }
    owners.set(pods, this);
    this.pods$ = pods;
    this.started = true;
    this.unsubscribe = pods.subscribe((ev) => this.onEvent(ev));
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.pods$ && owners.get(this.pods$) === this) owners.delete(this.pods$);
    this.pods$ = undefined;
    if (!this.started) return;
    this.started = false;
    this.metrics.targets.dec({ kind: 'annotation' }, this.countTargets());
    this.pods.clear();
    await this.scheduler.stop();
    await this.env.client.close().catch(() => undefined);
  }

  /** Keys of the jobs running now (for tests). */
  jobKeys(): string[] {
    return this.scheduler.keys();
  }

  private countTargets(): number {
    let n = 0;
    for (const m of this.pods.values()) n += m.size;
    return n;
  }

  private onEvent(ev: PodEvent): void {
    try {
      if (ev.type === 'delete') this.sync(ev.pod, []);
      else this.sync(ev.pod, this.instancesOf(ev.pod));
    } catch (e) {
      this.ctx.acc.error('discovery', e);
    }
  }

  private instancesOf(pod: PodInfo): PodInstance[] {
    if (!shouldScrape(pod)) return [];
    const out: PodInstance[] = [];
    const errors: string[] = [];
    if (this.o.podAnnotations) {
      const r = annotationInstances(pod);
      out.push(...r.instances);
      errors.push(...r.errors);
    }
    if (this.o.prometheusAnnotations) {
      const r = prometheusInstances(pod);
      out.push(...r.instances);
      errors.push(...r.errors);
    }
    if (errors.length > 0) {
      this.metrics.errors.inc({ reason: 'config' }, errors.length);
      this.rl.warn(`config:${pod.uid}`, { pod: `${pod.namespace}/${pod.name}`, errors }, 'Ignoring invalid prom annotation.');
    }
    return out;
  }

  /** Makes the pod's jobs match `instances`: only changed instances are replaced. */
  private sync(pod: PodInfo, instances: PodInstance[]): void {
    const have = this.pods.get(pod.uid) ?? new Map<string, string>();
    const want = new Map<string, PodInstance>();
    for (const inst of instances) want.set(inst.key, inst);
    let delta = 0;
    for (const [key, fp] of have) {
      const w = want.get(key);
      if (w && w.fingerprint === fp) continue;
      for (const k of this.scheduler.keys()) if (k.startsWith(`${key}|`)) this.scheduler.remove(k);
      have.delete(key);
      delta--;
    }
    for (const [key, inst] of want) {
      if (have.has(key)) continue;
      const urls = targetUrls(inst.config);
      for (const url of urls) {
        // a new pod is scraped within seconds, then on its interval
        this.scheduler.add(makeJob(`${key}|${url}`, url, inst.config, inst.tags, this.env), 1_000);
      }
      have.set(key, inst.fingerprint);
      delta++;
    }
    if (have.size > 0) this.pods.set(pod.uid, have);
    else this.pods.delete(pod.uid);
    if (delta > 0) this.metrics.targets.inc({ kind: 'annotation' }, delta);
    else if (delta < 0) this.metrics.targets.dec({ kind: 'annotation' }, -delta);
  }
}

/** Pod annotation discovery as an Input, for the prom input or another host input. */
export function createPromDiscovery(ctx: InputContext, o: Partial<DiscoveryOptions> = {}): PromDiscovery {
  return new PromDiscovery(ctx, { podAnnotations: o.podAnnotations ?? true, prometheusAnnotations: o.prometheusAnnotations ?? false, maxConcurrent: o.maxConcurrent ?? 32 });
}

/** A conf.d `[[inputs.prom]]` instance. */
export class PromInput implements Input {
  private scheduler: Scheduler | undefined;
  private discovery: PromDiscovery | undefined;
  private env: TargetEnv | undefined;
  private targets = 0;

  constructor(
    private readonly config: PromConfig,
    private readonly ctx: InputContext,
  ) {}

  async start(): Promise<void> {
    const { config, ctx } = this;
    const metrics = promMetrics(ctx.metrics);
    const urls = targetUrls(config);
    if (urls.length > 0) {
      this.env = { acc: ctx.acc, metrics, rl: new RateLimitedLog(ctx.log), client: makeClient(tlsOf(config), config.max_concurrent_scrapes) };
      const scheduler = new Scheduler(config.max_concurrent_scrapes, {
        onOverrun: () => metrics.skipped.inc({ reason: 'overrun' }),
        shouldRun: () => !ctx.acc.overloaded('metric'),
        onSkip: () => metrics.skipped.inc({ reason: 'backpressure' }),
      });
      // the first scrape comes soon after start (within 1 s), then every interval
      for (const url of urls) scheduler.add(makeJob(url, url, config, {}, this.env), Math.min(config.interval, 1_000));
      this.scheduler = scheduler;
      this.targets = urls.length;
      metrics.targets.inc({ kind: 'config' }, urls.length);
    }
    if (config.discover_pod_annotations || config.discover_prometheus_annotations) {
      this.discovery = createPromDiscovery(ctx, {
        podAnnotations: config.discover_pod_annotations,
        prometheusAnnotations: config.discover_prometheus_annotations,
        maxConcurrent: config.max_concurrent_scrapes,
      });
      await this.discovery.start();
    }
    ctx.log.info({ urls: urls.length, discovery: Boolean(this.discovery) }, 'prom input started');
  }

  async stop(): Promise<void> {
    const s = this.scheduler;
    const d = this.discovery;
    this.scheduler = undefined;
    this.discovery = undefined;
    if (this.targets > 0) promMetrics(this.ctx.metrics).targets.dec({ kind: 'config' }, this.targets);
    this.targets = 0;
    await Promise.allSettled([s?.stop(), d?.stop()]);
    await this.env?.client.close().catch(() => undefined);
    this.env = undefined;
  }
}
