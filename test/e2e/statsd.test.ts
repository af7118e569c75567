/**
 * statsd end to end: a real agent with conf.d/statsd/statsd.conf, hot-shots
 * and raw UDP/TCP senders, points checked at the test dataway (after the
 * pipeline's encoding, so field types are as the dataway sees them).
 */
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import StatsD from 'hot-shots';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import type { RecordedPoint } from '../helpers/dataway.js';
import { freeTcpUdpPort, waitFor } from '../helpers/wait.js';
import { sendUdp } from '../helpers/net.js';

let ta: TestAgent | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await ta?.stop();
  ta = undefined;
});

async function agentWith(conf: string, env: Record<string, string> = {}): Promise<TestAgent> {
  ta = await startTestAgent({ conf: { 'statsd/statsd.conf': conf }, env });
  return ta;
}

function one(points: RecordedPoint[], name: string, tags: Record<string, string>): RecordedPoint {
  const m = points.filter((p) => p.name === name && Object.entries(tags).every(([k, v]) => p.tags[k] === v));
  if (m.length !== 1) throw new Error(`expected one ${name} ${JSON.stringify(tags)}, got ${m.length} of ${JSON.stringify(points)}`);
  return m[0]!;
}

async function metricsText(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`)).text();
}

describe('statsd through the agent', () => {
  it('hot-shots over UDP: DogStatsD tags, sample rates, every type; global and input tags added', async () => {
    const port = await freeTcpUdpPort();
    const a = await agentWith(
      `[[inputs.statsd]]\nservice_address = "127.0.0.1:${port}"\ninterval = "300ms"\npercentiles = [50.0, 99.0]\n[inputs.statsd.tags]\nteam = "checkout"\n`,
      { ENV_GLOBAL_HOST_TAGS: 'cluster=c1' },
    );
    vi.spyOn(Math, 'random').mockReturnValue(0); // hot-shots samples on the client side
    const client = new StatsD({ host: '127.0.0.1', port, globalTags: { env: 'prod' } });
    client.increment('api.requests', 1, { route: '/pay' });
    client.increment('api.requests', 1, 0.1, { route: '/pay' });
    client.gauge('api.inflight', 3);
    client.gauge('api.inflight', -1); // hot-shots sends a negative gauge as-is: a delta
    for (const v of [5, 10, 15, 20]) client.timing('api.latency', v, { route: '/pay' });
    client.set('api.clients', 'a');
    client.set('api.clients', 'b');
    client.set('api.clients', 'a');
    client.event('Deployed', 'v1.2.3', { alert_type: 'warning' });
    await new Promise<void>((r) => client.close(() => r()));

    const pts = await a.dataway.waitForPoints('metric', (p: RecordedPoint[]) => p.filter((x) => x.name === 'api').length >= 4, { timeoutMs: 10_000 });
    const api = pts.filter((p) => p.name === 'api');
    const counter = one(api, 'api', { metric_type: 'counter', route: '/pay' });
    expect(counter.fields.requests).toBe(11);
    expect(counter.tags).toMatchObject({ env: 'prod', team: 'checkout', host: 'test-host', cluster: 'c1' });
    expect(one(api, 'api', { metric_type: 'gauge' }).fields.inflight).toBe(2);
    expect(one(api, 'api', { metric_type: 'set' }).fields.clients).toBe(2n);
    expect(one(api, 'api', { metric_type: 'timing' }).fields).toMatchObject({
      latency_count: 4n,
      latency_sum: 50,
      latency_mean: 12.5,
      latency_lower: 5,
      latency_upper: 20,
      latency_50_percentile: 15,
      latency_99_percentile: 20,
    });
    const ev = await a.dataway.waitForPoints('keyevent', 1, { name: 'statsd_event', timeoutMs: 10_000 });
    expect(ev[0]).toMatchObject({ tags: { df_status: 'warning', env: 'prod', host: 'test-host' }, fields: { df_title: 'Deployed', df_message: 'v1.2.3' } });
  });

  it('raw UDP and TCP listeners side by side; malformed lines are counted on /metrics and never reach the dataway', async () => {
    const port = await freeTcpUdpPort();
    const a = await agentWith(
      [
        `[[inputs.statsd]]\nservice_address = "127.0.0.1:${port}"\ninterval = "200ms"`,
        `[[inputs.statsd]]\nprotocol = "tcp"\nservice_address = "127.0.0.1:${port}"\ninterval = "200ms"\n[inputs.statsd.tags]\nvia = "tcp"`,
      ].join('\n'),
    );
    await sendUdp(port, 'udp.c:1|c\nudp.c:2|c\nbroken\nudp.c:x|c', 'udp.c:3|c|@0.5|#k:v');
    const sock = net.connect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.end('tcp.c:5|c\ntcp.c:1|zz\ntcp.g:1.5|g\n');

    const pts = await a.dataway.waitForPoints('metric', (p: RecordedPoint[]) => p.some((x) => x.name === 'udp' && x.tags.k === 'v') && p.some((x) => x.name === 'tcp'), {
      timeoutMs: 10_000,
    });
    expect(one(pts, 'udp', { metric_type: 'counter', k: 'v' }).fields.c).toBe(6);
    const udpPlain = pts.filter((p) => p.name === 'udp' && p.tags.k === undefined);
    expect(udpPlain.reduce((s, p) => s + (p.fields.c as number), 0)).toBe(3);
    expect(one(pts, 'tcp', { metric_type: 'counter', via: 'tcp' }).fields.c).toBe(5);
    expect(one(pts, 'tcp', { metric_type: 'gauge' }).fields.g).toBe(1.5);
    await waitFor(async () => {
      const text = await metricsText(a.url);
      return /telekit_statsd_malformed_total\{reason="bad_value"\} 1/.test(text) && /telekit_statsd_malformed_total\{reason="bad_type"\} 1/.test(text) && /reason="no_value"\} 1/.test(text);
    });
  });

  it('runs from ENV_DEFAULT_ENABLED_INPUTS with ENV_INPUT_STATSD_* overrides, as the seeds deploy it', async () => {
    const port = await freeTcpUdpPort();
    ta = await startTestAgent({
      env: {
        ENV_DEFAULT_ENABLED_INPUTS: 'statsd',
        ENV_INPUT_STATSD_SERVICE_ADDRESS: `127.0.0.1:${port}`,
        ENV_INPUT_STATSD_INTERVAL: '200ms',
        ENV_INPUT_STATSD_DROP_TAGS: 'runtime-id',
        ENV_INPUT_STATSD_METRIC_MAPPING: 'jvm_:jvm',
      },
    });
    await sendUdp(port, 'jvm.heap.used:512|g|#runtime-id:abc,service:api');
    const [p] = await ta.dataway.waitForPoints('metric', 1, { name: 'jvm', timeoutMs: 10_000 });
    expect(p!.fields).toEqual({ heap_used: 512 });
    expect(p!.tags['runtime-id']).toBeUndefined();
    expect(p!.tags).toMatchObject({ service: 'api', metric_type: 'gauge', host: 'test-host' });
  });

  it('flushes the current interval when the agent stops', async () => {
    const port = await freeTcpUdpPort();
    const a = await agentWith(`[[inputs.statsd]]\nservice_address = "127.0.0.1:${port}"\ninterval = "1h"`);
    await sendUdp(port, 'bye.n:42|c');
    await waitFor(async () => /telekit_statsd_metrics_total\{type="c"\} 1/.test(await metricsText(a.url)));
    const dataway = a.dataway;
    await a.agent.stop();
    await dataway.waitForPoints('metric', 1, { name: 'bye', timeoutMs: 5_000 });
    expect(dataway.points('metric', 'bye')[0]!.fields.n).toBe(42);
  });
});
