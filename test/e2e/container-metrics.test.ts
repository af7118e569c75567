/**
 * Container, pod and Kubernetes object metrics end to end: in-process agents
 * with `[inputs.container]`, a fixture kubelet serving Summary payloads that
 * advance between samples, the fixture API server driven through the real
 * @kubernetes/client-node (pod discovery, Lease election, object informers),
 * and points checked at the test dataway.
 */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { K8sApiFixture } from '../fixtures/k8s-api.js';
import { makePod } from '../fixtures/k8s-objects.js';
import { FixtureKubelet, buildSummary, type FixturePod } from '../fixtures/kubelet.js';
import { startTestAgent, tempDir, type TestAgent } from '../helpers/agent.js';
import type { RecordedPoint } from '../helpers/dataway.js';
import { waitFor } from '../helpers/wait.js';
import { clusterObjects } from '../../inputs/container/metrics/testdata/cluster.js';

const MiB = 2 ** 20;
const NODE = { nodeName: 'node-a', memoryCapacityBytes: 16 * 1024 * MiB, memoryWorkingSetBytes: 4 * 1024 * MiB };

let api: K8sApiFixture;
let kubelet: FixtureKubelet;
const agents: TestAgent[] = [];

/** Pods of node-a as the kubelet sees them at sample k: web uses 0.25 cores, receives 4 kB/s. */
function samplePods(k: number): FixturePod[] {
  return [
    {
      namespace: 'shop',
      name: 'web-7d4b9c-abcde',
      uid: 'uid-web-1',
      containers: [
        { name: 'nginx', cpuCoreNs: 1e12 + k * 2.5e9, workingSetBytes: 64 * MiB, rssBytes: 50 * MiB },
        { name: 'logfwd', cpuCoreNs: 1e10 + k * 1e8, workingSetBytes: 8 * MiB },
      ],
      rxBytes: 5_000_000 + k * 40_000,
      txBytes: 9_000_000 + k * 80_000,
      ephemeralUsedBytes: 123_456,
    },
    { namespace: 'kube-system', name: 'coredns-5d78c9869d-q2x7k', uid: 'uid-dns', containers: [{ name: 'coredns', cpuCoreNs: 5e11 + k * 1e8, workingSetBytes: 20 * MiB }], rxBytes: 1000 + k, txBytes: 1000 + k },
  ];
}

beforeEach(async () => {
  api = await K8sApiFixture.start();
  kubelet = await FixtureKubelet.start();
  // Each request is the next sample, 10 s of kubelet time apart.
  let k = 0;
  const t0 = Date.now() - 3_600_000;
  kubelet.serve(() => {
    const s = buildSummary(NODE, samplePods(k), new Date(t0 + k * 10_000));
    k++;
    return s;
  });
  const web = makePod({
    name: 'web-7d4b9c-abcde',
    namespace: 'shop',
    uid: 'uid-web-1',
    node: 'node-a',
    labels: { app: 'web', 'pod-template-hash': '7d4b9c' },
    owner: { kind: 'ReplicaSet', name: 'web-7d4b9c' },
    containers: [
      { name: 'nginx', image: 'docker.io/library/nginx:1.25', restartCount: 3 },
      { name: 'logfwd', image: 'pubrepo.jiagouyun.com/datakit/logfwd:1.2' },
    ],
  });
  // Resource limits as the API server returns them.
  const cs = (web.spec!.containers as { resources?: object }[]);
  cs[0]!.resources = { limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: '100m', memory: '64Mi' } };
  api.upsert('pods', web);
  api.upsert('pods', makePod({ name: 'coredns-5d78c9869d-q2x7k', namespace: 'kube-system', uid: 'uid-dns', node: 'node-a', containers: [{ name: 'coredns', image: 'registry.k8s.io/coredns/coredns:v1.11.1' }] }));
  api.upsert('pods', makePod({ name: 'db-0', namespace: 'shop', node: 'node-b', phase: 'Pending', owner: { kind: 'StatefulSet', name: 'db' } }));
  for (const [resource, obj] of clusterObjects()) api.upsert(resource, obj);
});

afterEach(async () => {
  while (agents.length) await agents.pop()!.stop();
  await kubelet.stop();
  await api.close();
});

