#!/usr/bin/env node
// Container / pod / Kubernetes object metrics: CPU per collection interval.
//
//   npm run build && node --expose-gc bench/k8s-metrics/run.mjs
//
// 1. A node with 110 pods (the kubelet's default maximum), 2 containers each:
//    one collection = GET /stats/summary from a local HTTP server + JSON parse +
//    conversion to docker_containers/kube_pod points with rates. Floor: JSON.parse
//    of the same body alone (any Summary-API collector pays it).
// 2. The leader of a 5,000-pod cluster: one collection = walking the informer
//    caches (objects already in memory) into kube_* / kubernetes points. Peer: what
//    a list-per-interval design pays just to JSON.parse a 5,000-pod PodList.
// Medians over ITER iterations after warm-up; CPU is this process's user+system.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { KubeletClient } from '../../dist/inputs/container/metrics/kubelet.js';
import { summaryToPoints } from '../../dist/inputs/container/metrics/summary.js';
import { RateTracker } from '../../dist/inputs/container/metrics/rates.js';
import { objectPoints, slim } from '../../dist/inputs/container/metrics/objects.js';
import { ContainerFilter } from '../../dist/inputs/container/filter.js';
import { encodeLine } from '../../dist/agent/model/lineproto.js';

const ITER = Number(process.env.ITER ?? 40);
const MiB = 2 ** 20;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Runs fn ITER times (after 5 warm-ups); returns median CPU ms and wall ms per call. */
async function measure(fn) {
  for (let i = 0; i < 5; i++) await fn(i);
  globalThis.gc?.();
  const cpu = [];
  const wall = [];
  for (let i = 0; i < ITER; i++) {
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    await fn(i + 5);
    wall.push(performance.now() - w0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { cpu: median(cpu), wall: median(wall) };
}

// ---------- 1. one node, 110 pods ----------

const fs = (t, used) => ({ time: t, availableBytes: 84e9, capacityBytes: 105e9, usedBytes: used, inodesFree: 6e6, inodes: 6553600, inodesUsed: 553600 });
function summary(k, pods = 110) {
  const t = new Date(Date.UTC(2026, 10, 25, 15, 0, k * 10)).toISOString();
  const start = '2026-11-25T08:00:00Z';
  return {
    node: { nodeName: 'node-a', startTime: start, cpu: { time: t, usageNanoCores: 1e9, usageCoreNanoSeconds: 1e15 + k * 1e10 }, memory: { time: t, availableBytes: 12 * 2 ** 30, workingSetBytes: 4 * 2 ** 30, usageBytes: 5 * 2 ** 30, rssBytes: 3 * 2 ** 30 }, fs: fs(t, 2e10) },
    pods: Array.from({ length: pods }, (_, i) => {
      const cs = ['app', 'sidecar'].map((name, j) => ({
        name,
        startTime: start,
        cpu: { time: t, usageNanoCores: 5e7, usageCoreNanoSeconds: 1e12 * (i + 1) + k * 1e9 * (j + 1) },
        memory: { time: t, usageBytes: 130 * MiB, workingSetBytes: 120 * MiB, rssBytes: 100 * MiB, pageFaults: 4000, majorPageFaults: 2 },
        rootfs: fs(t, 40960),
        logs: fs(t, 12288),
      }));
      const eth0 = { name: 'eth0', rxBytes: 1e6 * i + k * 4e4, rxErrors: 0, txBytes: 2e6 * i + k * 8e4, txErrors: 0 };
      return {
        podRef: { name: `app-${i}-7d4b9c-x2x9z`, namespace: `ns-${i % 12}`, uid: `0f1e2d3c-0000-4000-8000-${String(i).padStart(12, '0')}` },
        startTime: start,
        containers: cs,
        cpu: { time: t, usageNanoCores: 1e8, usageCoreNanoSeconds: 3e12 * (i + 1) + k * 3e9 },
        memory: { time: t, usageBytes: 260 * MiB, workingSetBytes: 240 * MiB, rssBytes: 200 * MiB },
        network: { time: t, ...eth0, interfaces: [eth0] },
        volume: [{ ...fs(t, 12288), name: 'kube-api-access-x2x9z' }],
        'ephemeral-storage': fs(t, 53248),
        process_stats: { process_count: 2 },
      };
    }),
  };
}

const podInfos = new Map();
for (let i = 0; i < 110; i++) {
  podInfos.set(`ns-${i % 12}/app-${i}-7d4b9c-x2x9z`, {
    uid: `u${i}`, namespace: `ns-${i % 12}`, name: `app-${i}-7d4b9c-x2x9z`, nodeName: 'node-a', ip: '10.1.0.1', phase: 'Running', labels: {}, annotations: {},
    owner: { kind: 'deployment', name: `app-${i}` }, resourceVersion: '1',
    containers: ['app', 'sidecar'].map((name) => ({ name, image: `registry.local/team/${name}:1.${i}`, id: `c${i}${name}`, runtime: 'containerd', restartCount: 0, ready: true, env: {}, resources: { cpuLimit: 1, cpuRequest: 0.25, memoryLimit: 512 * MiB, memoryRequest: 256 * MiB } })),
  });
}

const bodies = Array.from({ length: 64 }, (_, k) => JSON.stringify(summary(k)));
let served = 0;
const server = http.createServer((req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(bodies[served++ % bodies.length]));
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const client = new KubeletClient({ url: `http://127.0.0.1:${server.address().port}` });
const rates = new RateTracker();
const filter = new ContainerFilter([], ['image:*logfwd*', 'image:*datakit*']);
let nowMs = Date.UTC(2026, 10, 25, 15, 0, 0);
const opts = () => ({ containers: true, pods: true, filter, podInfo: (ns, name) => podInfos.get(`${ns}/${name}`), nodeName: 'node-a', cpuCount: 8, nowMs: (nowMs += 10_000) });

let lastPoints = [];
const full = await measure(async () => {
  const s = await client.summary();
  rates.beginRound();
  lastPoints = summaryToPoints(s, rates, opts()).points;
  rates.endRound();
});
const parsed = bodies.map((b) => JSON.parse(b));
const convert = await measure((i) => {
  rates.beginRound();
  summaryToPoints(parsed[i % parsed.length], rates, opts());
  rates.endRound();
});
const floor = await measure((i) => JSON.parse(bodies[i % bodies.length]));
const encode = await measure(() => {
  for (const p of lastPoints) encodeLine(p);
});
await client.close();
server.close();

console.log(`node with 110 pods / 220 containers: Summary body ${(bodies[0].length / 1024).toFixed(0)} KiB, ${lastPoints.length} points per interval`);
console.log('| step | CPU ms / interval (median) | wall ms |');
console.log('|---|---|---|');
console.log(`| telekit: GET + parse + convert (with rates) | ${full.cpu.toFixed(2)} | ${full.wall.toFixed(2)} |`);
console.log(`| telekit: convert only | ${convert.cpu.toFixed(2)} | ${convert.wall.toFixed(2)} |`);
console.log(`| floor: JSON.parse of the Summary | ${floor.cpu.toFixed(2)} | ${floor.wall.toFixed(2)} |`);
console.log(`| core (for scale): line-protocol encode of the points | ${encode.cpu.toFixed(2)} | ${encode.wall.toFixed(2)} |`);

// ---------- 2. leader of a 5,000-pod cluster ----------

function pod(i) {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      name: `app-${i % 1000}-7d4b9c-${i}`, namespace: `ns-${i % 40}`, uid: `0f1e2d3c-0000-4000-8000-${String(i).padStart(12, '0')}`, resourceVersion: String(100000 + i),
      creationTimestamp: '2026-11-20T10:00:00Z', labels: { app: `app-${i % 1000}`, 'pod-template-hash': '7d4b9c', team: 'shop' },
      annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-11-20T10:00:00Z' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `app-${i % 1000}-7d4b9c`, uid: 'x', controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      nodeName: `node-${i % 50}`, serviceAccountName: 'default', restartPolicy: 'Always', dnsPolicy: 'ClusterFirst',
      containers: ['app', 'sidecar'].map((name) => ({ name, image: `registry.local/team/${name}:1.2.3`, ports: [{ containerPort: 8080, protocol: 'TCP' }], env: [{ name: 'MODE', value: 'prod' }], resources: { limits: { cpu: '1', memory: '512Mi' }, requests: { cpu: '250m', memory: '256Mi' } }, volumeMounts: [{ name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }] })),
      volumes: [{ name: 'kube-api-access', projected: { sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }] } }],
      tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }],
    },
    status: {
      phase: i % 50 === 0 ? 'Pending' : 'Running', hostIP: '10.0.0.1', podIP: `10.1.${(i >> 8) & 255}.${i & 255}`, qosClass: 'Burstable', startTime: '2026-11-20T10:00:01Z',
      conditions: ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((type) => ({ type, status: 'True', lastTransitionTime: '2026-11-20T10:00:05Z' })),
      containerStatuses: ['app', 'sidecar'].map((name) => ({ name, ready: true, restartCount: 0, image: `registry.local/team/${name}:1.2.3`, imageID: 'registry.local/team@sha256:abc', containerID: `containerd://${'a'.repeat(64)}`, started: true, state: { running: { startedAt: '2026-11-20T10:00:03Z' } } })),
    },
  };
}
const meta = (kind, i, ns = true) => ({ name: `${kind}-${i}`, ...(ns ? { namespace: `ns-${i % 40}` } : {}), uid: `${kind}-${i}` });
const lists = {
  pod: Array.from({ length: 5000 }, (_, i) => pod(i)),
  node: Array.from({ length: 50 }, (_, i) => ({ metadata: meta('node', i, false), spec: {}, status: { capacity: { cpu: '16', memory: '65838496Ki', pods: '110', 'ephemeral-storage': '101430960Ki' }, allocatable: { cpu: '15890m', memory: '64687520Ki', pods: '110', 'ephemeral-storage': '93478772582' }, conditions: [{ type: 'Ready', status: 'True' }, { type: 'MemoryPressure', status: 'False' }, { type: 'DiskPressure', status: 'False' }, { type: 'PIDPressure', status: 'False' }] } })),
  deployment: Array.from({ length: 1000 }, (_, i) => ({ metadata: meta('deploy', i), spec: { replicas: 5, strategy: { rollingUpdate: { maxUnavailable: 1, maxSurge: 1 } } }, status: { replicas: 5, readyReplicas: 5, availableReplicas: 5, updatedReplicas: 5 } })),
  replicaset: Array.from({ length: 2000 }, (_, i) => ({ metadata: { ...meta('rs', i), ownerReferences: [{ kind: 'Deployment', name: `deploy-${i % 1000}`, controller: true }] }, spec: { replicas: i < 1000 ? 5 : 0 }, status: { replicas: i < 1000 ? 5 : 0, readyReplicas: 5, availableReplicas: 5, fullyLabeledReplicas: 5 } })),
  daemonset: Array.from({ length: 20 }, (_, i) => ({ metadata: meta('ds', i), status: { desiredNumberScheduled: 50, currentNumberScheduled: 50, numberReady: 50, updatedNumberScheduled: 50, numberAvailable: 50 } })),
  statefulset: Array.from({ length: 100 }, (_, i) => ({ metadata: meta('sts', i), spec: { replicas: 3 }, status: { replicas: 3, readyReplicas: 3, currentReplicas: 3, updatedReplicas: 3, availableReplicas: 3 } })),
  job: Array.from({ length: 300 }, (_, i) => ({ metadata: { ...meta('job', i), ownerReferences: [{ kind: 'CronJob', name: `cj-${i % 50}`, controller: true }] }, status: { succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] } })),
  cronjob: Array.from({ length: 50 }, (_, i) => ({ metadata: meta('cj', i), spec: { suspend: false }, status: {} })),
};
let objPoints = [];
const leader = await measure(() => {
  objPoints = objectPoints(lists, 1n);
});
const podList = JSON.stringify({ apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: '1' }, items: lists.pod });
const relist = await measure(() => JSON.parse(podList));
const objEncode = await measure(() => {
  for (const p of objPoints) encodeLine(p);
});
lists.pod = [];
function heapOf(make) {
  globalThis.gc?.();
  const h0 = process.memoryUsage().heapUsed;
  const kept = make();
  globalThis.gc?.();
  const mib = (process.memoryUsage().heapUsed - h0) / MiB;
  return { mib, n: kept.length };
}
const fullHeap = heapOf(() => JSON.parse(podList).items);
const slimHeap = heapOf(() => JSON.parse(podList).items.map((o) => slim('pod', o)));
const hundred = Array.from({ length: 100 }, (_, i) => pod(i));
const slimCpu = await measure(() => {
  for (const p of hundred) slim('pod', p);
});

console.log(`\nleader of a 5,000-pod cluster (50 nodes, 1,000 deployments, 2,000 replicasets, 100 statefulsets, 20 daemonsets, 300 jobs, 50 cronjobs): ${objPoints.length} points per interval`);
console.log('| step | CPU ms / interval (median) | wall ms |');
console.log('|---|---|---|');
console.log(`| telekit: informer caches → points | ${leader.cpu.toFixed(2)} | ${leader.wall.toFixed(2)} |`);
console.log(`| peer design: re-list pods each interval (JSON.parse of the ${(podList.length / MiB).toFixed(1)} MiB PodList only) | ${relist.cpu.toFixed(2)} | ${relist.wall.toFixed(2)} |`);
console.log(`| core (for scale): line-protocol encode of the points | ${objEncode.cpu.toFixed(2)} | ${objEncode.wall.toFixed(2)} |`);
console.log(`pod cache for ${fullHeap.n} pods: whole parsed pods ~${fullHeap.mib.toFixed(1)} MiB of heap; telekit's slim copies ~${slimHeap.mib.toFixed(1)} MiB (${slimHeap.n} pods); slimming one pod event: ${(slimCpu.cpu * 10).toFixed(1)} µs CPU`);
