/**
 * Lease election end to end: real @kubernetes/client-node against the fixture
 * API server, with short durations (lease 2 s, renew 300 ms).
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Registry } from 'prom-client';
import { KubeConfig } from '@kubernetes/client-node';
import { LeaseElection, type LeaseElectionOptions } from '../../agent/services/k8s/election.js';
import { K8sApiFixture } from '../fixtures/k8s-api.js';
import { waitFor } from '../helpers/wait.js';

const log = pino({ level: 'silent' });
const LEASE_MS = 2000;

let api: K8sApiFixture;
let metrics: Registry;
const started: LeaseElection[] = [];
/** Timeline of leadership changes: [ms since test start, identity, leader]. */
let timeline: Array<[number, string, boolean]>;
let t0: number;

function candidate(identity: string, opts: Partial<LeaseElectionOptions> = {}): LeaseElection {
  const e = new LeaseElection({
    kubeConfig: api.kubeConfig(),
    namespace: 'telekit',
    identity,
    log,
    metrics,
    leaseDurationMs: LEASE_MS,
    renewIntervalMs: 300,
    retryIntervalMs: 200,
    renewDeadlineMs: 1200,
    ...opts,
  });
  e.onChange((leader) => timeline.push([Date.now() - t0, identity, leader]));
  started.push(e);
  e.start();
  return e;
}

/** Leaders at each moment of the timeline; never more than one. */
function maxConcurrentLeaders(): number {
  const current = new Set<string>();
  let max = 0;
  for (const [, id, leader] of timeline) {
    if (leader) current.add(id);
    else current.delete(id);
    max = Math.max(max, current.size);
  }
  return max;
}

/** A TCP proxy to the fixture that can be cut, to partition one candidate from the API. */
async function proxyTo(url: string): Promise<{ url: string; cut: () => void }> {
  const target = new URL(url);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const kill = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', kill).on('close', kill);
    upstream.on('error', kill).on('close', kill);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    cut: () => {
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}

function kubeConfigVia(server: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(api.kubeconfigYaml().replace(api.url, server));
  return kc;
}

const lease = () => api.get('leases', 'telekit', 'telekit') as { spec: Record<string, unknown> } | undefined;

beforeEach(async () => {
  api = await K8sApiFixture.start();
  metrics = new Registry();
  timeline = [];
  t0 = Date.now();
});

afterEach(async () => {
  await Promise.all(started.splice(0).map((e) => e.stop()));
  await api.close();
});

describe('LeaseElection', () => {
  it('elects exactly one of two candidates and keeps it while it renews', async () => {
    const a = candidate('agent-a');
    const b = candidate('agent-b');
    const leader = await waitFor(() => (a.isLeader() ? a : b.isLeader() ? b : undefined), { what: 'a leader' });
    const follower = leader === a ? b : a;
    const holder = lease()?.spec.holderIdentity;
    expect(holder).toBe(leader === a ? 'agent-a' : 'agent-b');
    expect(lease()?.spec.leaseDurationSeconds).toBe(2);
    expect(lease()?.spec.renewTime).toMatch(/\.\d{6}Z$/);

    // several renewals later (past a whole lease duration): still the same single leader
    const rv = Number(api.resourceVersion);
    await waitFor(() => Number(api.resourceVersion) >= rv + 8, { what: 'renewals', timeoutMs: 5000 }); // ~2.4 s > lease
    expect(leader.isLeader()).toBe(true);
    expect(follower.isLeader()).toBe(false);
    expect(lease()?.spec.holderIdentity).toBe(holder);
    expect(maxConcurrentLeaders()).toBe(1);
  });

  it('hands over at once when the leader stops (releases the Lease)', async () => {
    const a = candidate('agent-a');
    await waitFor(() => a.isLeader());
    const b = candidate('agent-b');
    const stoppedAt = Date.now();
    await a.stop();
    expect(a.isLeader()).toBe(false);
    await waitFor(() => b.isLeader(), { what: 'b takes over', timeoutMs: LEASE_MS * 2 });
    expect(Date.now() - stoppedAt).toBeLessThan(LEASE_MS); // did not wait for expiry
    expect(lease()?.spec.holderIdentity).toBe('agent-b');
    expect(lease()?.spec.leaseTransitions).toBe(1);
    expect(maxConcurrentLeaders()).toBe(1);
  });

  it('takes over within the lease duration when the leader stops renewing, and the old leader steps down first', async () => {
    const proxy = await proxyTo(api.url);
    const a = candidate('agent-a', { kubeConfig: kubeConfigVia(proxy.url) });
    await waitFor(() => a.isLeader());
    const b = candidate('agent-b');

    proxy.cut(); // agent-a can no longer reach the API: no renewals, no release
    const cutAt = Date.now() - t0;
    await waitFor(() => b.isLeader(), { what: 'b takes over', timeoutMs: LEASE_MS * 3 });
    const tookOver = timeline.find(([, id, l]) => id === 'agent-b' && l)![0];
    const steppedDown = timeline.find(([, id, l]) => id === 'agent-a' && !l)![0];
    expect(tookOver - cutAt).toBeLessThan(LEASE_MS + 1000); // lease duration + one retry + slack for a loaded box
    expect(steppedDown).toBeLessThan(tookOver); // renew deadline < lease duration
    expect(maxConcurrentLeaders()).toBe(1);
    expect(a.isLeader()).toBe(false);
  });

  it('counts API errors (e.g. RBAC 403) and keeps campaigning', async () => {
    api.failNext({ resource: 'leases', verb: 'get', status: 403, times: 3 });
    const a = candidate('agent-a');
    await waitFor(() => a.isLeader(), { what: 'leader after errors' });
    const errors = (await metrics.getMetricsAsJSON()).find((m) => m.name === 'telekit_k8s_errors_total');
    expect(errors?.values.find((v) => v.labels.op === 'lease')?.value).toBe(3);
    const gauge = (await metrics.getMetricsAsJSON()).find((m) => m.name === 'telekit_k8s_election_leader');
    expect(gauge?.values[0]?.value).toBe(1);
  });

  it('loses a create race and an update conflict without a second leader', async () => {
    // many candidates at once: creates race (409 AlreadyExists), then updates race (409 Conflict)
    const all = ['a', 'b', 'c', 'd', 'e'].map((id) => candidate(`agent-${id}`));
    await waitFor(() => all.some((e) => e.isLeader()));
    const rv = Number(api.resourceVersion);
    await waitFor(() => Number(api.resourceVersion) >= rv + 5, { timeoutMs: 5000 });
    expect(all.filter((e) => e.isLeader()).length).toBe(1);
    expect(maxConcurrentLeaders()).toBe(1);
    expect(api.requests.some((r) => r.verb === 'create')).toBe(true);
  });

  it('stop() is idempotent and safe without start', async () => {
    const e = new LeaseElection({ kubeConfig: api.kubeConfig(), namespace: 'x', identity: 'i', log, metrics });
    await e.stop();
    await e.stop();
    expect(e.isLeader()).toBe(false);
    expect(api.requests.length).toBe(0);
  });
});
