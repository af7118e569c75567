/**
 * The pods of this node, kept current by a list + watch loop over
 * @kubernetes/client-node's typed list call and its `Watch`.
 *
 * Why not client-node's ListWatch/makeInformer: it stops for good after any
 * watch error other than 410/timeouts (the caller must restart it), and a
 * stop() during a list or while the watch request is connecting leaves a watch
 * open. This loop owns reconnects (jittered exponential backoff), relists on
 * 410 Gone, and aborts whatever is in flight on stop().
 */
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import { CoreV1Api, Watch } from './client.js';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { k8sMetrics, type K8sMetrics } from './metrics.js';
import { podInfoFromObject } from './pod-info.js';
import type { PodEvent, PodInfo, PodWatcher } from './types.js';
import { abortable, describe, jitter, RateLimitedWarn, sleep, statusOf } from './util.js';

export interface PodWatcherOptions {
  kubeConfig: KubeConfig;
  /** Only pods with this spec.nodeName (fieldSelector); empty = every pod of the cluster. */
  nodeName: string;
  log: Logger;
  metrics: Registry;
  /** First delay before reconnecting after a failure; doubles up to maxBackoffMs. Default 1 s. */
  backoffMs?: number;
  /** Default 30 s. */
  maxBackoffMs?: number;
  /** A watch that delivers nothing (not even a bookmark, sent about once a minute) for this long is restarted. Default 90 s. */
  watchInactivityMs?: number;
  /** Server-side watch timeout; each watch asks for a random value between this and twice this. Default 300 s. */
  watchTimeoutSeconds?: number;
  /** Timeout of each list call. Default 60 s. */
  listTimeoutMs?: number;
  /** Page size of the list call. Default 500. */
  pageSize?: number;
}

type Outcome = 'closed' | 'timeout' | 'gone' | 'error';

const podKey = (namespace: string, name: string) => `${namespace}/${name}`;

export class K8sPodWatcher implements PodWatcher {
  private readonly pods = new Map<string, PodInfo>();
  private readonly listeners = new Set<(ev: PodEvent) => void>();
  private readonly core: CoreV1Api;
  private readonly watcher: Watch;
  private readonly metrics: K8sMetrics;
  private readonly warnOnce: RateLimitedWarn;
  private readonly stopSignal = new AbortController();
  private current: AbortController | undefined;
  private running: Promise<void> | undefined;
  private resourceVersion = '';
  private resolveSynced!: () => void;
  private readonly syncedPromise = new Promise<void>((r) => (this.resolveSynced = r));

  constructor(private readonly opts: PodWatcherOptions) {
    this.core = opts.kubeConfig.makeApiClient(CoreV1Api);
    this.watcher = new Watch(opts.kubeConfig);
    this.metrics = k8sMetrics(opts.metrics);
    this.warnOnce = new RateLimitedWarn(opts.log);
  }

  list(): PodInfo[] {
    return [...this.pods.values()];
  }

  get(namespace: string, name: string): PodInfo | undefined {
    return this.pods.get(podKey(namespace, name));
  }

