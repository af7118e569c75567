/**
 * Kubelet Summary → points: `docker_containers` (one per container, DataKit's
 * container metric name) and `kube_pod` (one per pod). Pure apart from the
 * {@link RateTracker} state the caller keeps between two collections.
 */
import { int, type FieldValue, type Point } from '../../../agent/model/point.js';
import type { ContainerInfo, PodInfo } from '../../../agent/services/k8s/types.js';
import { parseImage, type ContainerFilter } from '../filter.js';
import type { ContainerStats, CpuStats, NetworkStats, PodStats, Summary } from './kubelet.js';
import type { RateTracker } from './rates.js';

export const CONTAINER_MEASUREMENT = 'docker_containers';
export const POD_MEASUREMENT = 'kube_pod';

export interface ConvertOptions {
  containers: boolean;
  pods: boolean;
  filter: ContainerFilter;
  /** Pod discovery lookup (owner, image, limits, restarts); may return undefined. */
  podInfo: (namespace: string, name: string) => PodInfo | undefined;
  nodeName: string;
  /** CPU cores of the node, for `*_base100`; undefined leaves those fields out. */
  cpuCount: number | undefined;
  /** Collection time (ms): the sample time when the kubelet gives none, and the points' time. */
  nowMs: number;
}

export interface ConvertResult {
  points: Point[];
  /** Containers / pods skipped by include/exclude filters. */
  filtered: number;
}

const ms = (s: string | undefined, fallback: number): number => {
  const t = s === undefined ? NaN : Date.parse(s);
  return Number.isFinite(t) ? t : fallback;
};
const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
/** Sets `f[key]` to a as a percentage of b, when b is positive and the result finite (a tiny b would overflow to ±Infinity). */
function setPct(f: Record<string, FieldValue>, key: string, a: number, b: number | undefined): void {
  if (b === undefined || !(b > 0)) return;
  const v = (a / b) * 100;
  if (Number.isFinite(v)) f[key] = v;
}

/** CPU cores used between two samples (usageCoreNanoSeconds is cumulative). */
function cpuCores(rates: RateTracker, key: string, cpu: CpuStats | undefined, epoch: string, nowMs: number): number | undefined {
  if (!cpu || !num(cpu.usageCoreNanoSeconds)) return undefined;
  const r = rates.perSecond(key, ms(cpu.time, nowMs), cpu.usageCoreNanoSeconds, epoch);
  return r === undefined ? undefined : r / 1e9;
}

function addCpu(f: Record<string, FieldValue>, coresIn: number | undefined, cpuCount: number | undefined, limit: number | undefined, request: number | undefined, countKey: string): void {
  if (cpuCount !== undefined && cpuCount > 0) f[countKey] = int(cpuCount);
  if (limit !== undefined && limit > 0) f.cpu_limit_millicores = int(Math.round(limit * 1000));
  if (request !== undefined && request > 0) f.cpu_request_millicores = int(Math.round(request * 1000));
  if (coresIn === undefined || !Number.isFinite(coresIn)) return;
  const cores = coresIn;
  f.cpu_usage = cores * 100;
  f.cpu_usage_millicores = int(Math.round(cores * 1000));
  setPct(f, 'cpu_usage_base100', cores, cpuCount);
  setPct(f, 'cpu_usage_base_limit', cores, limit);
  setPct(f, 'cpu_usage_base_request', cores, request);
}

function addMemory(f: Record<string, FieldValue>, workingSet: number | undefined, rss: number | undefined, capacity: number | undefined, limit: number | undefined, request: number | undefined): void {
  if (capacity !== undefined && capacity > 0) f.mem_capacity = int(capacity);
  if (limit !== undefined && limit > 0) f.mem_limit = int(limit);
  if (request !== undefined && request > 0) f.mem_request = int(request);
  if (num(rss)) f.mem_rss = int(rss);
  if (!num(workingSet)) return;
  f.mem_usage = int(workingSet);
  setPct(f, 'mem_used_percent', workingSet, capacity);
  setPct(f, 'mem_used_percent_base_limit', workingSet, limit);
  setPct(f, 'mem_used_percent_base_request', workingSet, request);
}

function ownerTags(tags: Record<string, string>, pod: PodInfo | undefined): void {
  if (pod?.owner && pod.owner.kind && pod.owner.name) tags[pod.owner.kind] = pod.owner.name;
}

