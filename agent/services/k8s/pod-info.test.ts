import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { V1Pod } from '@kubernetes/client-node';
import { ownerOf, parseQuantity, podInfoFromObject, splitContainerId } from './pod-info.js';

const ref = (kind: string, name: string, controller = true) => ({ apiVersion: 'apps/v1', kind, name, uid: 'u', controller });

describe('ownerOf', () => {
  it('resolves a ReplicaSet to its Deployment using the pod-template-hash label', () => {
    expect(ownerOf([ref('ReplicaSet', 'foo-5d8f7c9b4')], { 'pod-template-hash': '5d8f7c9b4' })).toEqual({ kind: 'deployment', name: 'foo' });
    // a deployment whose own name ends like a hash is still cut at the label's hash only
    expect(ownerOf([ref('ReplicaSet', 'api-bcdfg-7c9b4d')], { 'pod-template-hash': '7c9b4d' })).toEqual({ kind: 'deployment', name: 'api-bcdfg' });
  });

  it('falls back to the hash alphabet without the label, and keeps bare ReplicaSets', () => {
    expect(ownerOf([ref('ReplicaSet', 'my-app-5d8f7c9b4')], {})).toEqual({ kind: 'deployment', name: 'my-app' });
    expect(ownerOf([ref('ReplicaSet', 'handmade')], {})).toEqual({ kind: 'replicaset', name: 'handmade' });
    // 'a' and 'e' never occur in a pod-template-hash
    expect(ownerOf([ref('ReplicaSet', 'web-aaaaaa')], {})).toEqual({ kind: 'replicaset', name: 'web-aaaaaa' });
  });

  it('resolves a Job named with a schedule timestamp to its CronJob', () => {
    expect(ownerOf([ref('Job', 'backup-28391234')], {})).toEqual({ kind: 'cronjob', name: 'backup' });
    expect(ownerOf([ref('Job', 'migrate-v2')], {})).toEqual({ kind: 'job', name: 'migrate-v2' });
    expect(ownerOf([ref('Job', 'job-123')], {})).toEqual({ kind: 'job', name: 'job-123' });
  });

  it('lower-cases other kinds and prefers the controller reference', () => {
    expect(ownerOf([ref('ConfigMap', 'x', false), ref('DaemonSet', 'node-exporter')], {})).toEqual({ kind: 'daemonset', name: 'node-exporter' });
    expect(ownerOf([ref('StatefulSet', 'db')], {})).toEqual({ kind: 'statefulset', name: 'db' });
    expect(ownerOf(undefined, {})).toBeUndefined();
    expect(ownerOf([], {})).toBeUndefined();
  });
});

describe('parseQuantity / splitContainerId', () => {
  it('parses CPU and memory quantities', () => {
    expect(parseQuantity('500m')).toBe(0.5);
    expect(parseQuantity('2')).toBe(2);
    expect(parseQuantity('1.5')).toBe(1.5);
    expect(parseQuantity('128Mi')).toBe(128 * 2 ** 20);
    expect(parseQuantity('1G')).toBe(1e9);
    expect(parseQuantity('1e3')).toBe(1000);
    expect(parseQuantity('100k')).toBe(100_000);
    expect(parseQuantity('abc')).toBeUndefined();
    expect(parseQuantity('12Qi')).toBeUndefined();
    expect(parseQuantity(undefined)).toBeUndefined();
  });

  it('splits runtime ids', () => {
    expect(splitContainerId('containerd://abc123')).toEqual({ runtime: 'containerd', id: 'abc123' });
    expect(splitContainerId('cri-o://x')).toEqual({ runtime: 'cri-o', id: 'x' });
    expect(splitContainerId('')).toEqual({ runtime: '', id: '' });
    expect(splitContainerId(undefined)).toEqual({ runtime: '', id: '' });
  });
});