  subscribe(listener: (ev: PodEvent) => void): () => void {
    for (const pod of this.pods.values()) this.call(listener, { type: 'add', pod });
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  synced(): Promise<void> {
    return this.syncedPromise;
  }

  /** Starts the list + watch loop in the background. Idempotent. */
  start(): void {
    if (this.running || this.stopSignal.signal.aborted) return;
    this.running = this.loop();
  }

  /** Aborts the open watch or pending list and resolves when the loop has ended. Idempotent; safe without start. */
  async stop(): Promise<void> {
    this.stopSignal.abort();
    this.current?.abort();
    await this.running;
  }

  private get stopped(): boolean {
    return this.stopSignal.signal.aborted;
  }

  private async loop(): Promise<void> {
    const base = this.opts.backoffMs ?? 1000;
    const max = this.opts.maxBackoffMs ?? 30_000;
    let delay = base;
    while (!this.stopped) {
      let outcome: Outcome;
      let healthy = false;
      try {
        if (!this.resourceVersion) await this.relist();
        if (this.stopped) break;
        const r = await this.watchOnce();
        outcome = r.outcome;
        healthy = r.events > 0 || r.durationMs > 1000;
      } catch (err) {
        if (this.stopped) break;
        outcome = 'error';
        const op = (err as { op?: string }).op ?? 'watch';
        this.metrics.errors.inc({ op });
        this.warnOnce.warn({ err: describe(err), op }, `Kubernetes pod ${op} failed; retrying with backoff`);
      }
      if (this.stopped) break;
      this.metrics.watchRestarts.inc({ reason: outcome });
      if (outcome === 'gone') this.resourceVersion = '';
      if (healthy || outcome === 'timeout') {
        delay = base;
        continue;
      }
      if (outcome === 'gone' && delay === base) {
        delay = Math.min(delay * 2, max);
        continue; // relist at once the first time; back off if it keeps happening
      }
      await sleep(jitter(delay), this.stopSignal.signal);
      delay = Math.min(delay * 2, max);
    }
  }

  private async relist(): Promise<void> {
    const items: V1Pod[] = [];
    let cont: string | undefined;
    let rv = '';
    try {
      do {
        const page = await abortable(
          this.core.listPodForAllNamespaces({
            fieldSelector: this.fieldSelector(),
            limit: this.opts.pageSize ?? 500,
            _continue: cont,
          }),
          this.stopSignal.signal,
          this.opts.listTimeoutMs ?? 60_000,
        );
        if (!page) return; // stopped
        items.push(...page.items);
        cont = page.metadata?._continue || undefined;
        rv = page.metadata?.resourceVersion ?? '';
      } while (cont);
    } catch (err) {
      throw Object.assign(err instanceof Error ? err : new Error(String(err)), { op: 'list' });
    }
    this.metrics.relists.inc();
    const seen = new Set<string>();
    for (const item of items) {
      const info = this.decode(item);
      if (!info) continue;
      seen.add(podKey(info.namespace, info.name));
      this.apply(info);
    }
    for (const [key, pod] of this.pods) {
      if (!seen.has(key)) this.remove(pod);
    }
    this.resourceVersion = rv;
    this.metrics.pods.set(this.pods.size);
    this.resolveSynced();
  }

  private async watchOnce(): Promise<{ outcome: Outcome; events: number; durationMs: number }> {
    const started = Date.now();
    let events = 0;
    let gone = false;
    let streamError: string | undefined;
    let resolveEnd!: (err: unknown) => void;
    const ended = new Promise<unknown>((r) => (resolveEnd = r));
    const base = this.opts.watchTimeoutSeconds ?? 300;
    const params: Record<string, string | number | boolean> = {
      resourceVersion: this.resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds: base + Math.floor(Math.random() * base),
    };
    const fs = this.fieldSelector();
    if (fs) params.fieldSelector = fs;
    // Our own inactivity watchdog: client-node 1.x has none once the response started (a half-open
    // connection would hang forever). Bookmarks, requested above, arrive about once a minute.
    let controller: AbortController | undefined;
    let inactive = false;
    const inactivityMs = this.opts.watchInactivityMs ?? 90_000;
    let lastEvent = Date.now();
    // checked a few times per period rather than re-armed per event (hot path)
    const watchdog = setInterval(() => {
      if (Date.now() - lastEvent < inactivityMs) return;
      inactive = true;
      controller?.abort();
    }, Math.max(10, inactivityMs / 4));
    watchdog.unref();
    const onEvent = (type: string, obj: unknown) => {
      lastEvent = Date.now();
      const o = obj as V1Pod & { code?: number; message?: string };
      if (type === 'ERROR') {
        if (o.code === 410) gone = true;
        else streamError = `${o.code ?? ''}: ${o.message ?? 'watch error'}`;
        return;
      }
      events++;
      const rv = o.metadata?.resourceVersion;
      const podsBefore = this.pods.size;
      if (type === 'ADDED' || type === 'MODIFIED') {
        const info = this.decode(o);
        if (info) this.apply(info);
      } else if (type === 'DELETED') {
        const known = this.pods.get(podKey(o.metadata?.namespace ?? '', o.metadata?.name ?? ''));
        if (known) this.remove(known);
      }
      if (rv) this.resourceVersion = rv;
      if (this.pods.size !== podsBefore) this.metrics.pods.set(this.pods.size);
    };
    let err: unknown;
    try {
      controller = await this.watcher.watch('/api/v1/pods', params, onEvent, (e) => resolveEnd(e));
      this.current = controller;
      if (this.stopped || inactive) controller.abort();
      err = await ended;
    } finally {
      clearInterval(watchdog);
      this.current = undefined;
    }
    const durationMs = Date.now() - started;
    if (gone || statusOf(err) === 410) return { outcome: 'gone', events, durationMs };
    if (inactive || (err && (err as Error).name === 'TimeoutError')) return { outcome: 'timeout', events, durationMs };
    if (err || streamError) {
      if (this.stopped) return { outcome: 'closed', events, durationMs };
      throw err instanceof Error ? err : new Error(streamError ?? String(err));
    }
    return { outcome: 'closed', events, durationMs };
  }

  private fieldSelector(): string | undefined {
    return this.opts.nodeName ? `spec.nodeName=${this.opts.nodeName}` : undefined;
  }

  /** Maps a pod object; a malformed one is counted (`op=decode`) and skipped instead of failing the list. */
  private decode(o: V1Pod): PodInfo | undefined {
    try {
      if (!o?.metadata?.name) throw new Error('pod without metadata.name');
      return podInfoFromObject(o);
    } catch (err) {
      this.metrics.errors.inc({ op: 'decode' });
      this.warnOnce.warn({ err: String(err) }, 'Skipping a malformed pod object');
      return undefined;
    }
  }

  /** Adds or updates a pod; a new uid under the same name is a delete followed by an add. */
  private apply(info: PodInfo): void {
    const key = podKey(info.namespace, info.name);
    const old = this.pods.get(key);
    if (old && old.uid !== info.uid) {
      this.remove(old);
      return this.apply(info);
    }
    if (old && old.resourceVersion === info.resourceVersion) return;
    this.pods.set(key, info);
    this.emit(old ? { type: 'update', pod: info, old } : { type: 'add', pod: info });
  }

  private remove(pod: PodInfo): void {
    this.pods.delete(podKey(pod.namespace, pod.name));
    this.emit({ type: 'delete', pod });
  }

  private emit(ev: PodEvent): void {
    for (const l of this.listeners) this.call(l, ev);
  }

  private call(listener: (ev: PodEvent) => void, ev: PodEvent): void {
    try {
      listener(ev);
    } catch (err) {
      this.metrics.errors.inc({ op: 'listener' });
      this.warnOnce.warn({ err: String(err) }, 'A pod listener threw; continuing');
    }
  }
}
