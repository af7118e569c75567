/** Helpers for the container metrics unit tests (the fake context itself is test/helpers/fake-context.ts). */
import type { K8sServices } from '../../../../agent/services/k8s/types.js';
import { fakeContext, type FakeContext, validConfig } from '../../../../test/helpers/fake-context.js';
import { schema, type ContainerConfig } from '../../config.js';

/** The container input's context on node `node-a`. */
export function fakeCtx(opts: { k8s?: K8sServices; nodeName?: string; ip?: string } = {}): FakeContext {
  return fakeContext('container', { k8s: opts.k8s, dataDir: '/tmp', host: { hostname: 'node-a', ip: opts.ip ?? '', nodeName: opts.nodeName ?? 'node-a' } });
}

/** A validated [inputs.container] config with overrides. */
export function containerConfig(raw: Record<string, unknown> = {}): ContainerConfig {
  return validConfig(schema, raw);
}
