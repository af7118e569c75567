/**
 * Kubernetes objects → cluster-level metric points (leader only), with
 * DataKit's measurement and field names: `kube_deployment`, `kube_daemonset`,
 * `kube_statefulset`, `kube_replicaset`, `kube_job`, `kube_cronjob`,
 * `kube_node`, and the per-namespace counts in `kubernetes`.
 *
 * Objects are read structurally (the informers hand over both deserialized
 * list items and raw watch JSON); the API omits zero counters, so absent
 * status fields count as 0.
 */
import { int, type FieldValue, type Point } from '../../../agent/model/point.js';
import { parseQuantity } from './quantity.js';

/** The parts of a Kubernetes object read here. */
export interface K8sObject {
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string; ownerReferences?: { kind?: string; name?: string; controller?: boolean }[] };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

export const OBJECT_KINDS = ['pod', 'node', 'deployment', 'daemonset', 'statefulset', 'replicaset', 'job', 'cronjob'] as const;
export type ObjectKind = (typeof OBJECT_KINDS)[number];

/** Cached objects per kind; a kind is absent until its informer has listed once (its counts are then left out, not reported as 0). */
export type ObjectLists = Partial<Record<ObjectKind, readonly K8sObject[]>>;

const n = (v: unknown): bigint => int(typeof v === 'number' && Number.isFinite(v) ? v : 0);

function base(name: string, kindTag: string, o: K8sObject, time: bigint): Point {
  const tags: Record<string, string> = { uid: o.metadata?.uid ?? '', [kindTag]: o.metadata?.name ?? '' };
  if (o.metadata?.namespace) tags.namespace = o.metadata.namespace;
  return { category: 'metric', name, tags, fields: {}, time };
}

function controller(o: K8sObject): { kind: string; name: string } | undefined {
  const refs = o.metadata?.ownerReferences ?? [];
  const r = refs.find((x) => x.controller) ?? refs[0];
  return r?.kind && r.name ? { kind: r.kind.toLowerCase(), name: r.name } : undefined;
}

export function deploymentPoint(o: K8sObject, time: bigint): Point {
  const p = base('kube_deployment', 'deployment', o, time);
  const s = o.status ?? {};
  const f = p.fields;
  f.replicas = n(s.replicas);
  f.replicas_updated = n(s.updatedReplicas);
  f.replicas_ready = n(s.readyReplicas);
  f.replicas_available = n(s.availableReplicas);
  f.replicas_unavailable = n(s.unavailableReplicas);
  // spec.replicas defaults to 1 when unset.
  f.replicas_desired = n(typeof o.spec?.replicas === 'number' ? o.spec.replicas : 1);
  const ru = (o.spec?.strategy as { rollingUpdate?: { maxUnavailable?: unknown; maxSurge?: unknown } } | undefined)?.rollingUpdate;
  if (typeof ru?.maxUnavailable === 'number') f.rollingupdate_max_unavailable = n(ru.maxUnavailable);
  if (typeof ru?.maxSurge === 'number') f.rollingupdate_max_surge = n(ru.maxSurge);
  return p;
}

export function daemonsetPoint(o: K8sObject, time: bigint): Point {
  const p = base('kube_daemonset', 'daemonset', o, time);
  const s = o.status ?? {};
  Object.assign(p.fields, {
    desired: n(s.desiredNumberScheduled),
    scheduled: n(s.currentNumberScheduled),
    misscheduled: n(s.numberMisscheduled),
    ready: n(s.numberReady),
    updated: n(s.updatedNumberScheduled),
    daemons_available: n(s.numberAvailable),
    daemons_unavailable: n(s.numberUnavailable),
  });
  return p;
}

export function statefulsetPoint(o: K8sObject, time: bigint): Point {
  const p = base('kube_statefulset', 'statefulset', o, time);
  const s = o.status ?? {};
  Object.assign(p.fields, {
    replicas: n(s.replicas),
    replicas_desired: n(typeof o.spec?.replicas === 'number' ? o.spec.replicas : 1),
    replicas_ready: n(s.readyReplicas),
    replicas_current: n(s.currentReplicas),
    replicas_updated: n(s.updatedReplicas),
    replicas_available: n(s.availableReplicas),
  });
  return p;
}