/** Sums one resource over all containers, or undefined when any container leaves it unset (then the pod is unbounded). */
function sumAll(cs: readonly ContainerInfo[], get: (c: ContainerInfo) => number | undefined): number | undefined {
  if (cs.length === 0) return undefined;
  let total = 0;
  for (const c of cs) {
    const v = get(c);
    if (v === undefined) return undefined;
    total += v;
  }
  return total;
}

function networkTotals(n: NetworkStats | undefined): { rx: number; tx: number } | undefined {
  if (!n) return undefined;
  if (Array.isArray(n.interfaces) && n.interfaces.length > 0) {
    let rx = 0;
    let tx = 0;
    let any = false;
    for (const i of n.interfaces) {
      if (typeof i !== 'object' || i === null) continue;
      if (num(i.rxBytes)) (rx += i.rxBytes), (any = true);
      if (num(i.txBytes)) (tx += i.txBytes), (any = true);
    }
    if (any) return { rx, tx };
  }
  if (num(n.rxBytes) || num(n.txBytes)) return { rx: num(n.rxBytes) ? n.rxBytes : 0, tx: num(n.txBytes) ? n.txBytes : 0 };
  return undefined;
}

/** Node memory capacity: the kubelet reports available = capacity - working set. */
export function nodeMemoryCapacity(s: Summary): number | undefined {
  const m = s.node?.memory;
  return m && num(m.availableBytes) && num(m.workingSetBytes) ? m.availableBytes + m.workingSetBytes : undefined;
}

function containerPoint(pod: PodStats, c: ContainerStats, info: PodInfo | undefined, ci: ContainerInfo | undefined, rates: RateTracker, memCap: number | undefined, o: ConvertOptions, time: bigint): Point {
  const { namespace, name: podName, uid } = pod.podRef;
  const image = ci?.image ?? '';
  const tags: Record<string, string> = {
    container_name: c.name,
    container_type: 'kubernetes',
    namespace,
    pod_name: podName,
    pod_uid: uid,
    state: 'running',
  };
  if (o.nodeName) tags.node_name = o.nodeName;
  if (ci?.id) tags.container_id = ci.id;
  if (ci?.runtime) tags.container_runtime = ci.runtime;
  if (image) {
    const img = parseImage(image);
    tags.image = image;
    tags.image_name = img.name;
    tags.image_short_name = img.shortName;
    if (img.tag) tags.image_tag = img.tag;
  }
  ownerTags(tags, info);
  const f: Record<string, FieldValue> = {};
  const res = ci?.resources;
  const epoch = c.startTime ?? '';
  addCpu(f, cpuCores(rates, `c/${uid}/${c.name}/cpu`, c.cpu, epoch, o.nowMs), o.cpuCount, res?.cpuLimit, res?.cpuRequest, 'cpu_numbers');
  addMemory(f, c.memory?.workingSetBytes, c.memory?.rssBytes, memCap, res?.memoryLimit, res?.memoryRequest);
  if (ci) f.restarts = int(ci.restartCount);
  if (num(c.rootfs?.usedBytes)) f.rootfs_used_bytes = int(c.rootfs.usedBytes);
  return { category: 'metric', name: CONTAINER_MEASUREMENT, tags, fields: f, time };
}

