/** Test data for the container logs unit tests (the fake context itself is test/helpers/fake-context.ts). */
import type { PodInfo, PodWatcher } from '../../../agent/services/k8s/types.js';
import { fakeContext, type FakeContext } from '../../../test/helpers/fake-context.js';

export function pod(o: Partial<PodInfo> & Pick<PodInfo, 'namespace' | 'name'>): PodInfo {
  return { uid: `uid-${o.name}`, nodeName: 'node-1', ip: '10.1.2.3', phase: 'Running', labels: {}, annotations: {}, owner: undefined, containers: [], resourceVersion: '1', ...o };
}

/** The container input's context on node `node-1`. */
export function fakeCtx(pods?: PodWatcher): FakeContext {
  return fakeContext('container', { pods, host: { nodeName: 'node-1' } });
}
