/**
 * Pod discovery end to end: the real @kubernetes/client-node against the
 * fixture API server (list, watch, 410 Gone, dropped connections, stop).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Registry } from 'prom-client';
import { K8sPodWatcher } from '../../agent/services/k8s/pod-watcher.js';
import type { PodEvent } from '../../agent/services/k8s/types.js';
import { K8sApiFixture } from '../fixtures/k8s-api.js';
import { makePod } from '../fixtures/k8s-objects.js';
import { waitFor } from '../helpers/wait.js';

const log = pino({ level: 'silent' });

let api: K8sApiFixture;
let metrics: Registry;
let watcher: K8sPodWatcher | undefined;

function newWatcher(extra: Partial<ConstructorParameters<typeof K8sPodWatcher>[0]> = {}): K8sPodWatcher {
  watcher = new K8sPodWatcher({ kubeConfig: api.kubeConfig(), nodeName: 'node-a', log, metrics, backoffMs: 50, maxBackoffMs: 200, ...extra });
  watcher.start();
  return watcher;
}

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await metrics.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

const names = (w: K8sPodWatcher) => w.list().map((p) => `${p.namespace}/${p.name}`).sort();

beforeEach(async () => {
  api = await K8sApiFixture.start({ bookmarkIntervalMs: 200 });
  metrics = new Registry();
});

afterEach(async () => {
  await watcher?.stop();
  watcher = undefined;
  await api.close();
});

describe('K8sPodWatcher', () => {
  it('lists the pods of its node only, then follows adds, updates and deletes', async () => {
    api.upsert('pods', makePod({ name: 'web-1', node: 'node-a', owner: { kind: 'ReplicaSet', name: 'web-5d8f7c9b4' }, labels: { 'pod-template-hash': '5d8f7c9b4' } }));
    api.upsert('pods', makePod({ name: 'other', node: 'node-b' }));
    const w = newWatcher();
    const events: PodEvent[] = [];
    w.subscribe((ev) => events.push(ev));
    await w.synced();
    expect(names(w)).toEqual(['default/web-1']);
    expect(w.get('default', 'web-1')?.owner).toEqual({ kind: 'deployment', name: 'web' });
    expect(api.requests.find((r) => r.verb === 'list')?.query.get('fieldSelector')).toBe('spec.nodeName=node-a');

    api.upsert('pods', makePod({ name: 'web-2', namespace: 'shop', node: 'node-a', ip: '10.0.0.2' }));
    await waitFor(() => w.get('shop', 'web-2'), { what: 'web-2 added' });
    expect(w.get('shop', 'web-2')?.ip).toBe('10.0.0.2');

    api.upsert('pods', makePod({ name: 'web-2', namespace: 'shop', node: 'node-a', ip: '10.0.0.2', phase: 'Succeeded' }));
    await waitFor(() => w.get('shop', 'web-2')?.phase === 'Succeeded', { what: 'web-2 updated' });

    api.delete('pods', 'shop', 'web-2');
    await waitFor(() => !w.get('shop', 'web-2'), { what: 'web-2 deleted' });

    // a pod of another node never shows up; one rescheduled away from us is deleted
    api.upsert('pods', makePod({ name: 'other-2', node: 'node-b' }));
    api.upsert('pods', makePod({ name: 'web-1', node: 'node-b' }));
    await waitFor(() => !w.get('default', 'web-1'), { what: 'web-1 moved away' });
    expect(names(w)).toEqual([]);

    expect(events.map((e) => `${e.type} ${e.pod.name}`)).toEqual(['add web-1', 'add web-2', 'update web-2', 'delete web-2', 'delete web-1']);
    const upd = events[2];
    expect(upd?.type === 'update' && upd.old.phase).toBe('Running');
    expect(await metric('telekit_k8s_pods')).toBe(0);
  });

  it('replays known pods to late subscribers and survives a throwing listener', async () => {
    api.upsert('pods', makePod({ name: 'a' }));
    const w = newWatcher();
    await w.synced();
    w.subscribe(() => {
      throw new Error('boom');
    });
    const seen: string[] = [];
    const unsubscribe = w.subscribe((ev) => seen.push(`${ev.type} ${ev.pod.name}`));
    expect(seen).toEqual(['add a']);
    api.upsert('pods', makePod({ name: 'b' }));
    await waitFor(() => seen.length === 2);
    unsubscribe();
    api.upsert('pods', makePod({ name: 'c' }));
    await waitFor(() => w.get('default', 'c'));
    expect(seen).toEqual(['add a', 'add b']);
    expect(await metric('telekit_k8s_errors_total', { op: 'listener' })).toBeGreaterThanOrEqual(2);
  });

  it('relists after 410 Gone and ends with the correct state', async () => {
    api.upsert('pods', makePod({ name: 'keep' }));
    api.upsert('pods', makePod({ name: 'gone-while-away' }));
    const w = newWatcher();
    const events: string[] = [];
    w.subscribe((ev) => events.push(`${ev.type} ${ev.pod.name}`));
    await w.synced();
    await waitFor(() => api.openWatches('pods') === 1, { what: 'watch open' });

    // changes the watcher cannot see, then history is compacted: only a relist can recover them
    api.dropWatches();
    api.delete('pods', 'default', 'gone-while-away');
    api.upsert('pods', makePod({ name: 'new-while-away' }));
    api.upsert('pods', makePod({ name: 'keep', phase: 'Failed' }));
    api.expireWatches();

    await waitFor(() => names(w).join() === 'default/keep,default/new-while-away' && w.get('default', 'keep')?.phase === 'Failed', {
      what: 'state after relist',
    });
    expect(events).toEqual(expect.arrayContaining(['delete gone-while-away', 'add new-while-away', 'update keep']));
    expect(await metric('telekit_k8s_relists_total')).toBeGreaterThanOrEqual(2);
    await waitFor(async () => (await metric('telekit_k8s_watch_restarts_total', { reason: 'gone' })) >= 1, { what: 'gone counted' });
  });

  it('relists when the server answers a watch with HTTP 410', async () => {
    await api.close();
    api = await K8sApiFixture.start({ goneMode: 'status' });
    api.upsert('pods', makePod({ name: 'a' }));
    const w = newWatcher();
    await w.synced();
    await waitFor(() => api.openWatches('pods') === 1);
    api.expireWatches(); // ends the stream with an ERROR event; the re-watch from the old version gets HTTP 410
    api.upsert('pods', makePod({ name: 'b' }));
    await waitFor(() => w.get('default', 'b'), { what: 'b after relist' });
    expect(api.requests.filter((r) => r.verb === 'list').length).toBeGreaterThanOrEqual(2);
  });

  it('reconnects after a dropped watch and after API errors, without missing changes', async () => {
    const w = newWatcher();
    await w.synced();
    await waitFor(() => api.openWatches('pods') === 1);
    api.failNext({ resource: 'pods', verb: 'watch', status: 500, times: 2 });
    api.dropWatches();
    api.upsert('pods', makePod({ name: 'during-outage' }));
    await waitFor(() => w.get('default', 'during-outage'), { what: 'change made during the outage' });
    await waitFor(() => api.openWatches('pods') === 1);
    expect(await metric('telekit_k8s_watch_restarts_total', { reason: 'error' })).toBeGreaterThanOrEqual(2);
    expect(await metric('telekit_k8s_errors_total', { op: 'watch' })).toBeGreaterThanOrEqual(2);

    // a graceful close (server-side timeout) reconnects from the last resourceVersion, no relist
    const lists = api.requests.filter((r) => r.verb === 'list').length;
    api.dropWatches({ graceful: true });
    api.upsert('pods', makePod({ name: 'after-close' }));
    await waitFor(() => w.get('default', 'after-close'));
    expect(api.requests.filter((r) => r.verb === 'list').length).toBe(lists);
  });

  it('restarts a silent watch (no events, no bookmarks) after the inactivity timeout, without relisting', async () => {
    await api.close();
    api = await K8sApiFixture.start({ bookmarkIntervalMs: 60_000 });
    const w = newWatcher({ watchInactivityMs: 300 });
    await w.synced();
    await waitFor(async () => (await metric('telekit_k8s_watch_restarts_total', { reason: 'timeout' })) >= 2, { what: 'timeouts' });
    await waitFor(() => api.openWatches('pods') === 1); // the old connection was closed, a new one is open
    api.upsert('pods', makePod({ name: 'late' }));
    await waitFor(() => w.get('default', 'late'));
    expect(api.requests.filter((r) => r.verb === 'list').length).toBe(1);
  });

  it('skips and counts malformed pod objects instead of failing the list or the watch', async () => {
    api.upsert('pods', makePod({ name: 'good' }));
    api.upsert('pods', { ...makePod({ name: 'odd' }), metadata: { name: 'odd', namespace: 'default', ownerReferences: [null], labels: null } });
    const w = newWatcher();
    await w.synced();
    expect(names(w)).toEqual(['default/good', 'default/odd']);
    expect(w.get('default', 'odd')?.owner).toBeUndefined();
    // an object the mapping cannot take at all (spec.containers is not a list)
    api.upsert('pods', { ...makePod({ name: 'broken' }), spec: { nodeName: 'node-a', containers: 'nope' } });
    api.upsert('pods', makePod({ name: 'after' }));
    await waitFor(() => w.get('default', 'after'), { what: 'the watch goes on' });
    expect(w.get('default', 'broken')).toBeUndefined();
    expect(await metric('telekit_k8s_errors_total', { op: 'decode' })).toBe(1);
    expect(await metric('telekit_k8s_watch_restarts_total', { reason: 'error' })).toBe(0);
  });

  it('keeps retrying the initial list and resolves synced() once the API answers', async () => {
    api.failNext({ resource: 'pods', verb: 'list', status: 503, times: 3 });
    api.upsert('pods', makePod({ name: 'a' }));
    const w = newWatcher();
    await w.synced();
    expect(names(w)).toEqual(['default/a']);
    expect(await metric('telekit_k8s_errors_total', { op: 'list' })).toBe(3);
  });

  it('stop() closes the watch, also while a list is pending or a watch is connecting', async () => {
    const w = newWatcher();
    await w.synced();
    await waitFor(() => api.openWatches('pods') === 1);
    await w.stop();
    await waitFor(() => api.openWatches() === 0, { what: 'no open watch after stop' });
    await w.stop(); // idempotent

    // stop in every phase: before any request, while listing, right after the list, while watching
    const phases: Array<(x: K8sPodWatcher) => Promise<unknown>> = [
      async () => undefined,
      () => waitFor(() => api.requests.length > 0),
      (x) => x.synced(),
      () => waitFor(() => api.openWatches('pods') === 1),
    ];
    for (const phase of phases) {
      const before = api.requests.length;
      const x = newWatcher();
      await phase(x);
      await x.stop();
      // stop() resolves after the loop ended, so a leaked watch would already be registered
      await waitFor(() => api.openWatches() === 0, { what: 'no open watch after stop' });
      expect(api.requests.slice(before).filter((r) => r.verb === 'watch').length).toBeLessThanOrEqual(1);
    }
  });

  it('stop() without start is safe', async () => {
    const w = new K8sPodWatcher({ kubeConfig: api.kubeConfig(), nodeName: 'node-a', log, metrics });
    await w.stop();
    w.start(); // no effect after stop
    expect(api.requests.length).toBe(0);
  });
});
