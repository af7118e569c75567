import { describe, expect, it } from 'vitest';
import { buildSummary, type FixturePod } from '../../../test/fixtures/kubelet.js';
import type { PodInfo } from '../../../agent/services/k8s/types.js';
import type { Point } from '../../../agent/model/point.js';
import { ContainerFilter } from '../filter.js';
import { isSummary, type Summary } from './kubelet.js';
import { RateTracker } from './rates.js';
import { summaryToPoints, type ConvertOptions } from './summary.js';

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const T0 = Date.parse('2026-11-25T15:00:00Z');
const node = { nodeName: 'node-a', memoryCapacityBytes: 8 * GiB, memoryWorkingSetBytes: 3 * GiB };

function web(cpuNs: number, rx: number, tx: number, extra: Partial<FixturePod> = {}): FixturePod {
  return {
    namespace: 'shop',
    name: 'web-7d4b9c-x2x9z',
    uid: 'uid-web',
    containers: [
      { name: 'nginx', cpuCoreNs: cpuNs, workingSetBytes: 256 * MiB, rssBytes: 200 * MiB },
      { name: 'sidecar', cpuCoreNs: cpuNs / 10, workingSetBytes: 32 * MiB },
    ],
    rxBytes: rx,
    txBytes: tx,
    ephemeralUsedBytes: 70_000,
    ...extra,
  };
}

const webInfo: PodInfo = {
  uid: 'uid-web',
  namespace: 'shop',
  name: 'web-7d4b9c-x2x9z',
  nodeName: 'node-a',
  ip: '10.1.0.5',
  phase: 'Running',
  labels: {},
  annotations: {},
  owner: { kind: 'deployment', name: 'web' },
  resourceVersion: '1',
  containers: [
    { name: 'nginx', image: 'docker.io/library/nginx:1.25', id: 'abc123', runtime: 'containerd', restartCount: 2, ready: true, env: {}, resources: { cpuLimit: 1, cpuRequest: 0.25, memoryLimit: 512 * MiB, memoryRequest: 128 * MiB } },
    { name: 'sidecar', image: 'registry.local/tools/envoy-sidecar:v1', id: 'def456', runtime: 'containerd', restartCount: 0, ready: false, env: {}, resources: { cpuLimit: 0.5 } },
  ],
};

function opts(o: Partial<ConvertOptions> = {}): ConvertOptions {
  return {
    containers: true,
    pods: true,
    filter: new ContainerFilter([], []),
    podInfo: (ns, name) => (ns === 'shop' && name === webInfo.name ? webInfo : undefined),
    nodeName: 'node-a',
    cpuCount: 4,
    nowMs: T0,
    ...o,
  };
}

function run(rates: RateTracker, s: unknown, o: ConvertOptions) {
  expect(isSummary(s)).toBe(true);
  rates.beginRound();
  const r = summaryToPoints(s as Summary, rates, o);
  rates.endRound();
  return r;
}

const find = (pts: Point[], name: string, tag: Record<string, string>) =>
  pts.find((p) => p.name === name && Object.entries(tag).every(([k, v]) => p.tags[k] === v));

