import fs from 'node:fs';
import fc from 'fast-check';
import path from 'node:path';
import zlib from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { fakeContext, validConfig } from '../../test/helpers/fake-context.js';
import type { HttpRequest } from '../../agent/server/http-routes.js';
import os from 'node:os';
import { RumInput } from './input.js';
import { schema, type RumConfig } from './config.js';
import { rum } from './index.js';
import { loadInputs, loadMainFile } from '../../agent/config/load.js';
import { clientIp, firstAddress } from './clientip.js';
import { decodeJson } from './body.js';
import { decodeLines } from '../../agent/model/lineproto.js';
import { CALL_COLUMN, GEO_DB, ORIGINAL, THROW_COLUMN, writeSourcemapZip } from './testutil.js';

const T0 = 1_700_000_000_123;
/** Two lines as the browser SDK writes them (tags then fields, time in ms). */
const VIEW = `view,sdk_name=df_web_rum_sdk,app_id=shop_web,env=prod,version=1.4.2,session_id=s-1,view_id=v-1,view_name=/cart loading_time=1234,view_error_count=0 ${T0}`;
const RESOURCE = `resource,sdk_name=df_web_rum_sdk,app_id=shop_web,env=prod,version=1.4.2,session_id=s-1,view_id=v-1,resource_url=http://api/x,trace_id=123456789 resource_size=42,duration=17 ${T0 + 5}`;

function req(body: Buffer | string, o: { query?: Record<string, string>; headers?: Record<string, string>; remote?: string; path?: string } = {}): HttpRequest {
  return {
    method: 'POST',
    path: o.path ?? '/v1/write/rum',
    query: o.query ?? { precision: 'ms' },
    headers: { 'content-type': 'text/plain;charset=UTF-8', ...o.headers },
    body: Buffer.isBuffer(body) ? body : Buffer.from(body),
    remoteAddress: o.remote ?? '10.1.2.3',
  };
}

/**
 * Each test runs twice: with an accumulator that takes points (the general
 * path), and with one that takes line-protocol records like the agent's when
 * every sink is v1 (the fast path: fastpath.ts); the records are decoded back.
 */
const MODES = ['points', 'lines'] as const;
let mode: (typeof MODES)[number] = 'points';

function takeLines(ctx: ReturnType<typeof fakeContext>): void {
  const acc = ctx.acc as unknown as Record<string, unknown>;
  acc.takesLines = () => true;
  acc.recordFormat = () => 'lp';
  acc.tagsToAdd = () => ({});
  acc.addLines = (category: 'rum', data: Uint8Array, ends: number[]) => {
    if (ctx.acc.refuse) return 0;
    const pts = decodeLines(Buffer.from(data).toString('utf8', 0, ends.at(-1)));
    expect(pts).toHaveLength(ends.length);
    for (const d of pts) ctx.points.push({ category, name: d.name, tags: d.tags, fields: d.fields, time: d.time });
    return ends.length;
  };
}

async function started(raw: object = {}, dataDir?: string) {
  const ctx = fakeContext('rum', { dataDir });
  if (mode === 'lines') takeLines(ctx);
  // the class itself (the definition's create() defers loading it: agent/input/lazy.ts), so tests can read its state
  const input = new RumInput(validConfig(schema, { ipdb_path: GEO_DB, ...raw }), ctx);
  await input.start();
  return { ctx, input, post: (r: HttpRequest) => Promise.resolve(ctx.routes.get(`POST ${r.path}`)!(r)) };
}

async function metric(ctx: ReturnType<typeof fakeContext>, name: string, labels: Record<string, string>): Promise<number> {
  const m = ctx.metrics.getSingleMetric(name);
  if (!m) return 0;
  const v = (await m.get()).values.find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l));
  return v?.value ?? 0;
}

