/**
 * startK8s(): configuration sources, env handling and lifecycle, against the fixture API server.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Registry } from 'prom-client';
import { K8S_ENV, leaseLocation, leaseTimings, loadKubeConfig, startK8s, type K8sRuntime } from '../../agent/services/k8s/index.js';
import { K8sApiFixture } from '../fixtures/k8s-api.js';
import { makePod } from '../fixtures/k8s-objects.js';
import { waitFor } from '../helpers/wait.js';

function capturingLogger(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

let api: K8sApiFixture;
let runtime: K8sRuntime | undefined;
let tmp: string;

beforeEach(async () => {
  api = await K8sApiFixture.start({ namespace: 'monitoring' });
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'k8s-start-'));
});

afterEach(async () => {
  await runtime?.stop();
  runtime = undefined;
  await api.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('startK8s', () => {
  it('returns undefined and logs one line when no API is configured', async () => {
    const { log, lines } = capturingLogger();
    const r = await startK8s({ env: { KUBERNETES_SERVICE_HOST: '10.0.0.1' }, log, metrics: new Registry(), serviceAccountDir: tmp });
    expect(r).toBeUndefined();
    await waitFor(() => lines.length > 0);
    expect(lines.map((l) => l.msg)).toEqual(['no Kubernetes API configured; discovery off']);
    expect(lines[0]?.level).toBe(30);
    expect(api.requests.length).toBe(0);
  });

  it('uses KUBECONFIG and watches the pods of ENV_K8S_NODE_NAME; election off by default', async () => {
    api.upsert('pods', makePod({ name: 'mine', node: 'node-x' }));
    api.upsert('pods', makePod({ name: 'theirs', node: 'node-y' }));
    const { log } = capturingLogger();
    runtime = await startK8s({ env: { KUBECONFIG: await api.kubeconfigPath(), ENV_K8S_NODE_NAME: 'node-x' }, log, metrics: new Registry() });
    expect(runtime).toBeDefined();
    await runtime!.services.pods.synced();
    expect(runtime!.services.pods.list().map((p) => p.name)).toEqual(['mine']);
    expect(runtime!.services.election).toBeUndefined();
    expect(api.requests.some((r) => r.resource === 'leases')).toBe(false);
    await runtime!.stop();
    await runtime!.stop(); // idempotent
    await waitFor(() => api.openWatches() === 0);
  });

  it('elects over a Lease in the agent namespace, scoped by ENV_NAMESPACE, and releases it on stop', async () => {
    const { log } = capturingLogger();
    runtime = await startK8s({
      env: { KUBECONFIG: await api.kubeconfigPath(), ENV_K8S_NODE_NAME: 'node-x', ENV_ENABLE_ELECTION: 'on', ENV_NAMESPACE: 'Prod_Cluster', ENV_HOSTNAME: 'agent-1' },
      log,
      metrics: new Registry(),
      election: { leaseDurationMs: 2000, renewIntervalMs: 200, retryIntervalMs: 200 },
    });
    const election = runtime!.services.election!;
    const changes: boolean[] = [];
    election.onChange((l) => changes.push(l));
    await waitFor(() => election.isLeader(), { what: 'leader' });
    const lease = api.get('leases', 'monitoring', 'telekit-prod-cluster') as { spec: { holderIdentity: string } };
    expect(lease.spec.holderIdentity).toMatch(/^agent-1_[0-9a-f]{8}$/);
    await runtime!.stop();
    expect(changes).toEqual([true, false]);
    expect((api.get('leases', 'monitoring', 'telekit-prod-cluster') as { spec: { holderIdentity: string } }).spec.holderIdentity).toBe('');
  });

  it('elects a single leader even when two agents share ENV_HOSTNAME', async () => {
    const env = { KUBECONFIG: await api.kubeconfigPath(), ENV_K8S_NODE_NAME: 'node-x', ENV_ENABLE_ELECTION: '1', ENV_HOSTNAME: 'same' };
    const timings = { leaseDurationMs: 2000, renewIntervalMs: 200, retryIntervalMs: 100 };
    const { log } = capturingLogger();
    const r1 = (await startK8s({ env, log, metrics: new Registry(), election: timings }))!;
    const r2 = (await startK8s({ env, log, metrics: new Registry(), election: timings }))!;
    try {
      const leaders = () => [r1, r2].filter((r) => r.services.election!.isLeader()).length;
      await waitFor(() => leaders() === 1, { what: 'a leader' });
      const rv = Number(api.resourceVersion);
      await waitFor(() => Number(api.resourceVersion) >= rv + 6, { what: 'renewals' });
      expect(leaders()).toBe(1);
    } finally {
      await Promise.all([r1.stop(), r2.stop()]);
    }
  });

  it('reads in-cluster credentials from the service account directory', async () => {
    await fs.writeFile(path.join(tmp, 'token'), 'tkn');
    await fs.writeFile(path.join(tmp, 'namespace'), 'datakit\n');
    await fs.writeFile(path.join(tmp, 'ca.crt'), 'not really a CA');
    const loaded = loadKubeConfig({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' }, tmp);
    expect(loaded).toMatchObject({ source: 'in-cluster', namespace: 'datakit', server: 'https://[fd00::1]:6443' });
    // the token file is what authenticates requests (re-read by client-node when it rotates)
    const init = await loaded!.kubeConfig.applyToFetchOptions({});
    expect(new Headers(init.headers as HeadersInit).get('authorization')).toBe('Bearer tkn');
    expect(loaded!.kubeConfig.getCurrentCluster()?.caFile).toBe(path.join(tmp, 'ca.crt'));
    // an explicit KUBECONFIG wins over in-cluster credentials
    const kc = await api.kubeconfigPath();
    expect(loadKubeConfig({ KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBECONFIG: `/nonexistent${path.delimiter}${kc}` }, tmp)).toMatchObject({
      source: 'kubeconfig',
      namespace: 'monitoring',
      server: api.url,
    });
  });

  it('logs an error and turns discovery off when the kubeconfig is unreadable', async () => {
    const bad = path.join(tmp, 'kubeconfig');
    await fs.writeFile(bad, 'clusters: [ {{{ not yaml');
    const { log, lines } = capturingLogger();
    expect(await startK8s({ env: { KUBECONFIG: bad }, log, metrics: new Registry() })).toBeUndefined();
    await waitFor(() => lines.length > 0);
    expect(lines[0]).toMatchObject({ level: 50, msg: 'The Kubernetes configuration could not be loaded; discovery off' });
  });

  it('places the Lease by ENV_NAMESPACE, with explicit overrides', () => {
    expect(leaseLocation({}, 'ns')).toEqual({ namespace: 'ns', name: 'telekit' });
    expect(leaseLocation({ ENV_NAMESPACE: 'default' }, 'ns')).toEqual({ namespace: 'ns', name: 'telekit' });
    expect(leaseLocation({ ENV_NAMESPACE: 'dev cluster #2' }, 'ns')).toEqual({ namespace: 'ns', name: 'telekit-dev-cluster-2' });
    expect(leaseLocation({ ENV_K8S_LEASE_NAMESPACE: 'kube-system', ENV_K8S_LEASE_NAME: 'x' }, 'ns')).toEqual({ namespace: 'kube-system', name: 'x' });
  });

  it('scales election periods from ENV_K8S_LEASE_DURATION', () => {
    expect(leaseTimings('15s')).toEqual({ leaseDurationMs: 15_000, renewIntervalMs: 5000, retryIntervalMs: 2000, renewDeadlineMs: 10_000 });
    expect(leaseTimings('3000ms')).toMatchObject({ leaseDurationMs: 3000, renewIntervalMs: 1000 });
    expect(leaseTimings('1m')).toMatchObject({ leaseDurationMs: 60_000 });
    expect(leaseTimings('30')).toMatchObject({ leaseDurationMs: 30_000 });
    expect(leaseTimings(undefined)).toEqual({});
    expect(leaseTimings('soon')).toEqual({});
    expect(leaseTimings('10ms')).toEqual({});
  });

  it('K8S_ENV lists every variable agent/services/k8s reads', async () => {
    const dir = path.join(import.meta.dirname, '../../agent/services/k8s');
    const read = new Set<string>();
    for (const f of await fs.readdir(dir)) {
      if (!f.endsWith('.ts') || f.endsWith('.test.ts')) continue;
      const src = await fs.readFile(path.join(dir, f), 'utf8');
      for (const m of src.matchAll(/\benv\.([A-Z][A-Z0-9_]+)/g)) read.add(m[1]!);
    }
    expect([...read].sort()).toEqual([...K8S_ENV].sort());
  });
});