describe('summaryToPoints', () => {
  it('computes CPU and network rates from two samples, never from the first alone', () => {
    const rates = new RateTracker();
    const first = run(rates, buildSummary(node, [web(1e12, 1_000_000, 5_000_000)], new Date(T0)), opts());
    const c1 = find(first.points, 'docker_containers', { container_name: 'nginx' })!;
    expect(c1.fields.cpu_usage).toBeUndefined();
    expect(c1.fields.cpu_usage_millicores).toBeUndefined();
    expect(c1.fields.mem_usage).toBe(BigInt(256 * MiB));
    const p1 = find(first.points, 'kube_pod', { pod: 'web-7d4b9c-x2x9z' })!;
    expect(p1.fields.network_bytes_rcvd).toBe(1_000_000n);
    expect(p1.fields.network_bytes_rcvd_per_sec).toBeUndefined();

    // 10 s later: nginx used 5 s of CPU (0.5 cores), the pod received 10 kB/s and sent 20 kB/s.
    const second = run(rates, buildSummary(node, [web(1e12 + 5e9, 1_100_000, 5_200_000)], new Date(T0 + 10_000)), opts({ nowMs: T0 + 10_000 }));
    const c = find(second.points, 'docker_containers', { container_name: 'nginx' })!;
    expect(c.fields.cpu_usage).toBeCloseTo(50, 6);
    expect(c.fields.cpu_usage_millicores).toBe(500n);
    expect(c.fields.cpu_usage_base100).toBeCloseTo(12.5, 6);
    expect(c.fields.cpu_numbers).toBe(4n);
    expect(c.fields.cpu_limit_millicores).toBe(1000n);
    expect(c.fields.cpu_usage_base_limit).toBeCloseTo(50, 6);
    expect(c.fields.cpu_request_millicores).toBe(250n);
    expect(c.fields.cpu_usage_base_request).toBeCloseTo(200, 6);
    expect(c.fields.mem_limit).toBe(BigInt(512 * MiB));
    expect(c.fields.mem_used_percent_base_limit).toBeCloseTo(50, 6);
    expect(c.fields.mem_used_percent_base_request).toBeCloseTo(200, 6);
    expect(c.fields.mem_rss).toBe(BigInt(200 * MiB));
    expect(c.fields.mem_capacity).toBe(BigInt(8 * GiB));
    expect(c.fields.mem_used_percent).toBeCloseTo(3.125, 6);
    expect(c.fields.restarts).toBe(2n);
    expect(c.time).toBe(BigInt(T0 + 10_000) * 1_000_000n);

    const p = find(second.points, 'kube_pod', { pod: 'web-7d4b9c-x2x9z' })!;
    expect(p.fields.network_bytes_rcvd_per_sec).toBeCloseTo(10_000, 6);
    expect(p.fields.network_bytes_sent_per_sec).toBeCloseTo(20_000, 6);
    expect(p.fields.network_bytes_sent).toBe(5_200_000n);
    // pod CPU = nginx 0.5 + sidecar 0.05 cores
    expect(p.fields.cpu_usage_millicores).toBe(550n);
    expect(p.fields.cpu_limit_millicores).toBe(1500n);
    expect(p.fields.cpu_usage_base_limit).toBeCloseTo((0.55 / 1.5) * 100, 6);
    // sidecar has no memory limit: the pod is unbounded, so no pod memory limit
    expect(p.fields.mem_limit).toBeUndefined();
    expect(p.fields.mem_usage).toBe(BigInt(288 * MiB));
    expect(p.fields.memory_usage_bytes).toBe(BigInt(288 * MiB));
    expect(p.fields.ephemeral_storage_used_bytes).toBe(70_000n);
    expect(p.fields.ephemeral_storage_capacity_bytes).toBeGreaterThan(0n);
    expect(p.fields.restarts).toBe(2n);
    expect(p.fields.ready).toBe(1n);
  });

  it('tags containers and pods with namespace, pod, container, image, node and owner workload', () => {
    const r = run(new RateTracker(), buildSummary(node, [web(1e9, 1, 1)], new Date(T0)), opts());
    const c = find(r.points, 'docker_containers', { container_name: 'nginx' })!;
    expect(c.category).toBe('metric');
    expect(c.tags).toMatchObject({
      namespace: 'shop',
      pod_name: 'web-7d4b9c-x2x9z',
      pod_uid: 'uid-web',
      container_name: 'nginx',
      container_id: 'abc123',
      container_runtime: 'containerd',
      image: 'docker.io/library/nginx:1.25',
      image_name: 'docker.io/library/nginx',
      image_short_name: 'nginx',
      image_tag: '1.25',
      node_name: 'node-a',
      deployment: 'web',
    });
    expect(c.tags.host).toBeUndefined(); // the core adds host tags
    const p = find(r.points, 'kube_pod', {})!;
    expect(p.tags).toMatchObject({ namespace: 'shop', pod: 'web-7d4b9c-x2x9z', pod_name: 'web-7d4b9c-x2x9z', uid: 'uid-web', node_name: 'node-a', deployment: 'web' });
  });

  it('applies container_include_metric / container_exclude_metric to containers and pods', () => {
    const other: FixturePod = { namespace: 'kube-system', name: 'coredns-1', uid: 'uid-dns', containers: [{ name: 'coredns', cpuCoreNs: 1, workingSetBytes: 1 }], rxBytes: 0, txBytes: 0 };
    const s = buildSummary(node, [web(1e9, 1, 1), other], new Date(T0));
    const ex = run(new RateTracker(), s, opts({ filter: new ContainerFilter([], ['image:*sidecar*', 'namespace:kube-system']) }));
    const names = ex.points.filter((p) => p.name === 'docker_containers').map((p) => p.tags.container_name);
    expect(names).toEqual(['nginx']);
    expect(ex.points.filter((p) => p.name === 'kube_pod').map((p) => p.tags.pod)).toEqual(['web-7d4b9c-x2x9z']);
    expect(ex.filtered).toBe(3); // sidecar, coredns container, coredns pod

    // include wins over exclude
    const inc = run(new RateTracker(), s, opts({ filter: new ContainerFilter(['image_short_name:envoy-sidecar'], ['image:*']) }));
    const got = inc.points.filter((p) => p.name === 'docker_containers').map((p) => p.tags.container_name);
    expect(got).toContain('sidecar');
    expect(got).not.toContain('nginx');
  });

  it('treats a container restart (new startTime or lower counter) as a reset, not a negative rate', () => {
    const rates = new RateTracker();
    run(rates, buildSummary(node, [web(5e9, 100, 100)], new Date(T0)), opts());
    const restarted = web(1e9, 200, 200);
    restarted.containers[0]!.startTime = new Date(T0 + 5000).toISOString();
    const r = run(rates, buildSummary(node, [restarted], new Date(T0 + 10_000)), opts({ nowMs: T0 + 10_000 }));
    expect(find(r.points, 'docker_containers', { container_name: 'nginx' })!.fields.cpu_usage).toBeUndefined();
    const r3 = run(rates, buildSummary(node, [{ ...restarted, containers: [{ ...restarted.containers[0]!, cpuCoreNs: 3e9 }, restarted.containers[1]!] }], new Date(T0 + 20_000)), opts({ nowMs: T0 + 20_000 }));
    expect(find(r3.points, 'docker_containers', { container_name: 'nginx' })!.fields.cpu_usage).toBeCloseTo(20, 6);
  });

  it('reuses the last rate when the kubelet repeats a cached sample', () => {
    const rates = new RateTracker();
    run(rates, buildSummary(node, [web(1e9, 0, 0)], new Date(T0)), opts());
    const s2 = buildSummary(node, [web(3e9, 0, 0)], new Date(T0 + 10_000));
    run(rates, s2, opts({ nowMs: T0 + 10_000 }));
    const again = run(rates, s2, opts({ nowMs: T0 + 12_000 }));
    expect(find(again.points, 'docker_containers', { container_name: 'nginx' })!.fields.cpu_usage).toBeCloseTo(20, 6);
  });

  it('emits without discovery info (no image, owner or limits) and honours enable flags', () => {
    const r = run(new RateTracker(), buildSummary(node, [web(1e9, 0, 0)], new Date(T0)), opts({ podInfo: () => undefined, pods: false }));
    expect(r.points.every((p) => p.name === 'docker_containers')).toBe(true);
    const c = r.points[0]!;
    expect(c.tags.image).toBeUndefined();
    expect(c.tags.deployment).toBeUndefined();
    expect(c.fields.cpu_limit_millicores).toBeUndefined();
    expect(c.fields.restarts).toBeUndefined();
    const podsOnly = run(new RateTracker(), buildSummary(node, [web(1e9, 0, 0)], new Date(T0)), opts({ containers: false }));
    expect(podsOnly.points.map((p) => p.name)).toEqual(['kube_pod']);
  });

  it('forgets series of pods that went away', () => {
    const rates = new RateTracker();
    run(rates, buildSummary(node, [web(1e9, 0, 0)], new Date(T0)), opts());
    expect(rates.size).toBeGreaterThan(0);
    run(rates, buildSummary(node, [], new Date(T0 + 10_000)), opts());
    expect(rates.size).toBe(0);
  });

  it('writes no percentage that overflows: a denominator near zero leaves the field out (the fuzz test\'s counterexample)', () => {
    const s = { node: { memory: { workingSetBytes: 0, availableBytes: 5e-324 } }, pods: [{ podRef: { name: 'p', namespace: 'n', uid: 'u' }, memory: { workingSetBytes: -8.881784197001253e-18 } }] };
    const r = run(new RateTracker(), s, opts({ podInfo: () => undefined }));
    const pod = r.points.find((p) => p.name === 'kube_pod')!;
    expect(pod.fields.mem_usage).toBeDefined();
    expect(pod.fields.mem_used_percent).toBeUndefined();
    for (const p of r.points) for (const v of Object.values(p.fields)) if (typeof v === 'number') expect(Number.isFinite(v)).toBe(true);
  });

  it('rejects payloads that are not a Summary', () => {
    expect(isSummary(null)).toBe(false);
    expect(isSummary([])).toBe(false);
    expect(isSummary({ pods: {} })).toBe(false);
    expect(isSummary({ pods: [{ podRef: { name: 'a', namespace: 'b' } }] })).toBe(false);
    expect(isSummary({ node: 'x' })).toBe(false);
    expect(isSummary({ pods: [] })).toBe(true);
  });
});

