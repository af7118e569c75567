import { describe, expect, it } from 'vitest';
import type { Point } from '../../../agent/model/point.js';
import { clusterObjects } from './testdata/cluster.js';
import { OBJECT_KINDS, countPoints, objectPoints, slim, type K8sObject, type ObjectKind, type ObjectLists } from './objects.js';
import { parseQuantity } from './quantity.js';

const T = 1_764_082_800_000_000_000n;
const meta = (name: string, namespace?: string, extra: object = {}) => ({ name, namespace, uid: `uid-${name}`, ...extra });

type AllLists = Required<{ [K in keyof ObjectLists]: K8sObject[] }>;
function lists(partial: Partial<AllLists>): AllLists {
  return { pod: [], node: [], deployment: [], daemonset: [], statefulset: [], replicaset: [], job: [], cronjob: [], ...partial };
}

const byName = (pts: Point[], name: string) => pts.filter((p) => p.name === name);

describe('object points', () => {
  it('maps Deployment replicas, defaulting absent (zero) status counters to 0', () => {
    const d: K8sObject = {
      metadata: meta('web', 'shop'),
      spec: { replicas: 3, strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: '25%' } } },
      status: { replicas: 3, updatedReplicas: 3, readyReplicas: 2, availableReplicas: 2, unavailableReplicas: 1 },
    };
    const empty: K8sObject = { metadata: meta('idle', 'shop'), spec: {}, status: {} };
    const pts = byName(objectPoints(lists({ deployment: [d, empty] }), T), 'kube_deployment');
    expect(pts[0]).toMatchObject({
      category: 'metric',
      tags: { deployment: 'web', namespace: 'shop', uid: 'uid-web' },
      fields: { replicas: 3n, replicas_desired: 3n, replicas_ready: 2n, replicas_available: 2n, replicas_unavailable: 1n, replicas_updated: 3n, rollingupdate_max_unavailable: 1n },
      time: T,
    });
    expect(pts[0]!.fields.rollingupdate_max_surge).toBeUndefined(); // percentages are not counts
    expect(pts[1]!.fields).toMatchObject({ replicas: 0n, replicas_desired: 1n, replicas_ready: 0n, replicas_unavailable: 0n });
  });

  it('maps DaemonSet, StatefulSet and ReplicaSet status with DataKit field names', () => {
    const pts = objectPoints(
      lists({
        daemonset: [{ metadata: meta('agent', 'ops'), status: { desiredNumberScheduled: 5, currentNumberScheduled: 5, numberMisscheduled: 0, numberReady: 4, updatedNumberScheduled: 5, numberAvailable: 4, numberUnavailable: 1 } }],
        statefulset: [{ metadata: meta('db', 'shop'), spec: { replicas: 3 }, status: { replicas: 3, readyReplicas: 3, currentReplicas: 3, updatedReplicas: 2, availableReplicas: 3 } }],
        replicaset: [{ metadata: meta('web-7d4b9c', 'shop', { ownerReferences: [{ kind: 'Deployment', name: 'web', controller: true }] }), spec: { replicas: 3 }, status: { replicas: 3, readyReplicas: 2, availableReplicas: 2, fullyLabeledReplicas: 3 } }],
      }),
      T,
    );
    expect(byName(pts, 'kube_daemonset')[0]!.fields).toEqual({ desired: 5n, scheduled: 5n, misscheduled: 0n, ready: 4n, updated: 5n, daemons_available: 4n, daemons_unavailable: 1n });
    expect(byName(pts, 'kube_statefulset')[0]!.fields).toEqual({ replicas: 3n, replicas_desired: 3n, replicas_ready: 3n, replicas_current: 3n, replicas_updated: 2n, replicas_available: 3n });
    const rs = byName(pts, 'kube_replicaset')[0]!;
    expect(rs.tags).toMatchObject({ replicaset: 'web-7d4b9c', deployment: 'web', namespace: 'shop' });
    expect(rs.fields).toEqual({ replicas: 3n, replicas_desired: 3n, replicas_ready: 2n, replicas_available: 2n, fully_labeled_replicas: 3n });
  });

  it('maps Job and CronJob status', () => {
    const pts = objectPoints(
      lists({
        job: [
          { metadata: meta('backup-29000000', 'ops', { ownerReferences: [{ kind: 'CronJob', name: 'backup', controller: true }] }), status: { succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] } },
          { metadata: meta('migrate', 'shop'), status: { failed: 6, active: 0, conditions: [{ type: 'Failed', status: 'True' }] } },
        ],
        cronjob: [{ metadata: meta('backup', 'ops'), spec: { schedule: '*/5 * * * *', suspend: true }, status: { active: [{ name: 'backup-29000000' }] } }],
      }),
      T,
    );
    const [backup, migrate] = byName(pts, 'kube_job');
    expect(backup!.tags).toMatchObject({ job: 'backup-29000000', cronjob: 'backup' });
    expect(backup!.fields).toEqual({ active: 0n, failed: 0n, succeeded: 1n, completion_succeeded: 1n, completion_failed: 0n });
    expect(migrate!.fields).toEqual({ active: 0n, failed: 6n, succeeded: 0n, completion_succeeded: 0n, completion_failed: 1n });
    expect(byName(pts, 'kube_cronjob')[0]!.fields).toEqual({ spec_suspend: true, active_jobs: 1n });
  });

  it('maps node allocatable/capacity quantities and conditions', () => {
    const n: K8sObject = {
      metadata: meta('node-a'),
      spec: { unschedulable: true },
      status: {
        capacity: { cpu: '4', memory: '16318496Ki', pods: '110', 'ephemeral-storage': '101430960Ki' },
        allocatable: { cpu: '3920m', memory: '15167520Ki', pods: '110', 'ephemeral-storage': '93478772582' },
        conditions: [
          { type: 'MemoryPressure', status: 'False' },
          { type: 'DiskPressure', status: 'True' },
          { type: 'PIDPressure', status: 'Unknown' },
          { type: 'Ready', status: 'True', reason: 'KubeletReady' },
        ],
      },
    };
    const p = byName(objectPoints(lists({ node: [n] }), T), 'kube_node')[0]!;
    expect(p.tags).toEqual({ uid: 'uid-node-a', node: 'node-a' });
    expect(p.fields.cpu_allocatable).toBeCloseTo(3.92, 9);
    expect(p.fields.cpu_capacity).toBe(4);
    expect(p.fields.memory_capacity).toBe(16318496 * 1024);
    expect(p.fields.pods_allocatable).toBe(110);
    expect(p.fields.ephemeral_storage_allocatable).toBe(93478772582);
    expect(p.fields).toMatchObject({ condition_ready: 1n, condition_memory_pressure: 0n, condition_disk_pressure: 1n, unschedulable: 1n });
    expect(p.fields.condition_pid_pressure).toBeUndefined();
  });

  it('counts pods per namespace and phase, workloads per namespace, and nodes', () => {
    const pod = (name: string, ns: string, phase?: string): K8sObject => ({ metadata: meta(name, ns), status: phase ? { phase } : {} });
    const pts = countPoints(
      lists({
        pod: [pod('a', 'shop', 'Running'), pod('b', 'shop', 'Running'), pod('c', 'shop', 'Pending'), pod('d', 'ops', 'Failed'), pod('e', 'ops')],
        deployment: [{ metadata: meta('web', 'shop') }],
        job: [{ metadata: meta('x', 'ops') }],
        node: [{ metadata: meta('n1') }, { metadata: meta('n2') }],
      }),
      T,
    );
    const shop = pts.find((p) => p.tags.namespace === 'shop')!;
    expect(shop.name).toBe('kubernetes');
    expect(shop.fields).toMatchObject({ pod: 3n, pod_running: 2n, pod_pending: 1n, pod_failed: 0n, deployment: 1n, job: 0n });
    const ops = pts.find((p) => p.tags.namespace === 'ops')!;
    expect(ops.fields).toMatchObject({ pod: 2n, pod_failed: 1n, pod_unknown: 1n, job: 1n });
    expect(pts.find((p) => p.tags.namespace === undefined)!.fields).toEqual({ node: 2n });
  });

  it('leaves out kinds whose informer has not listed yet instead of reporting zeros', () => {
    const pts = objectPoints({ deployment: [{ metadata: meta('web', 'shop') }] }, T);
    expect(pts.map((p) => p.name).sort()).toEqual(['kube_deployment', 'kubernetes']);
    expect(pts.find((p) => p.name === 'kubernetes')!.fields).toEqual({ deployment: 1n });
    expect(objectPoints({}, T)).toEqual([]);
  });
});