for (const m of MODES) {
describe(`with ${m}`, () => {
  beforeAll(() => {
    mode = m;
  });

describe('rum input: body forms', () => {
  it('takes the SDK line protocol (text/plain, ?precision=ms) and adds the client address and location', async () => {
    const { ctx, post } = await started();
    const res = await post(req(`${VIEW}\n${RESOURCE}`, { headers: { 'x-forwarded-for': '203.0.113.7, 10.0.0.1' } }));
    expect(res.status).toBe(200);
    expect(ctx.points.map((p) => p.name)).toEqual(['view', 'resource']);
    expect(ctx.acc.calls, 'add() is not used on the fast path').toHaveLength(mode === 'lines' ? 0 : 1);
    const v = ctx.points[0]!;
    expect(v.category).toBe('rum');
    expect(v.time).toBe(BigInt(T0) * 1_000_000n);
    expect(v.tags).toMatchObject({ app_id: 'shop_web', session_id: 's-1', view_id: 'v-1', ip: '203.0.113.7', city: 'Testville', province: 'Test Province', country: 'Testland', isp: 'Test ISP' });
    expect(v.fields.loading_time).toBe(1234);
    expect(ctx.points[1]!.tags.trace_id).toBe('123456789');
    expect(await metric(ctx, 'telekit_rum_points_total', { measurement: 'view' })).toBe(1);
  });

  it('takes the JSON array form (sendContentTypeByJson) with the same result', async () => {
    const { ctx, post } = await started();
    const body = JSON.stringify([
      { measurement: 'action', tags: { app_id: 'shop_web', session_id: 's-1', view_id: 'v-1', action_type: 'click' }, fields: { action_name: 'Pay', duration: 12, custom: { a: 1 } }, time: T0 },
    ]);
    const res = await post(req(body, { headers: { 'content-type': 'application/json;UTF-8', 'x-forwarded-for': '198.51.100.9' } }));
    expect(res.status).toBe(200);
    const p = ctx.points[0]!;
    expect(p.name).toBe('action');
    expect(p.time).toBe(BigInt(T0) * 1_000_000n);
    expect(p.fields).toEqual({ action_name: 'Pay', duration: 12, custom: '{"a":1}' });
    expect(p.tags).toMatchObject({ action_type: 'click', ip: '198.51.100.9', city: 'Exampleton', country: 'Exampleland', isp: 'Example Net' });
  });

  it('inflates ?encoding=deflate bodies (compressIntakeRequests)', async () => {
    const { ctx, post } = await started();
    const res = await post(req(zlib.deflateSync(VIEW), { query: { precision: 'ms', encoding: 'deflate' } }));
    expect(res.status).toBe(200);
    expect(ctx.points).toHaveLength(1);
  });

  it('writes unknown location tags without a database, as DataKit', async () => {
    const { ctx, post } = await started({ ipdb_path: '' });
    expect((await post(req(VIEW, { headers: { 'x-forwarded-for': '203.0.113.7' } }))).status).toBe(200);
    expect(ctx.points[0]!.tags).toMatchObject({ ip: '203.0.113.7', city: 'unknown', province: 'unknown', country: 'unknown', isp: 'unknown' });
  });
});

describe('rum input: client address', () => {
  it('reads the configured header first, then X-Forwarded-For / X-Real-IP, then the socket', () => {
    const h = { 'x-client-ip': '198.51.100.1', 'x-forwarded-for': '203.0.113.5, 10.0.0.2', 'x-real-ip': '203.0.113.6' };
    expect(clientIp(h, '10.9.9.9', 'x-client-ip')).toEqual({ ip: '198.51.100.1', source: 'header' });
    expect(clientIp(h, '10.9.9.9', 'x-forwarded-for')).toEqual({ ip: '203.0.113.5', source: 'header' });
    expect(clientIp({ 'x-forwarded-for': '203.0.113.5' }, '10.9.9.9', 'x-client-ip')).toEqual({ ip: '203.0.113.5', source: 'fallback_header' });
    expect(clientIp({ 'x-real-ip': '203.0.113.6' }, '10.9.9.9', 'x-forwarded-for')).toEqual({ ip: '203.0.113.6', source: 'fallback_header' });
    expect(clientIp({}, '::ffff:10.9.9.9', 'x-forwarded-for')).toEqual({ ip: '10.9.9.9', source: 'socket' });
    expect(firstAddress('[2001:db8::1]:443, 10.0.0.1')).toBe('2001:db8::1');
    expect(firstAddress('203.0.113.5:5678')).toBe('203.0.113.5');
    expect(firstAddress('not-an-ip')).toBe('');
  });

  it('uses rum_origin_ip_header and looks each request up once (cached across requests)', async () => {
    const { ctx, input, post } = await started({ rum_origin_ip_header: 'X-Client-IP' });
    const headers = { 'x-client-ip': '2001:db8::7', 'x-forwarded-for': '203.0.113.7' };
    for (let i = 0; i < 3; i++) expect((await post(req(`${VIEW}\n${VIEW}\n${VIEW}`, { headers }))).status).toBe(200);
    expect(ctx.points).toHaveLength(9);
    expect(ctx.points[8]!.tags).toMatchObject({ ip: '2001:db8::7', city: 'Sixton', isp: 'Six ISP' });
    expect((input as unknown as { geo: { lookups: number } }).geo.lookups).toBe(1);
    expect(await metric(ctx, 'telekit_rum_client_ip_total', { source: 'header', locate: 'ok' })).toBe(3);
  });

  it('falls back to the socket address and counts addresses the database does not know', async () => {
    const { ctx, post } = await started();
    expect((await post(req(VIEW, { remote: '10.1.2.3' }))).status).toBe(200);
    expect(ctx.points[0]!.tags).toMatchObject({ ip: '10.1.2.3', city: 'unknown' });
    expect(await metric(ctx, 'telekit_rum_client_ip_total', { source: 'socket', locate: 'not_found' })).toBe(1);
  });
});

describe('rum input: refusals', () => {
  it('refuses app ids outside rum_app_id_white_list with 403 and counts it', async () => {
    const { ctx, post } = await started({ rum_app_id_white_list: ['other_app'] });
    const res = await post(req(VIEW));
    expect(res.status).toBe(403);
    expect(JSON.stringify(res.body)).toContain('shop_web');
    expect(ctx.points).toHaveLength(0);
    expect(await metric(ctx, 'telekit_rum_requests_total', { endpoint: 'rum', result: 'app_id_refused' })).toBe(1);
    const ok = await started({ rum_app_id_white_list: ['shop_web'] });
    expect((await ok.post(req(VIEW))).status).toBe(200);
  });

  it('refuses measurements that are not RUM ones, and points without app_id', async () => {
    const { ctx, post } = await started();
    const res = await post(req(`${VIEW}\ncpu,app_id=shop_web usage=1 ${T0}`));
    expect(res.status).toBe(400);
    expect((res.body as { error: string }).error).toMatch(/(point|line) 2: "cpu" is not a RUM measurement/);
    const noApp = await post(req(`view,session_id=s loading_time=1 ${T0}`));
    expect(noApp.status).toBe(400);
    expect((noApp.body as { error: string }).error).toMatch(/no app_id/);
    expect(ctx.points).toHaveLength(0);
    expect(await metric(ctx, 'telekit_rum_requests_total', { endpoint: 'rum', result: 'unknown_measurement' })).toBe(1);
    expect(await metric(ctx, 'telekit_rum_requests_total', { endpoint: 'rum', result: 'missing_app_id' })).toBe(1);
  });

  it('answers 400 with the line and reason for bad line protocol, and for bad JSON', async () => {
    const { ctx, post } = await started();
    const bad = await post(req(`${VIEW}\n${VIEW}\nview,app_id=x loading_time= ${T0}`));
    expect(bad.status).toBe(400);
    expect((bad.body as { error: string }).error).toMatch(/^line 3: /);
    const json = await post(req('[{"measurement":"view",', { headers: { 'content-type': 'application/json' } }));
    expect(json.status).toBe(400);
    expect((json.body as { error: string }).error).toMatch(/invalid JSON/);
    const shape = await post(req('[{"tags":{}}]', { headers: { 'content-type': 'application/json' } }));
    expect((shape.body as { error: string }).error).toMatch(/element 0: missing measurement/);
    expect((await post(req(''))).status).toBe(400);
    expect((await post(req(VIEW, { query: { precision: 'fortnight' } }))).status).toBe(400);
    expect(ctx.points).toHaveLength(0);
    expect(await metric(ctx, 'telekit_rum_requests_total', { endpoint: 'rum', result: 'bad_body' })).toBe(3);
    expect(await metric(ctx, 'telekit_rum_requests_total', { endpoint: 'rum', result: 'empty' })).toBe(1);
  });

  it('answers 413 for a deflate body that inflates past max_body_mb', async () => {
    const { post } = await started({ max_body_mb: 1 });
    const res = await post(req(zlib.deflateSync(Buffer.alloc(2 << 20, 'a')), { query: { encoding: 'deflate' } }));
    expect(res.status).toBe(413);
  });

  it('answers 503 with Retry-After when the queue refuses the points', async () => {
    const { ctx, post } = await started();
    ctx.acc.refuse = true;
    const res = await post(req(VIEW));
    expect(res.status).toBe(503);
    expect(res.headers?.['retry-after']).toBe('1');
  });

  it('checks JSON elements', () => {
    expect(() => decodeJson('[1]', 1n)).toThrow(/element 0: not an object/);
    expect(() => decodeJson('[{"measurement":"view","fields":{}}]', 1n)).toThrow(/no fields/);
    expect(() => decodeJson('[{"measurement":"view","fields":{"a":1},"time":-4}]', 1n)).toThrow(/time/);
  });
});

describe('rum input: sourcemaps', () => {
  const stack = (host: string) =>
    `Error: boom from the app\n  at boom @ ${host}/static/js/app.min.js:1:${THROW_COLUMN}\n  at go @ ${host}/static/js/app.min.js:1:${CALL_COLUMN}\n  at <anonymous> @ ${host}/vendor.js:1:10`;
  const errorLine = (s: string) => `error,sdk_name=df_web_rum_sdk,app_id=shop_web,env=prod,version=1.4.2,session_id=s-1,view_id=v-1 error_message="boom",error_stack="${s.replace(/[\\"]/g, '\\$&')}" ${T0}`; // raw newlines inside the quotes, as the SDK writes them

  it('resolves error_stack into error_stack_source from <app_id>-<env>-<version>.zip', async () => {
    const { ctx, post } = await started();
    writeSourcemapZip(ctx.dataDir, 'shop_web', 'prod', '1.4.2', '/static/js/app.min.js');
    expect((await post(req(errorLine(stack('https://shop.example.com'))))).status).toBe(200);
    const src = String(ctx.points[0]!.fields.error_stack_source);
    expect(src).toContain(`at boom @ ${ORIGINAL.source}:${ORIGINAL.throwLine}:5`);
    expect(src).toContain(`at go @ ${ORIGINAL.source}:${ORIGINAL.callLine}:3`);
    expect(src).toContain('vendor.js:1:10'); // no map for it: left as sent
    expect(ctx.points[0]!.fields.error_stack).toBe(stack('https://shop.example.com'));
    expect(await metric(ctx, 'telekit_rum_sourcemap_total', { status: 'ok' })).toBe(1);
  });

  it('leaves the stack as sent when the zip is missing or bad, and counts it', async () => {
    const { ctx, post } = await started();
    expect((await post(req(errorLine(stack('http://x'))))).status).toBe(200);
    expect(ctx.points[0]!.fields.error_stack_source).toBeUndefined();
    expect(await metric(ctx, 'telekit_rum_sourcemap_total', { status: 'zip_not_found' })).toBe(1);
    const other = await started();
    fs.mkdirSync(path.join(other.ctx.dataDir, 'rum', 'web'), { recursive: true });
    fs.writeFileSync(path.join(other.ctx.dataDir, 'rum', 'web', 'shop_web-prod-1.4.2.zip'), 'not a zip');
    expect((await other.post(req(errorLine(stack('http://x'))))).status).toBe(200);
    expect(other.ctx.points[0]!.fields.error_stack_source).toBeUndefined();
    expect(await metric(other.ctx, 'telekit_rum_sourcemap_total', { status: 'bad_zip' })).toBe(1);
    expect(other.ctx.errors.map((e) => e.kind)).toEqual(['sourcemap']);
  });
});

describe('rum input: random bodies', () => {
  it('answers every body with 200 or a 4xx, never throws', async () => {
    const { post } = await started();
    const unit = fc.constantFrom('view', 'error', 'app_id=a', ',', '=', ' ', '"', '\\', '\n', '\r', '1', 'i', 'u', 't', '[', '{', '}', ']', ':', '-', 'é');
    await fc.assert(
      fc.asyncProperty(fc.string({ unit, maxLength: 80 }), fc.boolean(), fc.constantFrom('ms', 'ns', 'h'), async (body, json, precision) => {
        const res = await post(req(body, { query: { precision }, headers: { 'content-type': json ? 'application/json' : 'text/plain' } }));
        expect([200, 400, 403]).toContain(res.status);
      }),
      { numRuns: 300 },
    );
  });
});

describe('rum input: session replay', () => {
  async function multipart(values: Record<string, string>, segment = 'x'.repeat(100)): Promise<{ body: Buffer; ct: string }> {
    const form = new FormData();
    form.append('segment', new Blob([segment], { type: 'application/octet-stream' }), 's-1-123');
    for (const [k, v] of Object.entries(values)) form.append(k, v);
    const r = new Request('http://x/', { method: 'POST', body: form });
    return { body: Buffer.from(await r.arrayBuffer()), ct: r.headers.get('content-type')! };
  }

  it('queues a checked segment as it came for the dataway, with its form values as tags', async () => {
    const { ctx, post } = await started();
    const { body, ct } = await multipart({ app_id: 'shop_web', env: 'prod', session_id: 's-1', view_id: 'v-1' });
    const res = await post(req(body, { path: '/v1/write/rum/replay', headers: { 'content-type': ct } }));
    expect(res.status).toBe(200);
    expect(ctx.acc.uploads).toEqual([{ kind: 'rum_replay', path: '/v1/write/rum/replay', headers: { 'content-type': ct }, body, tags: { app_id: 'shop_web', env: 'prod', session_id: 's-1', view_id: 'v-1' } }]);
  });

  it('refuses bad, oversized and unlisted replays and answers 503 when the upload queue is full', async () => {
    const { ctx, post } = await started({ max_replay_body_mb: 1, rum_app_id_white_list: ['shop_web'] });
    ctx.acc.refuse = true;
    const replay = (body: Buffer | string, ct: string) => post(req(body, { path: '/v1/write/rum/replay', headers: { 'content-type': ct } }));
    expect((await replay('hello', 'text/plain')).status).toBe(400);
    expect((await replay('--b\r\nbroken', 'multipart/form-data; boundary=b')).status).toBe(400);
    const big = await multipart({ app_id: 'shop_web' }, 'y'.repeat(1.5 * (1 << 20)));
    expect((await replay(big.body, big.ct)).status).toBe(413);
    const other = await multipart({ app_id: 'other' });
    expect((await replay(other.body, other.ct)).status).toBe(403);
    const ok = await multipart({ app_id: 'shop_web' });
    const full = await replay(ok.body, ok.ct);
    expect(full.status).toBe(503);
    expect(await metric(ctx, 'telekit_rum_requests_total', { endpoint: 'replay', result: 'bad_body' })).toBe(2);
    expect(await metric(ctx, 'telekit_rum_requests_total', { endpoint: 'replay', result: 'too_large' })).toBe(1);
    expect(await metric(ctx, 'telekit_rum_requests_total', { endpoint: 'replay', result: 'app_id_refused' })).toBe(1);
    expect(await metric(ctx, 'telekit_rum_requests_total', { endpoint: 'replay', result: 'dropped' })).toBe(1);
  });

  it('stops accepting on stop() and can start again', async () => {
    const { ctx, input } = await started();
    await input.stop();
    expect(ctx.routes.size).toBe(0);
    await input.stop();
    await input.start();
    expect([...ctx.routes.keys()].sort()).toEqual(['DELETE /v1/sourcemap', 'POST /v1/write/rum', 'POST /v1/write/rum/replay', 'PUT /v1/sourcemap']);
  });
});
});
}