export function replicasetPoint(o: K8sObject, time: bigint): Point {
  const p = base('kube_replicaset', 'replicaset', o, time);
  const owner = controller(o);
  if (owner?.kind === 'deployment') p.tags.deployment = owner.name;
  const s = o.status ?? {};
  Object.assign(p.fields, {
    replicas: n(s.replicas),
    replicas_desired: n(typeof o.spec?.replicas === 'number' ? o.spec.replicas : 1),
    replicas_ready: n(s.readyReplicas),
    replicas_available: n(s.availableReplicas),
    fully_labeled_replicas: n(s.fullyLabeledReplicas),
  });
  return p;
}

export function jobPoint(o: K8sObject, time: bigint): Point {
  const p = base('kube_job', 'job', o, time);
  const owner = controller(o);
  if (owner?.kind === 'cronjob') p.tags.cronjob = owner.name;
  const s = o.status ?? {};
  const conds = Array.isArray(s.conditions) ? (s.conditions as { type?: string; status?: string }[]) : [];
  const has = (type: string) => conds.some((c) => c.type === type && c.status === 'True');
  Object.assign(p.fields, {
    active: n(s.active),
    failed: n(s.failed),
    succeeded: n(s.succeeded),
    completion_succeeded: int(has('Complete') ? 1 : 0),
    completion_failed: int(has('Failed') ? 1 : 0),
  });
  return p;
}

export function cronjobPoint(o: K8sObject, time: bigint): Point {
  const p = base('kube_cronjob', 'cronjob', o, time);
  p.fields.spec_suspend = o.spec?.suspend === true;
  p.fields.active_jobs = int(Array.isArray(o.status?.active) ? o.status.active.length : 0);
  return p;
}

const CONDITIONS: Record<string, string> = {
  Ready: 'condition_ready',
  MemoryPressure: 'condition_memory_pressure',
  DiskPressure: 'condition_disk_pressure',
  PIDPressure: 'condition_pid_pressure',
  NetworkUnavailable: 'condition_network_unavailable',
};

export function nodePoint(o: K8sObject, time: bigint): Point {
  const p = base('kube_node', 'node', o, time);
  const f = p.fields;
  const s = o.status ?? {};
  const put = (field: string, q: unknown) => {
    const v = parseQuantity(q);
    if (v !== undefined) f[field] = v;
  };
  for (const [src, prefix] of [['allocatable', 'allocatable'], ['capacity', 'capacity']] as const) {
    const m = (s[src] ?? {}) as Record<string, unknown>;
    put(`cpu_${prefix}`, m.cpu);
    put(`memory_${prefix}`, m.memory);
    put(`pods_${prefix}`, m.pods);
    put(`ephemeral_storage_${prefix}`, m['ephemeral-storage']);
  }
  // Conditions: 1 when True, 0 when False; Unknown leaves the field out.
  for (const c of Array.isArray(s.conditions) ? (s.conditions as { type?: string; status?: string }[]) : []) {
    const field = c.type ? CONDITIONS[c.type] : undefined;
    if (field && (c.status === 'True' || c.status === 'False')) f[field] = int(c.status === 'True' ? 1 : 0);
  }
  f.unschedulable = int(o.spec?.unschedulable === true ? 1 : 0);
  return p;
}

const PHASES = ['Running', 'Pending', 'Succeeded', 'Failed', 'Unknown'] as const;

/**
 * `kubernetes`: per namespace, the number of pods (total and per phase) and of
 * each workload kind; one point without namespace carries the node count.
 */
export function countPoints(lists: ObjectLists, time: bigint): Point[] {
  const workloads = (['deployment', 'daemonset', 'statefulset', 'replicaset', 'job', 'cronjob'] as const).filter((k) => lists[k] !== undefined);
  const byNs = new Map<string, Record<string, FieldValue>>();
  const ns = (name: string) => {
    let f = byNs.get(name);
    if (!f) {
      f = {};
      if (lists.pod) {
        f.pod = 0n;
        for (const ph of PHASES) f[`pod_${ph.toLowerCase()}`] = 0n;
      }
      for (const k of workloads) f[k] = 0n;
      byNs.set(name, f);
    }
    return f;
  };
  const inc = (f: Record<string, FieldValue>, k: string) => (f[k] = ((f[k] as bigint | undefined) ?? 0n) + 1n);
  for (const kind of workloads) {
    for (const o of lists[kind] ?? []) inc(ns(o.metadata?.namespace ?? ''), kind);
  }
  for (const o of lists.pod ?? []) {
    const f = ns(o.metadata?.namespace ?? '');
    inc(f, 'pod');
    const phase = typeof o.status?.phase === 'string' && (PHASES as readonly string[]).includes(o.status.phase) ? o.status.phase : 'Unknown';
    inc(f, `pod_${phase.toLowerCase()}`);
  }
  const out: Point[] = [];
  for (const [name, fields] of byNs) if (name) out.push({ category: 'metric', name: 'kubernetes', tags: { namespace: name }, fields, time });
  if (lists.node) out.push({ category: 'metric', name: 'kubernetes', tags: {}, fields: { node: int(lists.node.length) }, time });
  return out;
}

