/** Test doubles for the prom input: a fake InputContext/Accumulator and PodWatcher. */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { Accumulator, InputContext } from '../../agent/input.js';
import type { PodEvent, PodInfo, PodWatcher } from '../../agent/k8s/types.js';
import type { Point } from '../../agent/point.js';

export class FakeAcc implements Accumulator {
  points: Point[] = [];
  errors: { kind: string; err: unknown }[] = [];
  overload = false;
  add(p: Point | Point[]): number {
    const arr = Array.isArray(p) ? p : [p];
    this.points.push(...arr);
    return arr.length;
  }
  async addWait(p: Point | Point[]): Promise<void> {
    this.add(p);
  }
  overloaded(): boolean {
    return this.overload;
  }
  error(kind: string, err: unknown): void {
    this.errors.push({ kind, err });
  }
}

export class FakePods implements PodWatcher {
  private readonly pods = new Map<string, PodInfo>();
  private readonly listeners = new Set<(ev: PodEvent) => void>();
  list(): PodInfo[] {
    return [...this.pods.values()];
  }
  get(ns: string, name: string): PodInfo | undefined {
    return this.pods.get(`${ns}/${name}`);
  }
  subscribe(l: (ev: PodEvent) => void): () => void {
    this.listeners.add(l);
    for (const pod of this.pods.values()) l({ type: 'add', pod });
    return () => this.listeners.delete(l);
  }
  async synced(): Promise<void> {}
  upsert(pod: PodInfo): void {
    const k = `${pod.namespace}/${pod.name}`;
    const old = this.pods.get(k);
    this.pods.set(k, pod);
    for (const l of this.listeners) l(old ? { type: 'update', pod, old } : { type: 'add', pod });
  }
  delete(ns: string, name: string): void {
    const pod = this.pods.get(`${ns}/${name}`);
    if (!pod) return;
    this.pods.delete(`${ns}/${name}`);
    for (const l of this.listeners) l({ type: 'delete', pod });
  }
}

export function makePod(o: Partial<PodInfo> & { name: string }): PodInfo {
  return {
    uid: `uid-${o.namespace ?? 'default'}-${o.name}`,
    namespace: 'default',
    nodeName: 'node-a',
    ip: '127.0.0.1',
    phase: 'Running',
    labels: {},
    annotations: {},
    owner: { kind: 'deployment', name: o.name.replace(/-[^-]+$/, '') },
    containers: [],
    resourceVersion: '1',
    ...o,
  };
}

export function fakeCtx(o: { pods?: PodWatcher } = {}): InputContext & { acc: FakeAcc; metrics: Registry; abort: AbortController } {
  const abort = new AbortController();
  return {
    name: 'prom',
    instance: 0,
    acc: new FakeAcc(),
    log: pino({ level: process.env.TELEKIT_TEST_LOG ?? 'silent' }),
    http: { route: () => () => undefined },
    host: { hostname: 'test-host', ip: '127.0.0.1', nodeName: 'node-a' },
    dataDir: '/tmp',
    k8s: o.pods ? { pods: o.pods, election: undefined, kubeConfig: undefined } : undefined,
    metrics: new Registry(),
    signal: abort.signal,
    abort,
  };
}

/** The value of a counter (with labels) in a registry. */
export async function metricValue(reg: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = reg.getSingleMetric(name);
  if (!m) return 0;
  const v = await m.get();
  return v.values.filter((x) => Object.entries(labels).every(([k, l]) => (x.labels as Record<string, unknown>)[k] === l)).reduce((a, x) => a + x.value, 0);
}