describe('slim', () => {
  it('keeps exactly what the conversions read: same points from slim and full objects', () => {
    const kindOf: Record<string, ObjectKind> = { deployments: 'deployment', replicasets: 'replicaset', daemonsets: 'daemonset', statefulsets: 'statefulset', jobs: 'job', cronjobs: 'cronjob', nodes: 'node' };
    const full = lists({});
    const slimmed = lists({});
    const add = (kind: ObjectKind, o: K8sObject) => {
      full[kind].push(o);
      slimmed[kind].push(slim(kind, o));
    };
    for (const [res, o] of clusterObjects()) add(kindOf[res]!, o as K8sObject);
    add('cronjob', { metadata: meta('busy', 'ops'), spec: { suspend: true, schedule: '* * * * *', jobTemplate: { spec: { template: {} } } }, status: { active: [{ name: 'j1', uid: 'x' }, { name: 'j2' }] } });
    add('deployment', { metadata: meta('surge', 'shop'), spec: { replicas: 2, strategy: { rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } }, template: { spec: { containers: [{ name: 'x', image: 'y' }] } } }, status: { replicas: 2 } });
    add('pod', { metadata: { ...meta('p', 'shop'), resourceVersion: '9' }, spec: { containers: [{ name: 'a', image: 'b' }] }, status: { phase: 'Running', podIP: '1.2.3.4', containerStatuses: [{ name: 'a' }] } });
    expect(objectPoints(slimmed, T)).toEqual(objectPoints(full, T));
    for (const k of OBJECT_KINDS) for (const o of slimmed[k]) expect(JSON.stringify(o).length).toBeLessThan(700);
    const p = slim('pod', full.pod[0]);
    expect(p).toEqual({ metadata: { name: 'p', namespace: 'shop', uid: 'uid-p', resourceVersion: '9' }, spec: {}, status: { phase: 'Running' } });
  });
});

describe('parseQuantity', () => {
  it.each([
    ['100m', 0.1],
    ['1', 1],
    ['1.5', 1.5],
    ['128Mi', 128 * 2 ** 20],
    ['1Gi', 2 ** 30],
    ['2G', 2e9],
    ['1k', 1000],
    ['1e3', 1000],
    ['500u', 0.0005],
    [' 3 ', 3],
    [4, 4],
  ])('%s → %d', (q, v) => expect(parseQuantity(q)).toBeCloseTo(v, 12));
  it.each(['', 'abc', '1Xi', '--1', undefined, null, {}])('rejects %s', (q) => expect(parseQuantity(q)).toBeUndefined());
});
