import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { V1Pod } from '@kubernetes/client-node';
import { parseQuantity, podInfoFromObject, splitContainerId } from '../../agent/services/k8s/pod-info.js';
import { fuzz, inputs, RUNS, SEED } from './harness.js';

describe('Kubernetes object mapping', () => {
  it('quantities and container ids: never throw, finite or undefined', () => {
    fuzz(inputs(['500m', '1.5', '128Mi', '1e3', '2G', '0.1Ki', '-1', 'containerd://abc', 'docker://']), (b) => {
      const s = b.toString('utf8');
      const q = parseQuantity(s);
      if (q !== undefined) expect(Number.isFinite(q)).toBe(true);
      splitContainerId(s);
    });
  });

  // Schema-valid pods (the API server guarantees the types) with arbitrary values and missing parts.
  const str = fc.string({ maxLength: 12 });
  const dict = fc.dictionary(str, str, { maxKeys: 4 });
  const container = fc.record(
    {
      name: str,
      image: fc.option(str, { nil: undefined }),
      env: fc.option(fc.array(fc.record({ name: str, value: fc.option(str, { nil: undefined }) }, { requiredKeys: ['name'] }), { maxLength: 3 }), { nil: undefined }),
      resources: fc.option(fc.record({ limits: fc.option(dict, { nil: undefined }), requests: fc.option(dict, { nil: undefined }) }, { requiredKeys: [] }), { nil: undefined }),
    },
    { requiredKeys: ['name'] },
  );
  const status = fc.record({ name: str, containerID: fc.option(str, { nil: undefined }), image: str, imageID: str, ready: fc.boolean(), restartCount: fc.nat() }, { requiredKeys: ['name'] });
  const pod: fc.Arbitrary<V1Pod> = fc.record(
    {
      metadata: fc.record(
        {
          uid: str,
          name: str,
          namespace: str,
          labels: dict,
          annotations: dict,
          resourceVersion: str,
          ownerReferences: fc.array(fc.record({ apiVersion: str, kind: fc.constantFrom('ReplicaSet', 'DaemonSet', 'StatefulSet', 'Job', 'Node', ''), name: str, uid: str, controller: fc.option(fc.boolean(), { nil: undefined }) }), { maxLength: 3 }),
        },
        { requiredKeys: [] },
      ),
      spec: fc.record({ nodeName: str, containers: fc.array(container, { maxLength: 3 }), initContainers: fc.array(container, { maxLength: 2 }) }, { requiredKeys: ['containers'] }),
      status: fc.record({ phase: str, podIP: str, containerStatuses: fc.array(status, { maxLength: 3 }), initContainerStatuses: fc.array(status, { maxLength: 2 }) }, { requiredKeys: [] }),
    },
    { requiredKeys: [] },
  ) as fc.Arbitrary<V1Pod>;

  it('podInfoFromObject never throws on schema-valid pods with missing parts', () => {
    fc.assert(
      fc.property(pod, (p) => {
        const info = podInfoFromObject(p);
        expect(info.containers.length).toBe((p.spec?.containers.length ?? 0) + (p.spec?.initContainers?.length ?? 0));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
