/**
 * The rum input inside a running agent: its routes on the agent's HTTP server,
 * CORS answers for them, 413 and refusals counted in /metrics, and session
 * replay forwarded to the dataway's replay path (with retries) or written
 * under data/out/ by the file sink.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestAgent, type TestAgent } from '../../test/helpers/agent.js';
import { waitFor } from '../../test/helpers/wait.js';
import { TestDataway } from '../../test/helpers/dataway.js';
import { zipSync, strToU8 } from 'fflate';
import { GEO_DB, makeSourcemap, ORIGINAL, THROW_COLUMN } from './testutil.js';

const running: TestAgent[] = [];
afterEach(async () => {
  while (running.length) await running.pop()!.stop();
});

async function agent(rumConf = '', env: Record<string, string> = {}): Promise<TestAgent> {
  const a = await startTestAgent({ conf: { 'rum/rum.conf': `[[inputs.rum]]\nipdb_path = ${JSON.stringify(GEO_DB)}\n${rumConf}` }, env });
  running.push(a);
  return a;
}

async function replayBody(appId: string): Promise<{ body: ArrayBuffer; ct: string }> {
  const form = new FormData();
  form.append('segment', new Blob([Buffer.alloc(300, 7)], { type: 'application/octet-stream' }), 's-1-1');
  form.append('app_id', appId);
  form.append('session_id', 's-1');
  form.append('view_id', 'v-1');
  const r = new Request('http://x/', { method: 'POST', body: form });
  return { body: await r.arrayBuffer(), ct: r.headers.get('content-type')! };
}

const T = Date.now();
const VIEW = `view,app_id=shop_web,session_id=s-1,view_id=v-1 loading_time=5 ${T}`;

describe('rum input in the agent', () => {
  it('serves /v1/write/rum with CORS for the page origin; points reach the dataway with location tags', async () => {
    const a = await agent('', { ENV_HTTP_ALLOWED_CORS_ORIGINS: 'http://shop.example' });
    const pre = await fetch(`${a.url}/v1/write/rum?precision=ms`, { method: 'OPTIONS', headers: { origin: 'http://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('http://shop.example');
    const res = await fetch(`${a.url}/v1/write/rum?precision=ms`, { method: 'POST', headers: { origin: 'http://shop.example', 'content-type': 'text/plain', 'x-forwarded-for': '203.0.113.9' }, body: VIEW });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('http://shop.example');
    const [p] = await a.dataway.waitForPoints('rum', 1);
    expect(p!.name).toBe('view');
    expect(p!.time).toBe(BigInt(T) * 1_000_000n);
    expect(p!.tags).toMatchObject({ app_id: 'shop_web', ip: '203.0.113.9', city: 'Testville', host: 'test-host' });
    const refused = await fetch(`${a.url}/v1/write/rum`, { method: 'OPTIONS', headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
    expect(refused.status).toBe(403);
  });

  it('a flood of preflights and of beacons over the queue never blocks other inputs', async () => {
    const a = await agent('', { ENV_IO_QUEUE_CAPACITY: '200', ENV_IO_MAX_CACHE_COUNT: '100' });
    a.dataway.respond((r) => (r.category === 'rum' ? { status: 503 } : undefined)); // rum backs up, metric does not
    const preflights = Array.from({ length: 300 }, () =>
      fetch(`${a.url}/v1/write/rum`, { method: 'OPTIONS', headers: { origin: 'http://shop.example', 'access-control-request-method': 'POST' } }).then((r) => r.status),
    );
    const batch = Array.from({ length: 20 }, () => VIEW).join('\n');
    const beacons = Array.from({ length: 60 }, () => fetch(`${a.url}/v1/write/rum?precision=ms`, { method: 'POST', body: batch }).then((r) => r.status));
    const metric = await fetch(`${a.url}/v1/write/metric`, { method: 'POST', body: 'cpu usage=1' });
    expect(metric.status).toBe(200);
    expect(new Set(await Promise.all(preflights))).toEqual(new Set([204]));
    const statuses = await Promise.all(beacons);
    expect(statuses).toContain(503); // the rum queue filled: refused with Retry-After, counted
    expect(statuses).toContain(200);
    await a.dataway.waitForPoints('metric', 1);
    const text = await (await fetch(`${a.url}/metrics`)).text();
    expect(text).toMatch(/telekit_rum_requests_total\{endpoint="rum",result="dropped"\} [1-9]/);
    a.dataway.respond(undefined); // let the rum queue drain so that stop() does not wait for its deadline
  });

  it('answers 413 for bodies over max_body_mb and counts refusals in /metrics', async () => {
    const a = await agent('max_body_mb = 1\nrum_app_id_white_list = ["shop_web"]\n');
    const big = await fetch(`${a.url}/v1/write/rum`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: `${VIEW}\n`.repeat(30_000) });
    expect(big.status).toBe(413);
    const other = await fetch(`${a.url}/v1/write/rum?precision=ms`, { method: 'POST', body: VIEW.replace('shop_web', 'stranger') });
    expect(other.status).toBe(403);
    const text = await (await fetch(`${a.url}/metrics`)).text();
    expect(text).toMatch(/telekit_http_requests_total\{route="\/v1\/write\/rum",code="413"\} 1/);
    expect(text).toMatch(/telekit_rum_requests_total\{endpoint="rum",result="app_id_refused"\} 1/);
  });

  it('forwards session replay to the dataway replay path as it came, with X-Global-Tags, retrying a 503', async () => {
    const a = await agent();
    let failures = 1;
    a.dataway.respond((r) => (r.path === '/v1/write/rum/replay' && failures-- > 0 ? { status: 503 } : undefined));
    const { body, ct } = await replayBody('shop_web');
    const res = await fetch(`${a.url}/v1/write/rum/replay`, { method: 'POST', headers: { 'content-type': ct }, body });
    expect(res.status).toBe(200);
    const got = await waitFor(() => a.dataway.requests.find((r) => r.path === '/v1/write/rum/replay' && r.status === 200), { what: 'the replay upload' });
    expect(a.dataway.requests.filter((r) => r.path === '/v1/write/rum/replay').map((r) => r.status)).toEqual([503, 200]);
    expect(got.query.get('token')).toBe('tkn_test');
    expect(got.headers['content-type']).toBe(ct);
    expect(got.headers['x-global-tags']).toBe('host=test-host');
    expect(got.body.equals(Buffer.from(body))).toBe(true);
  });

  it('keeps session replay in the disk buffer while the dataway is down, across a restart, and delivers it when it is back', async () => {
    const dataway = await TestDataway.start();
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'telekit-rum-replay-'));
    const conf = { 'rum/rum.conf': `[[inputs.rum]]\nipdb_path = ${JSON.stringify(GEO_DB)}\n` };
    try {
      const a = await startTestAgent({ conf, dataway, dataDir, env: { ENV_DATAWAY_MAX_RETRY_COUNT: '2' } });
      dataway.respond((r) => (r.path === '/v1/write/rum/replay' ? { status: 503 } : undefined)); // down for replay
      const bodies = [await replayBody('shop_web'), await replayBody('shop_web')];
      for (const { body, ct } of bodies) expect((await fetch(`${a.url}/v1/write/rum/replay`, { method: 'POST', headers: { 'content-type': ct }, body })).status).toBe(200);
      const spilled = async () => /telekit_uploads_total\{kind="rum_replay",sink="dataway\[0\]",result="spilled"\} 2/.test(await (await fetch(`${a.url}/metrics`)).text());
      await waitFor(async () => (await spilled()) || undefined, { what: 'both uploads spilled to disk' });
      // the agent restarts on the same data directory while the dataway is still down, then it comes back
      await a.stop();
      expect(dataway.requests.filter((r) => r.path === '/v1/write/rum/replay' && r.status === 200)).toEqual([]);
      dataway.respond(undefined);
      const b = await startTestAgent({ conf, dataway, dataDir });
      running.push(b);
      const got = await waitFor(
        () => {
          const ok = dataway.requests.filter((r) => r.path === '/v1/write/rum/replay' && r.status === 200);
          return ok.length >= 2 ? ok : undefined;
        },
        { what: 'the replays delivered from the disk buffer' },
      );
      expect(got.map((r) => r.body.equals(Buffer.from(bodies[0]!.body)) || r.body.equals(Buffer.from(bodies[1]!.body)))).toEqual([true, true]);
      expect(got[0]!.headers['content-type']).toMatch(/^multipart\/form-data; ?boundary=/);
      expect(got[0]!.headers['x-global-tags']).toBe('host=test-host');
      await b.stop();
      running.splice(running.indexOf(b), 1);
    } finally {
      await dataway.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("serves DataKit's sourcemap API: PUT stores the zip (checked, dataway token), error stacks resolve with it, DELETE removes it", async () => {
    const a = await agent();
    const zip = zipSync({ 'static/js/app.min.js.map': strToU8(makeSourcemap('app.min.js')) });
    const put = (query: string, file: Uint8Array | string = zip) => {
      const form = new FormData();
      form.append('file', new Blob([typeof file === 'string' ? file : Buffer.from(file)]), 'sourcemap.zip');
      return fetch(`${a.url}/v1/sourcemap?${query}`, { method: 'PUT', body: form });
    };
    const q = 'app_id=shop_web&env=prod&version=1.4.2&platform=web';
    const bad = await put(`${q}&token=tkn_wrong`);
    expect(bad.status).toBe(403);
    expect(await bad.json()).toMatchObject({ success: false, errorMsg: expect.stringContaining('token') });
    expect((await put(`${q}&token=tkn_test`, 'not a zip')).status).toBe(400);
    expect((await put('app_id=shop_web&env=prod&version=1.4.2&platform=android&token=tkn_test')).status).toBe(400);
    expect((await put('app_id=..&env=/etc&version=x&token=tkn_test')).status).toBe(400);
    const ok = await put(`${q}&token=tkn_test`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ success: true, content: expect.stringContaining('shop_web-prod-1.4.2.zip') });
    expect(fs.existsSync(path.join(a.dataDir, 'rum', 'web', 'shop_web-prod-1.4.2.zip'))).toBe(true);

    const stack = `Error: boom\\n  at boom @ https://shop.example.com/static/js/app.min.js:1:${THROW_COLUMN}`;
    const line = `error,sdk_name=df_web_rum_sdk,app_id=shop_web,env=prod,version=1.4.2 error_message="boom",error_stack="${stack}" ${T}`;
    expect((await fetch(`${a.url}/v1/write/rum?precision=ms`, { method: 'POST', body: line })).status).toBe(200);
    const [p] = await a.dataway.waitForPoints('rum', 1);
    expect(String(p!.fields.error_stack_source)).toContain(`${ORIGINAL.source}:${ORIGINAL.throwLine}:5`);

    const del = (query: string) => fetch(`${a.url}/v1/sourcemap?${query}`, { method: 'DELETE' });
    expect((await del(`${q}&token=tkn_wrong`)).status).toBe(403);
    expect((await del(`${q}&token=tkn_test`)).status).toBe(200);
    expect(fs.existsSync(path.join(a.dataDir, 'rum', 'web', 'shop_web-prod-1.4.2.zip'))).toBe(false);
    expect((await del(`${q}&token=tkn_test`)).status).toBe(404);
    const text = await (await fetch(`${a.url}/metrics`)).text();
    expect(text).toMatch(/telekit_rum_sourcemap_api_total\{result="uploaded"\} 1/);
    expect(text).toMatch(/telekit_rum_sourcemap_api_total\{result="bad_token"\} 2/);
  });

  it('writes session replay under data/out/rum_replay/ with the file sink', async () => {
    const a = await agent('', { ENV_DATAWAY: '' });
    const { body, ct } = await replayBody('shop_web');
    expect((await fetch(`${a.url}/v1/write/rum/replay`, { method: 'POST', headers: { 'content-type': ct }, body })).status).toBe(200);
    const dir = path.join(a.dataDir, 'out', 'rum_replay');
    const bin: string = await waitFor(() => (fs.existsSync(dir) ? fs.readdirSync(dir).find((f) => f.endsWith('.bin')) : undefined), { what: 'the replay file' });
    expect(fs.readFileSync(path.join(dir, bin)).equals(Buffer.from(body))).toBe(true);
    const meta = JSON.parse(fs.readFileSync(path.join(dir, bin.replace(/\.bin$/, '.json')), 'utf8'));
    expect(meta.tags).toMatchObject({ app_id: 'shop_web', session_id: 's-1', host: 'test-host' });
  });
});
