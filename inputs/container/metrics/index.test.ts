import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FixtureKubelet, buildSummary, type FixturePod } from '../../../test/fixtures/kubelet.js';
import { waitFor } from '../../../test/helpers/wait.js';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import type { K8sServices, PodInfo, PodWatcher } from '../../../agent/services/k8s/types.js';
import { ContainerMetrics } from './index.js';
import { containerConfig, fakeCtx } from './testdata/fake-ctx.js';

const MiB = 2 ** 20;
const node = { nodeName: 'node-a', memoryCapacityBytes: 4096 * MiB, memoryWorkingSetBytes: 1024 * MiB };

function pod(cpuNs: number, rx: number): FixturePod {
  return { namespace: 'shop', name: 'api-1', uid: 'uid-api', containers: [{ name: 'api', cpuCoreNs: cpuNs, workingSetBytes: 100 * MiB }], rxBytes: rx, txBytes: rx * 2 };
}

const apiInfo: PodInfo = {
  uid: 'uid-api', namespace: 'shop', name: 'api-1', nodeName: 'node-a', ip: '10.1.0.9', phase: 'Running', labels: {}, annotations: {},
  owner: { kind: 'statefulset', name: 'api' }, resourceVersion: '7',
  containers: [{ name: 'api', image: 'ghcr.io/acme/api:2.1', id: 'c0ffee', runtime: 'containerd', restartCount: 1, ready: true, env: {}, resources: { cpuLimit: 2, memoryLimit: 400 * MiB } }],
};

function podsOf(list: PodInfo[]): K8sServices {
  const pods: PodWatcher = {
    list: () => list,
    get: (ns, name) => list.find((p) => p.namespace === ns && p.name === name),
    subscribe: () => () => undefined,
    synced: async () => undefined,
  };
  return { pods, election: undefined, kubeConfig: undefined };
}

let kubelet: FixtureKubelet;
let tokenFile: string;

beforeEach(async () => {
  kubelet = await FixtureKubelet.start({ token: 'sa-token-1' });
  tokenFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'telekit-kubelet-')), 'token');
  fs.writeFileSync(tokenFile, 'sa-token-1\n');
});
afterEach(async () => {
  await kubelet.stop();
  fs.rmSync(path.dirname(tokenFile), { recursive: true, force: true });
});

async function counter(ctx: ReturnType<typeof fakeCtx>, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await ctx.metrics.getSingleMetric(name)?.get())?.values ?? [];
  return m.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((a, v) => a + v.value, 0);
}

