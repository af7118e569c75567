/**
 * One @kubernetes/client-node informer (list once, then watch) per object
 * kind, started while this agent leads and stopped when it stops leading.
 * Collections read the informers' caches: no list request per interval.
 *
 * The informers are client-node's ListWatch (what makeInformer builds) over a
 * guarded Watch: ListWatch can open a new watch after stop() when stop() lands
 * during its relist or reconnect delay; the guard aborts any watch opened
 * after stop, so losing leadership always closes every watch.
 */
import type { Informer, KubernetesObject, ObjectCache } from '@kubernetes/client-node';
import { AppsV1Api, BatchV1Api, CoreV1Api, KubeConfig, ListWatch, Watch } from '../../../agent/services/k8s/client.js';
import type { K8sObject, ObjectKind, ObjectLists } from './objects.js';
import { OBJECT_KINDS, slim } from './objects.js';

type Cache = Informer<KubernetesObject> & ObjectCache<KubernetesObject>;

interface Watched {
  kind: ObjectKind;
  informer: Cache;
  synced: boolean;
  retry: NodeJS.Timeout | undefined;
  delayMs: number;
  errors: number;
}

export interface ObjectWatcherHooks {
  /** A list or watch failed (the informer is restarted with backoff). */
  onError(kind: ObjectKind, err: unknown): void;
}

const MAX_RETRY_MS = 30_000;

export class ObjectWatcher {
  private watched: Watched[] = [];
  private running = false;

  constructor(
    private readonly kc: KubeConfig,
    private readonly hooks: ObjectWatcherHooks,
  ) {}

  private listFn(kind: ObjectKind): { path: string; list: () => Promise<{ items: KubernetesObject[]; metadata?: { resourceVersion?: string } }> } {
    const core = this.kc.makeApiClient(CoreV1Api);
    const apps = this.kc.makeApiClient(AppsV1Api);
    const batch = this.kc.makeApiClient(BatchV1Api);
    switch (kind) {
      case 'pod':
        return { path: '/api/v1/pods', list: () => core.listPodForAllNamespaces() };
      case 'node':
        return { path: '/api/v1/nodes', list: () => core.listNode() };
      case 'deployment':
        return { path: '/apis/apps/v1/deployments', list: () => apps.listDeploymentForAllNamespaces() };
      case 'daemonset':
        return { path: '/apis/apps/v1/daemonsets', list: () => apps.listDaemonSetForAllNamespaces() };
      case 'statefulset':
        return { path: '/apis/apps/v1/statefulsets', list: () => apps.listStatefulSetForAllNamespaces() };
      case 'replicaset':
        return { path: '/apis/apps/v1/replicasets', list: () => apps.listReplicaSetForAllNamespaces() };
      case 'job':
        return { path: '/apis/batch/v1/jobs', list: () => batch.listJobForAllNamespaces() };
      case 'cronjob':
        return { path: '/apis/batch/v1/cronjobs', list: () => batch.listCronJobForAllNamespaces() };
    }
  }

  /** A Watch whose objects are slimmed and whose watches are aborted as soon as they open once this watcher has stopped. */
  private guardedWatch(kind: ObjectKind): Watch {
    const inner = new Watch(this.kc);
    const guarded = {
      watch: async (...[path, query, callback, done]: Parameters<Watch['watch']>): Promise<AbortController> => {
        if (!this.running) {
          const c = new AbortController();
          c.abort();
          return c;
        }
        // ERROR events carry a Status (code 410 matters to ListWatch): pass them whole.
        const slimmed: typeof callback = (phase, obj, raw) => callback(phase, phase === 'ERROR' ? obj : slim(kind, obj), raw);
        const c = await inner.watch(path, query, slimmed, done);
        if (!this.running) c.abort();
        return c;
      },
    };
    return guarded as unknown as Watch;
  }

  /** Starts every informer; resolves once each has made its first list attempt. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.watched = OBJECT_KINDS.map((kind) => {
      const { path, list } = this.listFn(kind);
      // The caches keep slim copies (see slim()): list items and watch objects alike.
      const slimList = async () => {
        const l = await list();
        return { ...l, items: l.items.map((o) => slim(kind, o) as KubernetesObject) };
      };
      const informer = new ListWatch<KubernetesObject>(path, this.guardedWatch(kind), slimList, false) as Cache;
      const w: Watched = { kind, informer, synced: false, retry: undefined, delayMs: 1000, errors: 0 };
      informer.on('error', (err: unknown) => {
        if (!this.running) return; // the abort of our own stop()
        w.errors++;
        this.hooks.onError(kind, err);
        this.restartLater(w);
      });
      return w;
    });
    await Promise.all(this.watched.map((w) => this.tryStart(w)));
  }

  /** (Re)starts one informer: list, then watch. The informer reports list failures through 'error' and resolves. */
  private async tryStart(w: Watched): Promise<void> {
    const before = w.errors;
    try {
      await w.informer.start();
      if (w.errors === before && this.running) {
        w.synced = true;
        w.delayMs = 1000;
      }
    } catch (e) {
      w.errors++;
      this.hooks.onError(w.kind, e);
      this.restartLater(w);
    }
  }

  private restartLater(w: Watched): void {
    if (!this.running || w.retry) return;
    const delay = w.delayMs * (0.8 + Math.random() * 0.4);
    w.delayMs = Math.min(w.delayMs * 2, MAX_RETRY_MS);
    w.retry = setTimeout(() => {
      w.retry = undefined;
      if (this.running) void this.tryStart(w);
    }, delay);
    w.retry.unref();
  }

  /** True when every kind has listed successfully at least once. */
  synced(): boolean {
    return this.running && this.watched.length > 0 && this.watched.every((w) => w.synced);
  }

  /** The cached objects of every kind that has listed successfully at least once. */
  lists(): ObjectLists {
    const out: ObjectLists = {};
    for (const w of this.watched) if (w.synced) out[w.kind] = w.informer.list() as readonly K8sObject[];
    return out;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    const ws = this.watched;
    this.watched = [];
    for (const w of ws) if (w.retry) clearTimeout(w.retry);
    await Promise.allSettled(ws.map((w) => w.informer.stop()));
  }
}
