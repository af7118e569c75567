/**
 * The fixture API server itself, driven by the real @kubernetes/client-node:
 * generic resources (apps/v1 deployments, cluster-scoped nodes), selectors,
 * client-node's own informer, conflicts and auth.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppsV1Api, CoreV1Api, makeInformer, type V1Deployment } from '@kubernetes/client-node';
import { K8sApiFixture } from '../fixtures/k8s-api.js';
import { makePod } from '../fixtures/k8s-objects.js';
import { waitFor } from '../helpers/wait.js';

let api: K8sApiFixture;
beforeEach(async () => {
  api = await K8sApiFixture.start();
});
afterEach(async () => {
  await api.close();
});

const deployment = (name: string, labels: Record<string, string>, replicas = 1) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: 'shop', labels },
  spec: { replicas, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'c', image: 'i' }] } } },
});

describe('K8sApiFixture', () => {
  it('serves any group/version: typed lists with label selectors and pagination', async () => {
    api.upsert('deployments', deployment('web', { tier: 'front' }));
    api.upsert('deployments', deployment('db', { tier: 'back' }));
    api.upsert('nodes', { metadata: { name: 'node-a', labels: { zone: 'z1' } } });
    const kc = api.kubeConfig();
    const apps = kc.makeApiClient(AppsV1Api);
    const front = await apps.listNamespacedDeployment({ namespace: 'shop', labelSelector: 'tier in (front,edge)' });
    expect(front.items.map((d) => d.metadata?.name)).toEqual(['web']);
    const all = await apps.listDeploymentForAllNamespaces({ labelSelector: 'tier' });
    expect(all.items).toHaveLength(2);
    const page = await apps.listDeploymentForAllNamespaces({ limit: 1 });
    expect(page.items).toHaveLength(1);
    expect(page.metadata?._continue).toBe('1');
    const core = kc.makeApiClient(CoreV1Api);
    expect((await core.readNode({ name: 'node-a' })).metadata?.labels).toEqual({ zone: 'z1' });
    await expect(core.readNode({ name: 'missing' })).rejects.toMatchObject({ code: 404 });
  });

  it("feeds client-node's own informer (makeInformer) for deployments", async () => {
    const kc = api.kubeConfig();
    const apps = kc.makeApiClient(AppsV1Api);
    const informer = makeInformer<V1Deployment>(kc, '/apis/apps/v1/namespaces/shop/deployments', () => apps.listNamespacedDeployment({ namespace: 'shop' }));
    const seen: string[] = [];
    informer.on('add', (d) => seen.push(`add ${d.metadata?.name}`));
    informer.on('update', (d) => seen.push(`update ${d.metadata?.name} ${d.spec?.replicas}`));
    informer.on('delete', (d) => seen.push(`delete ${d.metadata?.name}`));
    api.upsert('deployments', deployment('web', { app: 'web' }));
    await informer.start();
    await waitFor(() => api.openWatches('deployments') === 1);
    api.upsert('deployments', deployment('web', { app: 'web' }, 3));
    api.upsert('deployments', { ...deployment('other-ns', {}), metadata: { name: 'other-ns', namespace: 'elsewhere' } });
    api.delete('deployments', 'shop', 'web');
    await waitFor(() => seen.length === 3, { what: 'informer events' });
    expect(seen).toEqual(['add web', 'update web 3', 'delete web']);
    await informer.stop();
    await waitFor(() => api.openWatches() === 0);
  });

  it('answers create/update conflicts, bad lease times and missing tokens like a real API server', async () => {
    const kc = api.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const created = await core.createNamespacedPod({ namespace: 'default', body: makePod({ name: 'p' }) });
    expect(created.metadata?.resourceVersion).toBe(api.resourceVersion);
    await expect(core.createNamespacedPod({ namespace: 'default', body: makePod({ name: 'p' }) })).rejects.toMatchObject({ code: 409 });
    const stale = { ...created, metadata: { ...created.metadata, resourceVersion: '0' } };
    await expect(core.replaceNamespacedPod({ name: 'p', namespace: 'default', body: stale })).rejects.toMatchObject({ code: 409 });
    const res = await fetch(`${api.url}/apis/coordination.k8s.io/v1/namespaces/default/leases`, {
      method: 'POST',
      headers: { authorization: 'Bearer fixture-token', 'content-type': 'application/json' },
      body: JSON.stringify({ metadata: { name: 'l' }, spec: { renewTime: new Date().toISOString() } }),
    });
    expect(res.status).toBe(422); // millisecond precision is not a MicroTime
    expect((await fetch(`${api.url}/api/v1/pods`)).status).toBe(401);
    expect((await fetch(`${api.url}/api/v1/pods?fieldSelector=bad`, { headers: { authorization: 'Bearer fixture-token' } })).status).toBe(400);
  });

  it('replays history from a resourceVersion and sends bookmarks', async () => {
    api.upsert('pods', makePod({ name: 'a' }));
    const rv = api.resourceVersion;
    api.upsert('pods', makePod({ name: 'b' }));
    api.delete('pods', 'default', 'a');
    const ctl = new AbortController();
    const res = await fetch(`${api.url}/api/v1/pods?watch=1&allowWatchBookmarks=true&resourceVersion=${rv}`, {
      headers: { authorization: 'Bearer fixture-token' },
      signal: ctl.signal,
    });
    const reader = res.body!.getReader();
    let text = '';
    api.bookmark();
    await waitFor(async () => {
      const { value } = await reader.read();
      text += new TextDecoder().decode(value);
      return text.split('\n').length > 3;
    });
    const events = text.trim().split('\n').map((l) => JSON.parse(l) as { type: string; object: { metadata: { name?: string } } });
    expect(events.map((e) => `${e.type} ${e.object.metadata.name ?? ''}`)).toEqual(['ADDED b', 'DELETED a', 'BOOKMARK ']);
    ctl.abort();
    await waitFor(() => api.openWatches() === 0);
  });
});