describe('ContainerMetrics against a fixture kubelet', () => {
  it('scrapes /stats/summary with the service-account token and emits rates on the second sample', async () => {
    const t0 = Date.now() - 20_000;
    let sample = 0;
    kubelet.serve(() => (sample++ === 0 ? buildSummary(node, [pod(1e10, 1000)], new Date(t0)) : buildSummary(node, [pod(1e10 + 3e9, 31_000)], new Date(t0 + 10_000))));
    const ctx = fakeCtx({ k8s: podsOf([apiInfo]) });
    const m = new ContainerMetrics(containerConfig({ kubelet_url: kubelet.url, enable_pod_metric: true, enable_k8s_metric: false, interval: '60s' }), ctx, { tokenFile, cpuCount: () => 4 });
    await m.start();
    await waitFor(() => ctx.points.length >= 2, { what: 'first collection' });
    expect(kubelet.requests[0]).toEqual({ path: '/stats/summary', authorization: 'Bearer sa-token-1' });
    expect(ctx.points.find((p) => p.name === 'docker_containers')!.fields.cpu_usage).toBeUndefined();
    ctx.points.length = 0;
    await m.collect();
    const c = ctx.points.find((p) => p.name === 'docker_containers')!;
    expect(c.fields.cpu_usage_millicores).toBe(300n);
    expect(c.fields.cpu_usage_base_limit).toBeCloseTo(15, 6);
    expect(c.fields.mem_used_percent_base_limit).toBeCloseTo(25, 6);
    expect(c.tags).toMatchObject({ statefulset: 'api', image_short_name: 'api', namespace: 'shop', node_name: 'node-a' });
    const p = ctx.points.find((x) => x.name === 'kube_pod')!;
    expect(p.fields.network_bytes_rcvd_per_sec).toBeCloseTo(3000, 6);
    expect(p.fields.network_bytes_sent_per_sec).toBeCloseTo(6000, 6);
    expect(await counter(ctx, 'telekit_container_metrics_collections_total', { source: 'kubelet', result: 'ok' })).toBe(2);
    await m.stop();
    await m.stop(); // idempotent
  });

  it('talks HTTPS to a kubelet with a self-signed serving certificate, sending the token', async () => {
    await kubelet.stop();
    kubelet = await FixtureKubelet.start({ token: 'sa-token-1', tls: true });
    expect(kubelet.url).toMatch(/^https:/);
    kubelet.serve(buildSummary(node, [pod(1, 1)], new Date()));
    const ctx = fakeCtx({ k8s: podsOf([apiInfo]) });
    const m = new ContainerMetrics(containerConfig({ kubelet_url: kubelet.url, enable_k8s_metric: false, interval: '60s' }), ctx, { tokenFile, cpuCount: () => 2 });
    await m.start();
    await waitFor(() => ctx.points.length === 1, { what: 'a point over HTTPS' });
    expect(ctx.errors).toEqual([]);
    await m.stop();
  });

  it('counts kubelet failures by kind and keeps running: 401, 500, bad JSON, wrong shape, unreachable', async () => {
    const ctx = fakeCtx();
    const m = new ContainerMetrics(containerConfig({ kubelet_url: kubelet.url, enable_k8s_metric: false, interval: '60s' }), ctx, { cpuCount: () => 2 });
    await m.start(); // no token file: 401 from the fixture
    await waitFor(() => ctx.errors.length >= 1, { what: '401 error' });
    expect(ctx.errors[0]!.kind).toBe('kubelet_http_status');
    expect(String(ctx.errors[0]!.err)).toMatch(/401/);
    kubelet.requireToken(undefined);

    kubelet.fail(500, '{"kind":"Status"}');
    await m.collect();
    expect(ctx.errors.at(-1)!.kind).toBe('kubelet_http_status');
    kubelet.fail(200, '{"node": {"nodeName": "x"}, "pods": [tru');
    await m.collect();
    expect(ctx.errors.at(-1)!.kind).toBe('kubelet_decode');
    kubelet.fail(200, '{"pods": [{"podRef": 5}]}');
    await m.collect();
    expect(ctx.errors.at(-1)!.kind).toBe('kubelet_shape');
    await kubelet.stop();
    await m.collect();
    expect(ctx.errors.at(-1)!.kind).toBe('kubelet_connect');
    expect(ctx.points).toEqual([]);
    expect(await counter(ctx, 'telekit_container_metrics_collections_total', { source: 'kubelet', result: 'error' })).toBe(5);
    await m.stop();
    kubelet = await FixtureKubelet.start(); // for afterEach
  });

  it('counts points the pipeline refused and filtered containers', async () => {
    kubelet = await replaceKubelet();
    kubelet.serve(buildSummary(node, [pod(1, 1), { ...pod(1, 1), name: 'logfwd-1', uid: 'u2' }], new Date()));
    const info2: PodInfo = { ...apiInfo, uid: 'u2', name: 'logfwd-1', containers: [{ ...apiInfo.containers[0]!, image: 'pubrepo.jiagouyun.com/datakit/logfwd:1.0' }] };
    const ctx = fakeCtx({ k8s: podsOf([apiInfo, info2]) });
    ctx.acc.acceptLimit = 0;
    const m = new ContainerMetrics(containerConfig({ kubelet_url: kubelet.url, enable_k8s_metric: false, interval: '60s' }), ctx, { cpuCount: () => 2 });
    await m.start();
    await waitFor(async () => (await counter(ctx, 'telekit_container_metrics_dropped_total')) === 1, { what: 'dropped count' });
    expect(await counter(ctx, 'telekit_container_metrics_filtered_total')).toBe(1); // default exclude image:*logfwd*
    await m.stop();
  });

  it('collects on its interval and stops cleanly; stop without start is safe', async () => {
    kubelet = await replaceKubelet();
    kubelet.serve(buildSummary(node, [pod(1, 1)], new Date()));
    await new ContainerMetrics(containerConfig({}), fakeCtx()).stop();
    const ctx = fakeCtx();
    const m = new ContainerMetrics(containerConfig({ kubelet_url: kubelet.url, enable_k8s_metric: false, interval: '1s' }), ctx, { cpuCount: () => 2 });
    await m.start();
    await waitFor(() => kubelet.summaryRequests() >= 2, { what: 'two interval collections', timeoutMs: 5000 });
    await m.stop();
    const n = kubelet.summaryRequests();
    await new Promise((r) => setTimeout(r, 1200)); // proves no further collection after stop
    expect(kubelet.summaryRequests()).toBe(n);
  });

  it('needs a kubelet address: without one, container metrics are off (no crash)', async () => {
    const ctx = fakeCtx({ nodeName: '', ip: '' });
    const m = new ContainerMetrics(containerConfig({ enable_k8s_metric: false }), ctx);
    await m.start();
    await m.collect();
    expect(ctx.points).toEqual([]);
    expect(ctx.errors).toEqual([]);
    await m.stop();
  });
});