describe("DataKit's agent-wide RUM settings (ENV_RUM_*, datakit.conf [http_api])", () => {
  const registry = [rum];
  const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'telekit-rum-env-'));

  it('reads ENV_RUM_ORIGIN_IP_HEADER and ENV_RUM_APP_ID_WHITE_LIST (comma-separated) into every instance that does not set them', () => {
    const confDir = tmp();
    fs.writeFileSync(path.join(confDir, 'rum.conf'), '[[inputs.rum]]\n\n[[inputs.rum]]\nendpoints = ["/b"]\nsession_replay_endpoints = []\nrum_origin_ip_header = "X-Own"\n');
    const r = loadInputs({ confDir, env: { ENV_RUM_ORIGIN_IP_HEADER: 'X-Real-Client', ENV_RUM_APP_ID_WHITE_LIST: 'shop_web, admin_web' }, registry, defaultEnabled: [] });
    expect(r.problems).toEqual([]);
    expect(r.instances.map((i) => i.config)).toMatchObject([
      { rum_origin_ip_header: 'X-Real-Client', rum_app_id_white_list: ['shop_web', 'admin_web'] },
      { rum_origin_ip_header: 'X-Own', rum_app_id_white_list: ['shop_web', 'admin_web'] }, // the instance's own option wins
    ]);
    const enabled = loadInputs({ env: { ENV_RUM_APP_ID_WHITE_LIST: 'a' }, registry, defaultEnabled: ['rum'] });
    expect(enabled.instances[0]!.config).toMatchObject({ rum_origin_ip_header: 'X-Forwarded-For', rum_app_id_white_list: ['a'] });
  });

  it("maps datakit.conf's [http_api] rum_origin_ip_header and rum_app_id_white_list; the environment wins over the file", () => {
    const dir = tmp();
    const main = path.join(dir, 'datakit.conf');
    fs.writeFileSync(main, '[http_api]\nlisten = "0.0.0.0:9529"\nrum_origin_ip_header = "CF-Connecting-IP"\nrum_app_id_white_list = ["shop_web", "admin_web"]\n\n[[inputs.rum]]\n');
    const fileEnv = loadMainFile(main).env;
    expect(fileEnv).toMatchObject({ ENV_RUM_ORIGIN_IP_HEADER: 'CF-Connecting-IP', ENV_RUM_APP_ID_WHITE_LIST: 'shop_web,admin_web' });
    const r = loadInputs({ mainFile: main, env: fileEnv, registry, defaultEnabled: [] });
    expect(r.problems).toEqual([]);
    expect(r.instances[0]!.config).toMatchObject({ rum_origin_ip_header: 'CF-Connecting-IP', rum_app_id_white_list: ['shop_web', 'admin_web'] });
    const env = loadInputs({ mainFile: main, env: { ...fileEnv, ENV_RUM_ORIGIN_IP_HEADER: 'X-From-Env' }, registry, defaultEnabled: [] });
    expect(env.instances[0]!.config).toMatchObject({ rum_origin_ip_header: 'X-From-Env' });
  });

  it('the settings take effect: the whitelist refuses, the header gives the address', async () => {
    const confDir = tmp();
    fs.writeFileSync(path.join(confDir, 'rum.conf'), `[[inputs.rum]]\nipdb_path = ${JSON.stringify(GEO_DB)}\n`);
    const r = loadInputs({ confDir, env: { ENV_RUM_ORIGIN_IP_HEADER: 'X-Client', ENV_RUM_APP_ID_WHITE_LIST: 'other_app' }, registry, defaultEnabled: [] });
    const ctx = fakeContext('rum');
    const input = new RumInput(r.instances[0]!.config as RumConfig, ctx);
    await input.start();
    const post = (x: HttpRequest) => Promise.resolve(ctx.routes.get(`POST ${x.path}`)!(x));
    const refused = await post(req(VIEW));
    expect(refused.status).toBe(403);
    expect(JSON.stringify(refused.body)).toContain('rum_app_id_white_list');
    const ok = await post(req(VIEW.replace('app_id=shop_web', 'app_id=other_app'), { headers: { 'x-client': '203.0.113.9', 'x-forwarded-for': '198.51.100.1' } }));
    expect(ok.status).toBe(200);
    expect(ctx.points[0]!.tags.ip).toBe('203.0.113.9');
    await input.stop();
  });

  it('reports a malformed variable against its name', () => {
    const r = loadInputs({ env: { ENV_RUM_APP_ID_WHITE_LIST: '["a"' }, registry, defaultEnabled: ['rum'] });
    expect(r.instances).toEqual([]);
    expect(r.problems[0]).toMatchObject({ severity: 'error', key: 'ENV_RUM_APP_ID_WHITE_LIST' });
  });
});