const CONVERT: Record<Exclude<ObjectKind, 'pod'>, (o: K8sObject, t: bigint) => Point> = {
  node: nodePoint,
  deployment: deploymentPoint,
  daemonset: daemonsetPoint,
  statefulset: statefulsetPoint,
  replicaset: replicasetPoint,
  job: jobPoint,
  cronjob: cronjobPoint,
};

/** All object metric points for one collection. */
export function objectPoints(lists: ObjectLists, time: bigint): Point[] {
  const out: Point[] = [];
  for (const kind of Object.keys(CONVERT) as (keyof typeof CONVERT)[]) {
    const conv = CONVERT[kind];
    for (const o of lists[kind] ?? []) if (o.metadata?.name) out.push(conv(o, time));
  }
  out.push(...countPoints(lists, time));
  return out;
}

const pick = (o: unknown, keys: readonly string[]): Record<string, unknown> | undefined => {
  if (typeof o !== 'object' || o === null) return undefined;
  const out: Record<string, unknown> = {};
  for (const k of keys) if ((o as Record<string, unknown>)[k] !== undefined) out[k] = (o as Record<string, unknown>)[k];
  return out;
};

const STATUS_KEYS: Record<ObjectKind, readonly string[]> = {
  pod: ['phase'],
  node: ['capacity', 'allocatable', 'conditions'],
  deployment: ['replicas', 'updatedReplicas', 'readyReplicas', 'availableReplicas', 'unavailableReplicas'],
  daemonset: ['desiredNumberScheduled', 'currentNumberScheduled', 'numberMisscheduled', 'numberReady', 'updatedNumberScheduled', 'numberAvailable', 'numberUnavailable'],
  statefulset: ['replicas', 'readyReplicas', 'currentReplicas', 'updatedReplicas', 'availableReplicas'],
  replicaset: ['replicas', 'readyReplicas', 'availableReplicas', 'fullyLabeledReplicas'],
  job: ['active', 'failed', 'succeeded', 'conditions'],
  cronjob: ['active'],
};
const SPEC_KEYS: Record<ObjectKind, readonly string[]> = {
  pod: [],
  node: ['unschedulable'],
  deployment: ['replicas', 'strategy'],
  daemonset: [],
  statefulset: ['replicas'],
  replicaset: ['replicas'],
  job: [],
  cronjob: ['suspend'],
};

/**
 * The part of an object the conversions read (what the informer caches keep):
 * identity, owner, and the few spec/status fields used. A 5,000-pod cluster's
 * pod cache holds names and phases instead of whole pods.
 */
export function slim(kind: ObjectKind, o: unknown): K8sObject & { metadata: { resourceVersion?: string } } {
  const src = (typeof o === 'object' && o !== null ? o : {}) as { metadata?: Record<string, unknown>; spec?: unknown; status?: Record<string, unknown> };
  const m = src.metadata ?? {};
  const refs = Array.isArray(m.ownerReferences) ? (m.ownerReferences as { kind?: string; name?: string; controller?: boolean }[]).map((r) => ({ kind: r.kind, name: r.name, controller: r.controller })) : undefined;
  const status = pick(src.status, STATUS_KEYS[kind]) ?? {};
  if (Array.isArray(status.conditions)) status.conditions = (status.conditions as { type?: string; status?: string }[]).map((c) => ({ type: c.type, status: c.status }));
  if (kind === 'cronjob' && Array.isArray(status.active)) status.active = status.active.map(() => ({}));
  return {
    metadata: { name: m.name as string | undefined, namespace: m.namespace as string | undefined, uid: m.uid as string | undefined, resourceVersion: m.resourceVersion as string | undefined, ...(refs ? { ownerReferences: refs } : {}) },
    spec: pick(src.spec, SPEC_KEYS[kind]) ?? {},
    status,
  };
}