/** An API server that only answers the node proxy to node-a's /stats/summary (bearer token checked). */
async function proxyApiServer(payload: () => unknown): Promise<{ kc: KubeConfig; paths: string[]; close: () => Promise<void> }> {
  const paths: string[] = [];
  const server = http.createServer((req, res) => {
    paths.push(req.url ?? '');
    if (req.headers.authorization !== 'Bearer api-token') return void res.writeHead(401).end();
    if (req.url !== '/api/v1/nodes/node-a/proxy/stats/summary') return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"kind":"Status","code":404}');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(payload()));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'api-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return { kc, paths, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('Summary through the API server node proxy', () => {
  it('uses only the proxy with kubelet_url = "apiserver"', async () => {
    const api = await proxyApiServer(() => buildSummary(node, [pod(1, 1)], new Date()));
    const ctx = fakeCtx({ k8s: { ...podsOf([apiInfo]), kubeConfig: api.kc } });
    const m = new ContainerMetrics(containerConfig({ kubelet_url: 'apiserver', enable_k8s_metric: false, interval: '60s' }), ctx, { cpuCount: () => 2 });
    await m.start();
    await waitFor(() => ctx.points.length === 1, { what: 'a point through the proxy' });
    expect(ctx.points[0]!.tags).toMatchObject({ pod_name: 'api-1', statefulset: 'api' });
    expect(api.paths).toContain('/api/v1/nodes/node-a/proxy/stats/summary');
    await m.stop();
    await api.close();
  });

  it('falls back to the proxy after 3 failures of the direct kubelet, counting each failure', async () => {
    const api = await proxyApiServer(() => buildSummary(node, [pod(1, 1)], new Date()));
    // No kubelet listens on 127.0.0.1:10250: the default direct URL is refused.
    const ctx = fakeCtx({ k8s: { ...podsOf([apiInfo]), kubeConfig: api.kc }, ip: '127.0.0.1' });
    const m = new ContainerMetrics(containerConfig({ enable_k8s_metric: false, interval: '60s' }), ctx, { cpuCount: () => 2 });
    await m.start();
    await waitFor(
      async () => {
        await m.collect();
        return ctx.points.length > 0;
      },
      { what: 'points after the switch' },
    );
    expect(ctx.errors.map((e) => e.kind)).toEqual(['kubelet_connect', 'kubelet_connect', 'kubelet_connect']);
    await m.stop();
    await api.close();
  });
});

async function replaceKubelet(): Promise<FixtureKubelet> {
  await kubelet.stop();
  return FixtureKubelet.start();
}
