/**
 * Object metrics follow leadership: informers (real @kubernetes/client-node
 * against the fixture API server) run only while the election says this
 * agent leads, and recover from API failures with backoff.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Election, K8sServices, PodWatcher } from '../../agent/services/k8s/types.js';
import { ContainerMetrics } from '../../inputs/container/metrics/index.js';
import { clusterObjects } from '../../inputs/container/metrics/testdata/cluster.js';
import { containerConfig, fakeCtx } from '../../inputs/container/metrics/testdata/fake-ctx.js';
import { K8sApiFixture } from '../fixtures/k8s-api.js';
import { waitFor } from '../helpers/wait.js';

class FakeElection implements Election {
  private leader: boolean;
  private readonly listeners = new Set<(l: boolean) => void>();
  constructor(leader: boolean) {
    this.leader = leader;
  }
  isLeader(): boolean {
    return this.leader;
  }
  onChange(l: (leader: boolean) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  set(leader: boolean): void {
    this.leader = leader;
    for (const l of this.listeners) l(leader);
  }
}

const noPods: PodWatcher = { list: () => [], get: () => undefined, subscribe: () => () => undefined, synced: async () => undefined };

let api: K8sApiFixture;
beforeEach(async () => {
  api = await K8sApiFixture.start();
  for (const [resource, obj] of clusterObjects()) api.upsert(resource, obj);
});
afterEach(async () => {
  await api.close();
});

function setup(election: Election | undefined) {
  const k8s: K8sServices = { pods: noPods, election, kubeConfig: api.kubeConfig() };
  const ctx = fakeCtx({ k8s, nodeName: '', ip: '' });
  const m = new ContainerMetrics(containerConfig({ enable_container_metric: false, interval: '60s' }), ctx);
  const objectPoints = () => ctx.points.filter((p) => p.name === 'kube_deployment').length;
  return { ctx, m, objectPoints };
}

describe('object metrics and leadership', () => {
  it('starts informers on gaining leadership and stops them (closing every watch) on losing it', async () => {
    const election = new FakeElection(false);
    const { m, objectPoints } = setup(election);
    await m.start();
    await m.collect();
    expect(objectPoints()).toBe(0);
    expect(api.openWatches()).toBe(0);

    /** Collects until a collection yields object points (informers report once listed). */
    const collectUntil = (n: number) =>
      waitFor(
        async () => {
          await m.collect();
          return objectPoints() >= n;
        },
        { intervalMs: 50, what: `${n} object collections` },
      );

    election.set(true);
    await waitFor(() => api.openWatches() === 8, { what: 'one watch per kind' });
    await collectUntil(1);
    expect(objectPoints()).toBe(1);

    election.set(false);
    await waitFor(() => api.openWatches() === 0, { what: 'watches closed' });
    await m.collect();
    expect(objectPoints()).toBe(1);

    election.set(true);
    await waitFor(() => api.openWatches() === 8, { what: 'watches again' });
    await collectUntil(2);
    expect(objectPoints()).toBe(2);
    await m.stop();
    await waitFor(() => api.openWatches() === 0, { what: 'watches closed on stop' });
  });

  it('without election every agent collects object metrics', async () => {
    const { m, objectPoints } = setup(undefined);
    await m.start(); // start does not wait for the informers: collections report kinds once listed
    await waitFor(
      async () => {
        await m.collect();
        return objectPoints() > 0;
      },
      { intervalMs: 50, what: 'object points' },
    );
    await m.stop();
  });

  it('keeps caches current across expired (410) and dropped watches', async () => {
    const { m, ctx } = setup(undefined);
    await m.start();
    const ready = async (want: bigint) =>
      waitFor(
        async () => {
          await m.collect();
          return ctx.points.filter((p) => p.name === 'kube_deployment' && p.tags.deployment === 'web').at(-1)?.fields.replicas_ready === want;
        },
        { timeoutMs: 10_000, intervalMs: 100, what: `replicas_ready=${want}` },
      );
    const dep = clusterObjects().find(([r]) => r === 'deployments')![1];
    api.expireWatches();
    api.upsert('deployments', { ...dep, status: { replicas: 3, readyReplicas: 1 } });
    await ready(1n);
    api.dropWatches();
    api.upsert('deployments', { ...dep, status: { replicas: 3, readyReplicas: 3 } });
    await ready(3n);
    api.delete('deployments', 'shop', 'web');
    await waitFor(
      async () => {
        ctx.points.length = 0;
        await m.collect();
        return ctx.points.length > 0 && !ctx.points.some((p) => p.name === 'kube_deployment');
      },
      { timeoutMs: 10_000, intervalMs: 100, what: 'deleted deployment gone' },
    );
    await m.stop();
    await waitFor(() => api.openWatches() === 0, { what: 'watches closed on stop' });
  });

  it('counts a failed list and recovers with backoff', async () => {
    api.failNext({ resource: 'deployments', verb: 'list', status: 500, times: 1 });
    const { ctx, m, objectPoints } = setup(undefined);
    await m.start();
    await waitFor(() => ctx.errors.some((e) => e.kind === 'k8s_watch_deployment'), { what: 'the list error' });
    await waitFor(
      async () => {
        await m.collect();
        return objectPoints() > 0;
      },
      { timeoutMs: 8000, intervalMs: 200, what: 'deployments after the retry' },
    );
    await m.stop();
  });
});