describe('podInfoFromObject', () => {
  const pod: V1Pod = {
    metadata: {
      name: 'web-5d8f7c9b4-x2x9z',
      namespace: 'shop',
      uid: 'uid-1',
      resourceVersion: '42',
      labels: { app: 'web', 'pod-template-hash': '5d8f7c9b4' },
      annotations: { 'datakit/prom.instances': '[[inputs.prom]]' },
      ownerReferences: [ref('ReplicaSet', 'web-5d8f7c9b4')],
    },
    spec: {
      nodeName: 'node-a',
      containers: [
        {
          name: 'app',
          image: 'registry/web:1.2',
          env: [
            { name: 'LITERAL', value: 'v' },
            { name: 'FROM_SECRET', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
          ],
          resources: { limits: { cpu: '500m', memory: '256Mi' }, requests: { cpu: '100m' } },
        },
        { name: 'sidecar', image: 'envoy:1' },
      ],
      initContainers: [{ name: 'init', image: 'busybox' }],
    },
    status: {
      phase: 'Running',
      podIP: '10.1.2.3',
      containerStatuses: [
        { name: 'sidecar', image: 'docker.io/envoy:1', imageID: '', containerID: 'docker://def', ready: false, restartCount: 4 },
        { name: 'app', image: 'registry/web:1.2', imageID: '', containerID: 'containerd://abc', ready: true, restartCount: 1 },
      ],
      initContainerStatuses: [{ name: 'init', image: 'busybox', imageID: '', containerID: 'containerd://i1', ready: false, restartCount: 0 }],
    },
  };

  it('maps metadata, status, owner and containers (matched by name)', () => {
    const info = podInfoFromObject(pod);
    expect(info).toMatchObject({
      uid: 'uid-1',
      namespace: 'shop',
      name: 'web-5d8f7c9b4-x2x9z',
      nodeName: 'node-a',
      ip: '10.1.2.3',
      phase: 'Running',
      owner: { kind: 'deployment', name: 'web' },
      resourceVersion: '42',
      annotations: { 'datakit/prom.instances': '[[inputs.prom]]' },
    });
    expect(info.containers).toEqual([
      {
        name: 'app',
        image: 'registry/web:1.2',
        id: 'abc',
        runtime: 'containerd',
        restartCount: 1,
        ready: true,
        env: { LITERAL: 'v' },
        resources: { cpuLimit: 0.5, memoryLimit: 256 * 2 ** 20, cpuRequest: 0.1 },
      },
      { name: 'sidecar', image: 'envoy:1', id: 'def', runtime: 'docker', restartCount: 4, ready: false, env: {} },
      { name: 'init', image: 'busybox', id: 'i1', runtime: 'containerd', restartCount: 0, ready: false, env: {}, init: true },
    ]);
  });

  it('handles a pending pod with no status', () => {
    const info = podInfoFromObject({ metadata: { name: 'p', namespace: 'd' }, spec: { containers: [{ name: 'c', image: 'i' }] } });
    expect(info).toMatchObject({ ip: '', phase: '', nodeName: '', owner: undefined, uid: '', resourceVersion: '' });
    expect(info.containers).toEqual([{ name: 'c', image: 'i', id: '', runtime: '', restartCount: 0, ready: false, env: {} }]);
  });
});

describe('podInfoFromObject on arbitrary input', () => {
  it('never throws on sparse or oddly typed pod-shaped objects (seeded)', () => {
    const str = fc.option(fc.string({ maxLength: 12 }), { nil: undefined });
    const anyish = fc.oneof(fc.constant(null), fc.constant(undefined), fc.integer(), fc.string({ maxLength: 8 }), fc.boolean());
    const container = fc.record(
      {
        name: fc.string({ maxLength: 6 }),
        image: str,
        env: fc.option(fc.array(fc.oneof(fc.record({ name: fc.string({ maxLength: 4 }), value: anyish }), fc.constant(null)), { maxLength: 3 }), { nil: undefined }),
        resources: fc.option(fc.record({ limits: fc.dictionary(fc.constantFrom('cpu', 'memory'), fc.string({ maxLength: 6 })) }), { nil: undefined }),
      },
      { requiredKeys: ['name'] },
    );
    const pod = fc.record({
      metadata: fc.option(
        fc.record({
          name: str,
          namespace: str,
          labels: fc.option(fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 12 })), { nil: undefined }),
          ownerReferences: fc.option(
            fc.array(fc.oneof(fc.constant(null), fc.record({ kind: str, name: str, controller: fc.option(fc.boolean(), { nil: undefined }) })), { maxLength: 3 }),
            { nil: undefined },
          ),
        }),
        { nil: undefined },
      ),
      spec: fc.option(fc.record({ containers: fc.option(fc.array(container, { maxLength: 3 }), { nil: undefined }) }), { nil: undefined }),
      status: fc.option(fc.record({ phase: str, containerStatuses: fc.option(fc.array(fc.record({ name: fc.string({ maxLength: 6 }), containerID: str })), { nil: undefined }) }), { nil: undefined }),
    });
    fc.assert(
      fc.property(pod, (p) => {
        const info = podInfoFromObject(p as unknown as V1Pod);
        expect(Array.isArray(info.containers)).toBe(true);
      }),
      { seed: 42, numRuns: 500 },
    );
  });
});