describe('a Summary shaped like a kind node answer (hand-written after statsapi v1alpha1, with swap, volumes, process_stats)', () => {
  it('converts it, including a just-started container without CPU stats', async () => {
    const { readFileSync } = await import('node:fs');
    const raw: unknown = JSON.parse(readFileSync(new URL('./testdata/summary-kind.json', import.meta.url), 'utf8'));
    expect(isSummary(raw)).toBe(true);
    const rates = new RateTracker();
    const r = run(rates, raw, opts({ podInfo: () => undefined, nodeName: 'kind-control-plane', nowMs: Date.parse('2026-11-25T15:00:10Z') }));
    expect(r.points.map((p) => `${p.name}/${p.tags.pod_name}/${p.tags.container_name ?? ''}`).sort()).toEqual([
      'docker_containers/coredns-7db6d8ff4d-8x2pq/coredns',
      'docker_containers/web-0/web',
      'kube_pod/coredns-7db6d8ff4d-8x2pq/',
      'kube_pod/web-0/',
    ]);
    const dns = find(r.points, 'docker_containers', { container_name: 'coredns' })!;
    expect(dns.fields).toMatchObject({ mem_usage: 17059840n, mem_rss: 12713984n, rootfs_used_bytes: 36864n, mem_capacity: 6199578624n + 1837383680n });
    const web = find(r.points, 'kube_pod', { pod: 'web-0' })!;
    expect(web.fields).toMatchObject({ mem_usage: 0n, network_bytes_rcvd: 0n });
    expect(web.fields.cpu_usage).toBeUndefined();
  });
});
