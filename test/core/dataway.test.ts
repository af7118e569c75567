import { afterEach, describe, expect, it } from 'vitest';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { waitFor } from '../helpers/wait.js';

let t: TestAgent | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

const post = (url: string, body: string, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', body, headers: { 'content-type': 'text/plain', ...headers } });

describe('agent → dataway', () => {
  it('sends each category to its path with the token, gzip, X-Points and the global tags', async () => {
    t = await startTestAgent({ env: { ENV_GLOBAL_HOST_TAGS: 'host=__datakit_hostname,host_ip=__datakit_ip,cluster_name_k8s=k8s-istio' } });
    const r = await post(`${t.url}/v1/write/metric`, 'cpu,cpu=cpu0 usage=12.5,n=3i 1700000000000000000\n');
    expect(r.status).toBe(200);
    const r2 = await post(`${t.url}/v1/write/logging`, 'nginx message="GET / 200",status="info"\n');
    expect(r2.status).toBe(200);
    const [m] = await t.dataway.waitForPoints('metric', 1);
    expect(m).toMatchObject({ name: 'cpu', tags: { cpu: 'cpu0', host: 'test-host', host_ip: '10.0.0.1', cluster_name_k8s: 'k8s-istio' }, fields: { usage: 12.5, n: 3n }, time: 1700000000000000000n });
    const [l] = await t.dataway.waitForPoints('logging', 1);
    expect(l!.fields.message).toBe('GET / 200');
    const req = t.dataway.requests.find((q) => q.category === 'metric')!;
    expect(req.path).toBe('/v1/write/metric');
    expect(req.query.get('token')).toBe('tkn_test');
    expect(req.headers['content-encoding']).toBe('gzip');
    expect(req.headers['x-points']).toBe('1');
    expect(req.headers['content-type']).toBe('application/line-protocol');
    expect(String(req.headers['user-agent'])).toMatch(/^telekit\/.+\/test-host$/);
  });

  it('takes DataKit\'s JSON body form on /v1/write/<category> (the browser logs SDK\'s sendContentTypeByJson)', async () => {
    t = await startTestAgent();
    const json = { 'content-type': 'application/json; charset=utf-8' };
    const body = JSON.stringify([
      { measurement: 'browser', tags: { service: 'web', status: 'info', empty: null }, fields: { message: 'hello', n: 3, ok: true, obj: { a: 1 } }, time: 1700000000000 },
      { measurement: 'browser', tags: { service: 'web' }, fields: { message: 'second' } },
    ]);
    const r = await post(`${t.url}/v1/write/logging?precision=ms`, body, json);
    expect(r.status).toBe(200);
    const [a, b] = await t.dataway.waitForPoints('logging', 2);
    expect(a).toMatchObject({ name: 'browser', tags: { service: 'web', status: 'info', host: 'test-host' }, fields: { message: 'hello', n: 3, ok: true, obj: '{"a":1}' }, time: 1700000000000000000n });
    expect(a!.tags).not.toHaveProperty('empty');
    expect(b!.fields.message).toBe('second');
    // bad forms: 400 with the element and the reason, nothing queued
    for (const [bad, reason] of [
      ['[{"measurement":"m","fields":{}}]', /element 0: no fields/],
      ['[{"fields":{"a":1}}]', /element 0: missing measurement/],
      ['[{"measurement":"m","fields":{"a":1},"time":9300000000000000000}]', /element 0: time out of range/],
      ['[{"measurement":', /invalid JSON/],
    ] as const) {
      const res = await post(`${t.url}/v1/write/logging`, bad, json);
      expect(res.status).toBe(400);
      expect(await res.text()).toMatch(reason);
    }
    const big = await post(`${t.url}/v1/write/logging`, `[${'{"measurement":"m","fields":{"a":1}},'.repeat(130_000)}{"measurement":"m","fields":{"a":1}}]`, json);
    expect(big.status).toBe(413);
    expect(t.dataway.points('logging')).toHaveLength(2);
  });

  it('keeps a point\'s own tag over a global tag', async () => {
    t = await startTestAgent({ env: { ENV_GLOBAL_HOST_TAGS: 'cluster=global' } });
    await post(`${t.url}/v1/write/metric`, 'm,cluster=mine v=1\n');
    const [p] = await t.dataway.waitForPoints('metric', 1);
    expect(p!.tags.cluster).toBe('mine');
  });

  it('retries after a 503 and delivers exactly once', async () => {
    t = await startTestAgent();
    let failures = 2;
    t.dataway.respond(() => (failures-- > 0 ? { status: 503 } : undefined));
    await post(`${t.url}/v1/write/metric`, 'm v=1\n');
    await t.dataway.waitForPoints('metric', 1);
    expect(t.dataway.requests.filter((q) => q.status === 503)).toHaveLength(2);
    expect(t.dataway.points('metric')).toHaveLength(1);
  });

  it('does not retry after a 400 and counts the drop', async () => {
    t = await startTestAgent();
    t.dataway.respond(() => ({ status: 400, body: '{"error":"bad point"}' }));
    await post(`${t.url}/v1/write/metric`, 'm v=1\n');
    await waitFor(() => t!.dataway.requests.length >= 1);
    const metrics = await waitFor(async () => {
      const text = await (await fetch(`${t!.url}/metrics`)).text();
      return /telekit_points_dropped_total\{category="metric",reason="rejected"\} 1/.test(text) ? text : undefined;
    });
    expect(metrics).toContain('telekit_sink_points_total{sink="dataway[0]",category="metric",result="rejected"} 1');
    // give a retry the chance to happen: two more flush intervals
    await new Promise((r) => setTimeout(r, 300));
    expect(t.dataway.requests).toHaveLength(1);
  });

  it('counts the bodies gzipped at the busy level while the agent is busy, and asks nothing when that level is not lower', async () => {
    let busy = true;
    let asked = 0;
    const cpuPressure = { busy: () => (asked++, busy) };
    t = await startTestAgent({ extra: { cpuPressure } });
    await post(`${t.url}/v1/write/metric`, 'm v=1\n');
    await t.dataway.waitForPoints('metric', 1);
    busy = false;
    await post(`${t.url}/v1/write/metric`, 'm v=2\n');
    await t.dataway.waitForPoints('metric', 2);
    expect(asked).toBe(2);
    expect(await (await fetch(`${t.url}/metrics`)).text()).toMatch(/^telekit_dataway_busy_gzip_bodies_total 1$/m);
    await t.stop();
    asked = 0;
    t = await startTestAgent({ extra: { cpuPressure }, env: { ENV_DATAWAY_GZIP_LEVEL: '2', ENV_DATAWAY_GZIP_LEVEL_BUSY: '2' } });
    busy = true;
    await post(`${t.url}/v1/write/metric`, 'm v=3\n');
    await t.dataway.waitForPoints('metric', 1);
    expect(asked).toBe(0);
    expect(await (await fetch(`${t.url}/metrics`)).text()).toMatch(/^telekit_dataway_busy_gzip_bodies_total 0$/m);
  });

  it('sends v2 protobuf points when ENV_DATAWAY_CONTENT_ENCODING=v2', async () => {
    t = await startTestAgent({ env: { ENV_DATAWAY_CONTENT_ENCODING: 'v2' } });
    await post(`${t.url}/v1/write/metric`, 'm,a=b f=1.5,i=-2i,s="x",b=true\n');
    const [p] = await t.dataway.waitForPoints('metric', 1);
    expect(p).toMatchObject({ name: 'm', tags: { a: 'b', host: 'test-host' }, fields: { f: 1.5, i: -2n, s: 'x', b: true } });
    expect(t.dataway.requests[0]!.headers['content-type']).toBe('application/protobuf; proto=com.guance.Point');
  });

  it.each(['v1', 'v2'])('splits a %s batch into bodies of at most ENV_DATAWAY_MAX_RAW_BODY_SIZE', async (enc) => {
    t = await startTestAgent({ env: { ENV_DATAWAY_MAX_RAW_BODY_SIZE: '2048', ENV_IO_FLUSH_INTERVAL: '1s', ENV_DATAWAY_CONTENT_ENCODING: enc } });
    const lines = Array.from({ length: 100 }, (_, i) => `m,i=${i} v=${i},s="${'x'.repeat(50)}"`).join('\n');
    await post(`${t.url}/v1/write/metric`, lines);
    await t.dataway.waitForPoints('metric', 100);
    expect(t.dataway.requests.length).toBeGreaterThan(1);
    for (const q of t.dataway.requests) expect(q.body.length).toBeLessThanOrEqual(2048);
    expect(new Set(t.dataway.points('metric').map((p) => p.tags.i)).size).toBe(100);
  });

  it('answers 400 with the line and reason for bad line protocol', async () => {
    t = await startTestAgent();
    const r = await post(`${t.url}/v1/write/metric`, 'ok v=1\nbad v=\n');
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: string }).error).toMatch(/line 2/);
    const r2 = await post(`${t.url}/v1/write/nosuch`, 'm v=1\n');
    expect(r2.status).toBe(404);
  });

  it('flushes queued points on stop', async () => {
    t = await startTestAgent({ env: { ENV_IO_FLUSH_INTERVAL: '1h' } });
    await post(`${t.url}/v1/write/metric`, 'm v=1\nm v=2\n');
    expect(t.dataway.points('metric')).toHaveLength(0);
    const dw = t.dataway;
    await t.agent.stop();
    expect(dw.points('metric')).toHaveLength(2);
  });

  it('answers /v1/ping with version, uptime and hostname', async () => {
    t = await startTestAgent();
    const r = (await (await fetch(`${t.url}/v1/ping`)).json()) as { content: Record<string, string> };
    expect(r.content.host).toBe('test-host');
    expect(r.content.version).toMatch(/^\d+\.\d+\.\d+/);
  });
});