function podPoint(pod: PodStats, containers: ContainerStats[], info: PodInfo | undefined, rates: RateTracker, memCap: number | undefined, o: ConvertOptions, time: bigint): Point {
  const { namespace, name, uid } = pod.podRef;
  const tags: Record<string, string> = { uid, pod: name, pod_name: name, namespace };
  if (o.nodeName) tags.node_name = o.nodeName;
  ownerTags(tags, info);
  const f: Record<string, FieldValue> = {};
  const cs = info?.containers ?? [];
  if (info) {
    f.ready = int(cs.filter((c) => c.ready).length);
    f.restarts = int(cs.reduce((m, c) => Math.max(m, c.restartCount), 0));
  }
  const epoch = pod.startTime ?? '';
  // Pod-level cgroup stats when the kubelet gives them, else the sum of the containers' counters.
  let cpu = pod.cpu;
  if (!num(cpu?.usageCoreNanoSeconds) && containers.length > 0) {
    const parts = containers.map((c) => c.cpu?.usageCoreNanoSeconds);
    if (parts.every(num)) cpu = { time: containers[0]?.cpu?.time, usageCoreNanoSeconds: parts.reduce((a, b) => a + b, 0) };
  }
  const cores = cpuCores(rates, `p/${uid}/cpu`, cpu, epoch, o.nowMs);
  addCpu(f, cores, o.cpuCount, sumAll(cs, (c) => c.resources?.cpuLimit), sumAll(cs, (c) => c.resources?.cpuRequest), 'cpu_number');
  let ws = pod.memory?.workingSetBytes;
  let rss = pod.memory?.rssBytes;
  const sum = (get: (c: ContainerStats) => unknown) => containers.reduce((a, c) => a + (num(get(c)) ? (get(c) as number) : 0), 0);
  if (!num(ws) && containers.length > 0) ws = sum((c) => c.memory?.workingSetBytes);
  if (!num(rss) && containers.length > 0) rss = sum((c) => c.memory?.rssBytes);
  addMemory(f, ws, rss, memCap, sumAll(cs, (c) => c.resources?.memoryLimit), sumAll(cs, (c) => c.resources?.memoryRequest));
  // DataKit's older names, kept for existing dashboards.
  if (f.mem_usage !== undefined) f.memory_usage_bytes = f.mem_usage;
  if (f.mem_capacity !== undefined) f.memory_capacity = f.mem_capacity;
  if (f.mem_used_percent !== undefined) f.memory_used_percent = f.mem_used_percent;
  const net = networkTotals(pod.network);
  if (net) {
    f.network_bytes_rcvd = int(net.rx);
    f.network_bytes_sent = int(net.tx);
    const t = ms(pod.network?.time, o.nowMs);
    const rx = rates.perSecond(`p/${uid}/rx`, t, net.rx, epoch);
    const tx = rates.perSecond(`p/${uid}/tx`, t, net.tx, epoch);
    if (rx !== undefined) f.network_bytes_rcvd_per_sec = rx;
    if (tx !== undefined) f.network_bytes_sent_per_sec = tx;
  }
  const es = pod['ephemeral-storage'];
  if (es) {
    if (num(es.usedBytes)) f.ephemeral_storage_used_bytes = int(es.usedBytes);
    if (num(es.availableBytes)) f.ephemeral_storage_available_bytes = int(es.availableBytes);
    if (num(es.capacityBytes)) f.ephemeral_storage_capacity_bytes = int(es.capacityBytes);
  }
  return { category: 'metric', name: POD_MEASUREMENT, tags, fields: f, time };
}

/**
 * Converts one Summary. Call `rates.beginRound()` before and `rates.endRound()`
 * after (the caller owns the tracker so it survives between collections).
 */
export function summaryToPoints(s: Summary, rates: RateTracker, o: ConvertOptions): ConvertResult {
  const points: Point[] = [];
  let filtered = 0;
  const time = BigInt(Math.round(o.nowMs)) * 1_000_000n;
  const memCap = nodeMemoryCapacity(s);
  for (const pod of s.pods ?? []) {
    const { namespace, name } = pod.podRef;
    const info = o.podInfo(namespace, name);
    const byName = new Map((info?.containers ?? []).map((c) => [c.name, c]));
    // Entries without a name (malformed) are ignored.
    const containers = (Array.isArray(pod.containers) ? pod.containers : []).filter((c): c is ContainerStats => typeof c === 'object' && c !== null && typeof c.name === 'string');
    let anyAllowed = false;
    for (const c of containers) {
      const ci = byName.get(c.name);
      if (!o.filter.allows({ image: ci?.image ?? '', namespace })) {
        filtered++;
        continue;
      }
      anyAllowed = true;
      if (o.containers) points.push(containerPoint(pod, c, info, ci, rates, memCap, o, time));
    }
    if (!o.pods) continue;
    // A pod is collected when any of its containers is (or it has none listed yet and its namespace passes).
    if (!anyAllowed && !(containers.length === 0 && o.filter.allows({ image: '', namespace }))) {
      filtered++;
      continue;
    }
    points.push(podPoint(pod, containers, info, rates, memCap, o, time));
  }
  return { points, filtered };
}