async function agent(hostname: string, extraConf = ''): Promise<TestAgent> {
  const logs = tempDir('cm-logs-');
  const a = await startTestAgent({
    conf: {
      'container/container.conf': `[inputs.container]
kubelet_url = ${JSON.stringify(kubelet.url)}
interval = "1s"
enable_container_metric = true
enable_pod_metric = true
enable_k8s_metric = true
docker_endpoint = "unix:///var/run/docker.sock"
containerd_address = "/var/run/containerd/containerd.sock"
pod_logs_dir = ${JSON.stringify(logs)}
docker_logs_dir = ${JSON.stringify(path.join(logs, '_docker'))}
${extraConf}
[inputs.container.tags]
team = "platform"
`,
    },
    env: {
      KUBECONFIG: await api.kubeconfigPath(),
      ENV_K8S_NODE_NAME: 'node-a',
      ENV_HOSTNAME: hostname,
      ENV_ENABLE_ELECTION: '1',
      ENV_GLOBAL_HOST_TAGS: 'cluster_name_k8s=prod',
    },
  });
  agents.push(a);
  return a;
}

const last = (pts: RecordedPoint[], pred: (p: RecordedPoint) => boolean) => pts.filter(pred).at(-1);

describe('container metrics end to end', () => {
  it('sends container and pod metrics with rates, % of limits, discovery tags, input and global tags', async () => {
    const a = await agent('agent-a');
    const withRate = await waitFor(
      () => last(a.dataway.points('metric', 'docker_containers'), (p) => p.tags.container_name === 'nginx' && p.fields.cpu_usage !== undefined),
      { timeoutMs: 15_000, what: 'a container point with a CPU rate' },
    );
    expect(withRate.fields.cpu_usage).toBeCloseTo(25, 6);
    expect(withRate.fields.cpu_usage_millicores).toBe(250n);
    expect(withRate.fields.cpu_usage_base_limit).toBeCloseTo(50, 6);
    expect(withRate.fields.cpu_usage_base_request).toBeCloseTo(250, 6);
    expect(withRate.fields.cpu_numbers).toBe(4n); // the Node's capacity from the API
    expect(withRate.fields.mem_usage).toBe(BigInt(64 * MiB));
    expect(withRate.fields.mem_used_percent_base_limit).toBeCloseTo(50, 6);
    expect(withRate.fields.restarts).toBe(3n);
    expect(withRate.tags).toMatchObject({
      namespace: 'shop',
      pod_name: 'web-7d4b9c-abcde',
      container_name: 'nginx',
      image: 'docker.io/library/nginx:1.25',
      node_name: 'node-a',
      deployment: 'web',
      team: 'platform',
      cluster_name_k8s: 'prod',
      host: 'agent-a',
    });

    const pod = await waitFor(() => last(a.dataway.points('metric', 'kube_pod'), (p) => p.tags.pod === 'web-7d4b9c-abcde' && p.fields.network_bytes_rcvd_per_sec !== undefined), { timeoutMs: 15_000 });
    expect(pod.fields.network_bytes_rcvd_per_sec).toBeCloseTo(4000, 6);
    expect(pod.fields.network_bytes_sent_per_sec).toBeCloseTo(8000, 6);
    expect(pod.fields.ephemeral_storage_used_bytes).toBe(123_456n);
    expect(pod.tags).toMatchObject({ namespace: 'shop', deployment: 'web', node_name: 'node-a', team: 'platform' });

    // Default exclude (image:*logfwd*) drops the logfwd container; coredns has no exclusion.
    const names = new Set(a.dataway.points('metric', 'docker_containers').map((p) => p.tags.container_name));
    expect(names).toEqual(new Set(['nginx', 'coredns']));
  });

  it('honours container_include_metric / container_exclude_metric', async () => {
    const a = await agent('agent-a', 'container_include_metric = ["image_short_name:logfwd"]\ncontainer_exclude_metric = ["namespace:*"]');
    await waitFor(() => a.dataway.points('metric', 'docker_containers').length >= 2, { timeoutMs: 15_000, what: 'two collections' });
    expect(new Set(a.dataway.points('metric', 'docker_containers').map((p) => p.tags.container_name))).toEqual(new Set(['logfwd']));
  });

  it('sends object metrics from the elected leader only, and from the other agent once the leader stops', async () => {
    const a = await agent('agent-a');
    const b = await agent('agent-b');
    // Both nodes' agents send their own container metrics.
    await waitFor(() => a.dataway.points('metric', 'docker_containers').length > 0 && b.dataway.points('metric', 'docker_containers').length > 0, { timeoutMs: 15_000, what: 'container metrics from both' });
    const leaderDw = await waitFor(() => [a, b].find((x) => x.dataway.points('metric', 'kube_deployment').length > 0)?.dataway, { timeoutMs: 15_000, what: 'object metrics from a leader' });
    const follower = leaderDw === a.dataway ? b : a;
    // Let the follower run several intervals: it never sends object metrics.
    const n = follower.dataway.points('metric', 'docker_containers').length;
    await waitFor(() => follower.dataway.points('metric', 'docker_containers').length >= n + 6, { timeoutMs: 15_000, what: 'more follower collections' });
    for (const m of ['kube_deployment', 'kube_daemonset', 'kube_node', 'kubernetes']) expect(follower.dataway.points('metric', m)).toEqual([]);
    // Only the leader watches workload kinds (pods are also watched per node by discovery).
    for (const r of ['deployments', 'daemonsets', 'statefulsets', 'replicasets', 'jobs', 'cronjobs', 'nodes']) expect(api.openWatches(r)).toBe(1);

    const dep = last(leaderDw.points('metric', 'kube_deployment'), (p) => p.tags.deployment === 'web')!;
    expect(dep.tags).toMatchObject({ namespace: 'shop', team: 'platform' });
    expect(dep.fields).toMatchObject({ replicas_desired: 3n, replicas_ready: 2n, replicas_available: 2n, replicas_unavailable: 1n });
    expect(last(leaderDw.points('metric', 'kube_daemonset'), () => true)!.fields).toMatchObject({ desired: 2n, ready: 1n, daemons_unavailable: 1n });
    expect(last(leaderDw.points('metric', 'kube_statefulset'), () => true)!.fields).toMatchObject({ replicas_desired: 1n, replicas_ready: 0n });
    expect(last(leaderDw.points('metric', 'kube_replicaset'), () => true)!.tags).toMatchObject({ replicaset: 'web-7d4b9c', deployment: 'web' });
    expect(last(leaderDw.points('metric', 'kube_job'), () => true)!.fields).toMatchObject({ succeeded: 1n, completion_succeeded: 1n });
    expect(last(leaderDw.points('metric', 'kube_cronjob'), () => true)!.fields).toMatchObject({ spec_suspend: false });
    const nodeA = last(leaderDw.points('metric', 'kube_node'), (p) => p.tags.node === 'node-a')!;
    expect(nodeA.fields).toMatchObject({ cpu_capacity: 4, pods_allocatable: 110, condition_ready: 1n, condition_memory_pressure: 0n });
    const shop = last(leaderDw.points('metric', 'kubernetes'), (p) => p.tags.namespace === 'shop')!;
    expect(shop.fields).toMatchObject({ pod: 2n, pod_running: 1n, pod_pending: 1n, deployment: 1n, statefulset: 1n });

    // An object change reaches the next collection through the watch, not a relist.
    const deploymentLists = () => api.requests.filter((r) => r.resource === 'deployments' && r.verb === 'list').length;
    const lists = deploymentLists();
    api.upsert('deployments', { ...clusterObjects().find(([r]) => r === 'deployments')![1], status: { replicas: 3, readyReplicas: 3, availableReplicas: 3, updatedReplicas: 3 } });
    await waitFor(() => last(leaderDw.points('metric', 'kube_deployment'), (p) => p.tags.deployment === 'web')?.fields.replicas_ready === 3n, { timeoutMs: 10_000, what: 'updated deployment' });
    expect(deploymentLists()).toBe(lists);

    // The leader stops (releasing the Lease): the other agent takes over the object metrics.
    const leader = leaderDw === a.dataway ? a : b;
    await agents.splice(agents.indexOf(leader), 1)[0]!.stop();
    await waitFor(() => follower.dataway.points('metric', 'kube_deployment').length > 0, { timeoutMs: 15_000, what: 'object metrics from the new leader' });
    expect(last(follower.dataway.points('metric', 'kube_deployment'), (p) => p.tags.deployment === 'web')!.fields.replicas_ready).toBe(3n);
  });
});
