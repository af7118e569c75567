/** A fake InputContext for the container logs unit tests, with a controllable accumulator and pod watcher. */
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { AddOptions, InputContext } from '../../../agent/input.js';
import type { Point } from '../../../agent/point.js';
import type { PodEvent, PodInfo, PodWatcher } from '../../../agent/k8s/types.js';

export class FakePods implements PodWatcher {
  private pods = new Map<string, PodInfo>();
  private listeners = new Set<(e: PodEvent) => void>();
  set(p: PodInfo): void {
    const old = this.pods.get(`${p.namespace}/${p.name}`);
    this.pods.set(`${p.namespace}/${p.name}`, p);
    for (const l of this.listeners) l(old ? { type: 'update', pod: p, old } : { type: 'add', pod: p });
  }
  list(): PodInfo[] {
    return [...this.pods.values()];
  }
  get(ns: string, name: string): PodInfo | undefined {
    return this.pods.get(`${ns}/${name}`);
  }
  subscribe(l: (e: PodEvent) => void): () => void {
    this.listeners.add(l);
    for (const pod of this.pods.values()) l({ type: 'add', pod });
    return () => this.listeners.delete(l);
  }
  synced(): Promise<void> {
    return Promise.resolve();
  }
}

export function pod(o: Partial<PodInfo> & Pick<PodInfo, 'namespace' | 'name'>): PodInfo {
  return { uid: `uid-${o.name}`, nodeName: 'node-1', ip: '10.1.2.3', phase: 'Running', labels: {}, annotations: {}, owner: undefined, containers: [], resourceVersion: '1', ...o };
}

export interface FakeCtx extends InputContext {
  points: Point[];
  errors: { kind: string; err: unknown }[];
  /** While set, addWait blocks until it resolves. */
  gate: Promise<void> | undefined;
  /** Called for acks; tests may hold them back. */
  acks: (() => void)[];
  autoAck: boolean;
}

export function fakeCtx(pods?: FakePods): FakeCtx {
  const ctx: FakeCtx = {
    name: 'container',
    instance: 0,
    points: [],
    errors: [],
    gate: undefined,
    acks: [],
    autoAck: true,
    acc: {
      add(p: Point | Point[], o?: AddOptions) {
        const arr = Array.isArray(p) ? p : [p];
        ctx.points.push(...arr);
        o?.onAck?.();
        return arr.length;
      },
      async addWait(p: Point | Point[], o?: AddOptions) {
        while (ctx.gate) await ctx.gate;
        ctx.points.push(...(Array.isArray(p) ? p : [p]));
        if (o?.onAck) {
          if (ctx.autoAck) o.onAck();
          else ctx.acks.push(o.onAck);
        }
      },
      overloaded: () => false,
      error: (kind: string, err: unknown) => void ctx.errors.push({ kind, err }),
    },
    log: pino({ level: 'silent' }),
    http: { route: () => () => {} } as unknown as InputContext['http'],
    host: { hostname: 'test-host', ip: '127.0.0.1', nodeName: 'node-1' },
    dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'container-data-')),
    k8s: pods ? { pods, election: undefined, kubeConfig: undefined } : undefined,
    metrics: new Registry(),
    signal: new AbortController().signal,
  };
  return ctx;
}
