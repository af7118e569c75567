/**
 * `[[inputs.prom]]` with `election = true` (the default) on two agents sharing
 * the fixture API server: only the leader scrapes, its points carry the
 * election tags, and the other agent takes over when the leader stops.
 */
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { TestDataway } from '../helpers/dataway.js';
import { K8sApiFixture } from '../fixtures/k8s-api.js';
import { waitFor } from '../helpers/wait.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('prom input under leader election', () => {
  it('scrapes on the leader only and fails over', async () => {
    const seenBy: string[] = [];
    const server = http.createServer((req, res) => {
      seenBy.push(String(req.headers['x-agent']));
      res.end('cluster_widgets{kind="a"} 3\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    cleanups.push(() => server.closeAllConnections());
    const port = (server.address() as AddressInfo).port;
    const api = await K8sApiFixture.start();
    cleanups.push(() => api.close());
    const dataway = await TestDataway.start();
    cleanups.push(() => dataway.close());
    const agents = new Map<string, TestAgent>();
    const start = async (name: string) => {
      const conf = { 'prom/cluster.conf': `[[inputs.prom]]\nurls = ["http://127.0.0.1:${port}/metrics"]\ninterval = "200ms"\n[inputs.prom.http_headers]\nX-Agent = "${name}"\n` };
      const a = await startTestAgent({
        dataway,
        conf,
        env: { KUBECONFIG: await api.kubeconfigPath(), ENV_K8S_NODE_NAME: `node-${name}`, ENV_HOSTNAME: name, ENV_ENABLE_ELECTION: '1', ENV_K8S_LEASE_DURATION: '2s', ENV_GLOBAL_ELECTION_TAGS: `elected_by=${name}` },
      });
      agents.set(name, a);
      cleanups.push(() => (agents.has(name) ? a.stop() : undefined));
      return a;
    };
    await start('a');
    await waitFor(() => dataway.points('metric', 'cluster').some((p) => p.tags.elected_by === 'a'), { what: 'leader a scrapes' });
    await start('b');
    // b follows for a while: several lease renewals, no scrape from b
    const rv = Number(api.resourceVersion);
    await waitFor(() => Number(api.resourceVersion) >= rv + 4, { timeoutMs: 8000, what: 'lease renewals' });
    expect(seenBy.filter((x) => x === 'b')).toHaveLength(0);
    const p = dataway.points('metric', 'cluster').find((x) => x.tags.elected_by === 'a')!;
    expect(p.fields.widgets).toBe(3);
    expect(p.tags.kind).toBe('a');

    await agents.get('a')!.stop();
    agents.delete('a');
    await waitFor(() => dataway.points('metric', 'cluster').some((x) => x.tags.elected_by === 'b'), { timeoutMs: 8000, what: 'b takes over' });
    expect(seenBy.includes('b')).toBe(true);
  });
});
