/**
 * Pure mapping from a Kubernetes pod object to {@link PodInfo}: owner workload
 * resolution, container merge of spec + status. No I/O.
 */
import type { V1ContainerStatus, V1Container, V1OwnerReference, V1Pod } from '@kubernetes/client-node';
import type { ContainerInfo, ContainerResources, OwnerRef, PodInfo, PodVolume, VolumeMount } from './types.js';

/** Characters Kubernetes uses for pod-template-hash (rand.SafeEncodeString). */
const RS_HASH = /^(.+)-[bcdfghjklmnpqrstvwxz2456789]{5,10}$/;
/** CronJob jobs are named `<cronjob>-<scheduled time in minutes since epoch>`. */
const CRON_SUFFIX = /^(.+)-\d{8,}$/;

/**
 * The workload that owns a pod, resolving ReplicaSet → Deployment (strips the
 * pod-template-hash, preferably the one in the pod's labels) and Job → CronJob
 * (when the job name ends in a scheduled-time suffix).
 */
export function ownerOf(refs: V1OwnerReference[] | undefined, labels: Record<string, string>): OwnerRef | undefined {
  if (!refs || refs.length === 0) return undefined;
  const ref = refs.find((r) => r?.controller) ?? refs[0];
  if (!ref?.kind || !ref.name) return undefined;
  const kind = ref.kind.toLowerCase();
  if (kind === 'replicaset') {
    const hash = labels['pod-template-hash'];
    if (hash && ref.name.endsWith(`-${hash}`)) return { kind: 'deployment', name: ref.name.slice(0, -hash.length - 1) };
    const m = RS_HASH.exec(ref.name);
    return m ? { kind: 'deployment', name: m[1]! } : { kind, name: ref.name };
  }
  if (kind === 'job') {
    const m = CRON_SUFFIX.exec(ref.name);
    return m ? { kind: 'cronjob', name: m[1]! } : { kind, name: ref.name };
  }
  return { kind, name: ref.name };
}

/** Splits a runtime container id: `containerd://abc` → `{ runtime: 'containerd', id: 'abc' }`. */
export function splitContainerId(raw: string | undefined): { runtime: string; id: string } {
  if (!raw) return { runtime: '', id: '' };
  const i = raw.indexOf('://');
  return i < 0 ? { runtime: '', id: raw } : { runtime: raw.slice(0, i), id: raw.slice(i + 3) };
}

const SUFFIX: Record<string, number> = {
  n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** Parses a Kubernetes quantity (`500m`, `1.5`, `128Mi`, `1e3`, `2G`) to a number; undefined when malformed. */
export function parseQuantity(q: string | number | undefined): number | undefined {
  if (q === undefined) return undefined;
  if (typeof q === 'number') return Number.isFinite(q) ? q : undefined;
  if (quantityCache.has(q)) return quantityCache.get(q);
  const v = parseQuantityText(q);
  if (quantityCache.size >= 1000) quantityCache.clear(); // the same few strings repeat across pods
  quantityCache.set(q, v);
  return v;
}

const quantityCache = new Map<string, number | undefined>();

function parseQuantityText(q: string): number | undefined {
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)$/.exec(q.trim());
  if (!m) return undefined;
  const v = Number(m[1]) * SUFFIX[m[2]!]!;
  return Number.isFinite(v) ? v : undefined;
}

function resourcesOf(c: V1Container): ContainerResources | undefined {
  const r = c.resources;
  if (!r) return undefined;
  const out: ContainerResources = {};
  const set = (k: keyof ContainerResources, v: string | undefined) => {
    const n = parseQuantity(v);
    if (n !== undefined) out[k] = n;
  };
  set('cpuLimit', r.limits?.cpu);
  set('cpuRequest', r.requests?.cpu);
  set('memoryLimit', r.limits?.memory);
  set('memoryRequest', r.requests?.memory);
  return Object.keys(out).length > 0 ? out : undefined;
}

function containerInfo(c: V1Container, st: V1ContainerStatus | undefined, init: boolean): ContainerInfo {
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) if (typeof e?.value === 'string' && e.valueFrom === undefined) env[e.name] = e.value;
  const { runtime, id } = splitContainerId(st?.containerID);
  const info: ContainerInfo = {
    name: c.name,
    image: c.image ?? st?.image ?? '',
    id,
    runtime,
    restartCount: st?.restartCount ?? 0,
    ready: st?.ready ?? false,
    env,
  };
  const resources = resourcesOf(c);
  if (resources) info.resources = resources;
  if (init) info.init = true;
  const mounts: VolumeMount[] = (c.volumeMounts ?? [])
    .filter((m) => typeof m?.name === 'string' && typeof m.mountPath === 'string')
    .map((m) => ({ name: m.name, mountPath: m.mountPath, subPath: m.subPath ?? '', ...(m.subPathExpr ? { subPathExpr: true } : {}) }));
  if (mounts.length > 0) info.mounts = mounts;
  return info;
}

/** Maps a pod object to PodInfo. Init containers come after the regular ones, marked `init: true`. */
export function podInfoFromObject(pod: V1Pod): PodInfo {
  const meta = pod.metadata ?? {};
  const labels = meta.labels ?? {};
  const byName = (list: V1ContainerStatus[] | undefined) => new Map((list ?? []).map((s) => [s.name, s]));
  const statuses = byName(pod.status?.containerStatuses);
  const initStatuses = byName(pod.status?.initContainerStatuses);
  const volumes: PodVolume[] = (pod.spec?.volumes ?? [])
    .filter((v) => typeof v?.name === 'string')
    .map((v) => ({ name: v.name, kind: Object.keys(v).find((k) => k !== 'name' && (v as unknown as Record<string, unknown>)[k] != null) ?? '' }));
  return {
    uid: meta.uid ?? '',
    namespace: meta.namespace ?? '',
    name: meta.name ?? '',
    nodeName: pod.spec?.nodeName ?? '',
    ip: pod.status?.podIP ?? '',
    phase: pod.status?.phase ?? '',
    labels: { ...labels },
    annotations: { ...(meta.annotations ?? {}) },
    owner: ownerOf(meta.ownerReferences, labels),
    containers: [
      ...(pod.spec?.containers ?? []).map((c) => containerInfo(c, statuses.get(c.name), false)),
      ...(pod.spec?.initContainers ?? []).map((c) => containerInfo(c, initStatuses.get(c.name), true)),
    ],
    ...(volumes.length > 0 ? { volumes } : {}),
    resourceVersion: meta.resourceVersion ?? '',
  };
}