describe('rum input: the fast path and the general path answer alike', () => {
  const common = 'sdk_name=df_web_rum_sdk,app_id=shop_web,env=prod,version=1.4.2,session_id=s-1,userAgent=Mozilla/5.0\\ (X11;\\ Linux),view_url=https://h/a?b\\=c\\,d';
  const bodies = [
    // an SDK batch: every line starts with the same tags
    [`view,${common},view_id=v-1 loading_time=1234 ${T0}`, `resource,${common},view_id=v-1,resource_url=http://api/x resource_size=42,duration=17.5 ${T0 + 1}`, `action,${common},view_id=v-2,action_name=Pay\\ now duration=12i,ok=true ${T0 + 2}`, `long_task,${common},view_id=v-2 duration=73 ${T0 + 3}`].join('\n'),
    // quoted fields with spaces, escaped quotes and a newline; escapes in tags
    `error,${common},k=a\\,b\\=c\\ d error_message="say \\"hi\\", now",error_stack="Error: x\n  at f @ http://h/app.js:1:2" ${T0}\nview,${common} x=1 ${T0 + 1}`,
    // extra spaces, blank lines, a comment
    `view,${common}  loading_time=1   ${T0}  \n\n# note\nview,${common} loading_time=2 ${T0 + 1}`,
    // a refused measurement, a refused and a missing app_id, on the second line
    `view,${common} x=1 ${T0}\ncpu,${common} usage=1 ${T0 + 1}`,
    `view,${common} x=1 ${T0}\nview,${common.replace('app_id=shop_web', 'app_id=evil')} x=1 ${T0 + 1}`,
    `view,${common} x=1 ${T0}\nview,${common.replace('app_id=shop_web,', '')} x=1 ${T0 + 1}`,
    // malformed: a tag without a value, an unclosed string, a bad number, a location tag sent by the client
    `view,${common} x=1 ${T0}\nview,${common},k= x=1 ${T0 + 1}`,
    `view,${common} x=1 ${T0}\nview,${common} x="open ${T0 + 1}`,
    `view,${common} x=1 ${T0}\nview,${common} x=1.2.3 ${T0 + 1}`,
    `view,${common},city=Paris x=1 ${T0}`,
  ];

  it('gives the same answer and the same points for each body', async () => {
    const saved = mode;
    try {
      for (const body of bodies) {
        const answers = [];
        for (const m of MODES) {
          mode = m;
          const { ctx, input, post } = await started({ rum_app_id_white_list: ['shop_web'] });
          const res = await post(req(body, { headers: { 'x-forwarded-for': '203.0.113.7' } }));
          answers.push({ status: res.status, error: res.status === 200 ? undefined : String((res.body as { error: string }).error).replace(/^(line|point) \d+: /, ''), points: ctx.points.map((p) => ({ name: p.name, tags: p.tags, fields: p.fields, time: p.time })) });
          await input.stop();
        }
        expect(answers[1], body).toEqual(answers[0]);
      }
    } finally {
      mode = saved;
    }
  });
});

describe('rum input: the core tags on the fast path', () => {
  it('follows the core tags when they change between requests (a value, a tag added, a tag removed)', async () => {
    const saved = mode;
    mode = 'lines';
    try {
      const { ctx, input, post } = await started();
      let core: Record<string, string> = { host: 'node-a' };
      (ctx.acc as unknown as Record<string, unknown>).tagsToAdd = () => ({ ...core });
      const seen: Record<string, string>[] = [];
      const cores: Record<string, string>[] = [{ host: 'node-a' }, { host: 'node-b' }, { host: 'node-b', zone: 'z1' }, { host: 'node-b' }, { zone: 'z1' }];
      for (const next of cores) {
        core = next;
        expect((await post(req(VIEW))).status).toBe(200);
        const t = ctx.points.at(-1)!.tags;
        seen.push({ host: t.host ?? '-', zone: t.zone ?? '-' });
      }
      expect(seen).toEqual([
        { host: 'node-a', zone: '-' },
        { host: 'node-b', zone: '-' },
        { host: 'node-b', zone: 'z1' },
        { host: 'node-b', zone: '-' },
        { host: '-', zone: 'z1' },
      ]);
      await input.stop();
    } finally {
      mode = saved;
    }
  });
});
