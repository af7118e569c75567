/**
 * Kubernetes discovery and election through the whole agent: two agents on one
 * fixture API server, an election-mode input that only the leader runs, and an
 * input that sees this node's pods through ctx.k8s.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { InputDefinition } from '../../agent/input/contract.js';
import { duration, object, tags } from '../../agent/config/schema.js';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { TestDataway } from '../helpers/dataway.js';
import { K8sApiFixture } from '../fixtures/k8s-api.js';
import { makePod } from '../fixtures/k8s-objects.js';
import { waitFor } from '../helpers/wait.js';

const probeSchema = object({ interval: duration('100ms'), tags: tags() });

/** Cluster-level input: emits `leader_probe` (tag `agent`) every interval while it runs. */
const leaderProbe: InputDefinition = {
  name: 'leader_probe',
  description: 'test: election-mode input',
  schema: probeSchema,
  election: () => true,
  create(config: { interval: number }, ctx) {
    let timer: NodeJS.Timeout | undefined;
    return {
      async start() {
        timer = setInterval(() => ctx.acc.add({ category: 'metric', name: 'leader_probe', tags: { agent: ctx.host.hostname }, fields: { up: 1 } }), config.interval);
      },
      async stop() {
        clearInterval(timer);
      },
    };
  },
};

/** Emits an object point per pod event seen through ctx.k8s.pods. */
const podProbe: InputDefinition = {
  name: 'pod_probe',
  description: 'test: pod discovery consumer',
  schema: probeSchema,
  create(_config, ctx) {
    let unsubscribe: (() => void) | undefined;
    return {
      async start() {
        unsubscribe = ctx.k8s?.pods.subscribe((ev) =>
          ctx.acc.add({ category: 'object', name: 'pod_probe', tags: { event: ev.type, pod: ev.pod.name, owner: ev.pod.owner?.name ?? '' }, fields: { ip: ev.pod.ip } }),
        );
      },
      async stop() {
        unsubscribe?.();
      },
    };
  },
};

let api: K8sApiFixture;
let dataway: TestDataway;
const agents: TestAgent[] = [];

async function agent(hostname: string, conf: Record<string, string>): Promise<TestAgent> {
  const a = await startTestAgent({
    dataway,
    conf,
    env: {
      KUBECONFIG: await api.kubeconfigPath(),
      ENV_K8S_NODE_NAME: `node-${hostname}`,
      ENV_HOSTNAME: hostname,
      ENV_ENABLE_ELECTION: '1',
      ENV_K8S_LEASE_DURATION: '2s',
    },
    extra: { registry: [leaderProbe, podProbe] },
  });
  agents.push(a);
  return a;
}

const probesFrom = (host: string) => dataway.points('metric', 'leader_probe').filter((p) => p.tags.agent === host).length;

beforeEach(async () => {
  api = await K8sApiFixture.start();
  dataway = await TestDataway.start();
});

afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  await dataway.close();
  await api.close();
});

describe('agent with Kubernetes', () => {
  it('runs an election input on the leader only, and moves it when the leader stops', async () => {
    const conf = { 'probe/probe.conf': '[[inputs.leader_probe]]\n' };
    const a = await agent('a', conf);
    await waitFor(() => probesFrom('a') > 0, { what: 'probe points from the leader' });
    const b = await agent('b', conf);
    // b follows: a whole lease duration of renewals later it still has sent nothing
    const rv = Number(api.resourceVersion);
    await waitFor(() => Number(api.resourceVersion) >= rv + 4, { timeoutMs: 5000 });
    expect(probesFrom('b')).toBe(0);

    await a.stop();
    agents.splice(agents.indexOf(a), 1);
    await waitFor(() => probesFrom('b') > 0, { what: 'b takes over', timeoutMs: 4000 });
    const lease = api.get('leases', 'default', 'telekit') as { spec: { holderIdentity: string } };
    expect(lease.spec.holderIdentity).toMatch(/^b_[0-9a-f]{8}$/);
    expect(b.agent).toBeDefined();
  });

  it("gives inputs this node's pods through ctx.k8s", async () => {
    api.upsert('pods', makePod({ name: 'web-5d8f7c9b4-abcde', node: 'node-a', owner: { kind: 'ReplicaSet', name: 'web-5d8f7c9b4' }, labels: { 'pod-template-hash': '5d8f7c9b4' } }));
    api.upsert('pods', makePod({ name: 'elsewhere', node: 'node-z' }));
    await agent('a', { 'probe/probe.conf': '[[inputs.pod_probe]]\n' });
    await dataway.waitForPoints('object', 1, { name: 'pod_probe' });
    api.upsert('pods', makePod({ name: 'db-0', node: 'node-a', ip: '10.0.0.9', owner: { kind: 'StatefulSet', name: 'db' } }));
    await dataway.waitForPoints('object', 2, { name: 'pod_probe' });
    const seen = dataway.points('object', 'pod_probe').map((p) => `${p.tags.event} ${p.tags.pod} ${p.tags.owner}`);
    expect(seen).toEqual(['add web-5d8f7c9b4-abcde web', 'add db-0 db']);
  });
});
