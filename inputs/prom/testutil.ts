/** Test data for the prom input: pods as the pod watcher reports them (the fake context is test/helpers/fake-context.ts). */
import type { PodInfo } from '../../agent/services/k8s/types.js';

export function makePod(o: Partial<PodInfo> & { name: string }): PodInfo {
  return {
    uid: `uid-${o.namespace ?? 'default'}-${o.name}`,
    namespace: 'default',
    nodeName: 'node-a',
    ip: '127.0.0.1',
    phase: 'Running',
    labels: {},
    annotations: {},
    owner: { kind: 'deployment', name: o.name.replace(/-[^-]+$/, '') },
    containers: [],
    resourceVersion: '1',
    ...o,
  };
}
