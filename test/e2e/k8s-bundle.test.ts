/**
 * The built agent talks to Kubernetes through a bundle of @kubernetes/client-node
 * (dist/agent/services/k8s/client.js, see agent/services/k8s/client.ts), not through the package
 * the other tests load from the sources. This runs the built modules against
 * the fixture API server: pod list + watch, Lease election, and the object
 * informers of every kind the container input lists.
 */
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Registry } from 'prom-client';
import { K8sApiFixture } from '../fixtures/k8s-api.js';
import { makePod } from '../fixtures/k8s-objects.js';
import { ROOT, assertBuilt } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

type K8sModule = typeof import('../../agent/services/k8s/index.js');
type InformersModule = typeof import('../../inputs/container/metrics/informers.js');

const log = pino({ level: 'silent' });
const bundle = path.join(ROOT, 'dist/agent/services/k8s/client.js');
let k8s: K8sModule;
let informers: InformersModule;
let api: K8sApiFixture;

beforeAll(async () => {
  assertBuilt();
  k8s = (await import(path.join(ROOT, 'dist/agent/services/k8s/index.js'))) as K8sModule;
  informers = (await import(path.join(ROOT, 'dist/inputs/container/metrics/informers.js'))) as InformersModule;
});

beforeEach(async () => {
  api = await K8sApiFixture.start({ namespace: 'monitoring' });
});

afterEach(async () => {
  await api.close();
});

describe('the built Kubernetes client bundle', () => {
  it('is a bundle: it imports nothing but Node built-ins', () => {
    const text = fs.readFileSync(bundle, 'utf8');
    const specifiers = [...text.matchAll(/(?:\bimport\b[\w\s{},*$]*?\bfrom\s*|\bimport\s*\(\s*|require\s*\(\s*)["']([^"']+)["']/g)].map((m) => m[1]!);
    expect(specifiers.length).toBeGreaterThan(0);
    // optional native helpers the bundled dependencies try inside try/catch (node-fetch, debug, ws)
    const optional = ['encoding', 'supports-color', 'bufferutil', 'utf-8-validate'];
    const packages = specifiers.filter((s) => !builtinModules.includes(s.replace(/^node:/, '')) && !optional.includes(s));
    expect(packages).toEqual([]);
    expect(text.length).toBeGreaterThan(500_000); // the client itself is in it
  });

  it('lists and watches the pods of the node, and elects over a Lease', async () => {
    api.upsert('pods', makePod({ name: 'first', node: 'node-x' }));
    api.upsert('pods', makePod({ name: 'elsewhere', node: 'node-y' }));
    const runtime = await k8s.startK8s({
      env: { KUBECONFIG: await api.kubeconfigPath(), ENV_K8S_NODE_NAME: 'node-x', ENV_ENABLE_ELECTION: 'on', ENV_HOSTNAME: 'agent-1' },
      log,
      metrics: new Registry(),
      election: { leaseDurationMs: 2000, renewIntervalMs: 200, retryIntervalMs: 200 },
    });
    try {
      const pods = runtime!.services.pods;
      await pods.synced();
      expect(pods.list().map((p) => p.name)).toEqual(['first']);
      api.upsert('pods', makePod({ name: 'second', node: 'node-x' }));
      await waitFor(() => pods.list().length === 2, { what: 'the watched pod' });
      expect(pods.list().map((p) => p.name).sort()).toEqual(['first', 'second']);
      const election = runtime!.services.election!;
      await waitFor(() => election.isLeader(), { what: 'leader' });
      const lease = api.get('leases', 'monitoring', 'telekit') as { spec: { holderIdentity: string; renewTime: string } } | undefined;
      expect(lease?.spec.holderIdentity).toMatch(/^agent-1_/);
      // V1MicroTime from the bundle serialises with microseconds, as the API expects
      expect(lease?.spec.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    } finally {
      await runtime!.stop();
    }
    await waitFor(() => api.openWatches() === 0, { what: 'watches closed' });
  });

  it('runs the object informers of every kind (Core, Apps and Batch APIs, ListWatch)', async () => {
    api.upsert('pods', makePod({ name: 'web-1', node: 'node-a' }));
    api.upsert('deployments', { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'default' }, spec: { replicas: 2 }, status: { replicas: 2 } });
    api.upsert('cronjobs', { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'nightly', namespace: 'default' }, spec: { schedule: '0 0 * * *' } });
    const kc = k8s.loadKubeConfig({ KUBECONFIG: await api.kubeconfigPath() })!.kubeConfig;
    const errors: unknown[] = [];
    const w = new informers.ObjectWatcher(kc, { onError: (_k, e) => errors.push(e) });
    await w.start();
    try {
      await waitFor(() => w.synced(), { what: 'every informer synced' });
      const lists = w.lists();
      expect(lists.pod?.map((o) => o.metadata?.name)).toEqual(['web-1']);
      expect(lists.deployment?.map((o) => o.metadata?.name)).toEqual(['web']);
      expect(lists.cronjob?.map((o) => o.metadata?.name)).toEqual(['nightly']);
      api.upsert('jobs', { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'once', namespace: 'default' }, spec: {} });
      await waitFor(() => (w.lists().job ?? []).length === 1, { what: 'the watched job' });
      expect(errors).toEqual([]);
    } finally {
      await w.stop();
    }
  });
});
