/**
 * RUM end to end with the real browser SDKs (Guance dataflux-rum.js and
 * dataflux-logs.js from shared/clients, used as they are) in headless Chromium
 * (Debian's, installed by .ci/setup.d/chromium.sh, driven by puppeteer-core,
 * which downloads nothing).
 *
 * Page server, agent and traced backend are three origins. The SDK's
 * datakitOrigin is a small reverse proxy in front of the agent that adds
 * X-Forwarded-For, as the RUM overlay's Ingress does, so the location tags come
 * from the test mmdb. The page loads a "minified" script whose sourcemap is in
 * the agent's data dir, clicks a button that fetches from a dd-trace-instrumented
 * backend (traceType ddtrace), throws from the minified script, logs through the
 * logs SDK, and navigates; the SDK flushes on page hide.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import puppeteer, { type Browser } from 'puppeteer-core';
import { startTestAgent, tempDir, type TestAgent } from '../helpers/agent.js';
import type { RecordedPoint } from '../helpers/dataway.js';
import { spawnTraced } from '../helpers/dd-trace.js';
import { waitFor } from '../helpers/wait.js';
import { GEO_DB, MIN_JS, ORIGINAL, writeSourcemapZip } from '../../inputs/rum/testutil.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const SDK_DIR = path.resolve(ROOT, '..', 'shared', 'clients', 'guance-browser-sdk');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CLIENT_IP = '203.0.113.7';
const APP_ID = 'e2e_app';

const closers: (() => Promise<unknown> | void)[] = [];

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise((r) => (server.closeAllConnections(), server.close(r))));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A reverse proxy to the agent that sets X-Forwarded-For, like an ingress in front of a RUM agent. */
function ingress(agentUrl: string): http.Server {
  const target = new URL(agentUrl);
  return http.createServer((req, res) => {
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host, 'x-forwarded-for': CLIENT_IP } }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
}

/** The backend the page calls: dd-trace in a child process (its init is global); answers CORS for the SDK's trace headers. */
const BACKEND = `
const http = require('http');
const srv = http.createServer((req, res) => {
  res.setHeader('access-control-allow-origin', req.headers.origin || '*');
  res.setHeader('access-control-allow-headers', 'x-datadog-trace-id, x-datadog-parent-id, x-datadog-origin, x-datadog-sampling-priority');
  if (req.method === 'OPTIONS') { res.statusCode = 204; return res.end(); }
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ items: 3 }));
});
srv.listen(0, '127.0.0.1', () => process.stdout.write('PORT ' + srv.address().port + '\\n'));
`;

async function tracedBackend(agentUrl: string): Promise<string> {
  const c = spawnTraced(BACKEND, agentUrl, { DD_SERVICE: 'e2e-api', DD_ENV: 'test' }, ['ignore', 'pipe', 'ignore']);
  closers.push(() => void c.kill('SIGKILL'));
  let out = '';
  c.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  const port = await waitFor(() => /PORT (\d+)/.exec(out)?.[1], { timeoutMs: 15_000, what: 'the traced backend' });
  return `http://127.0.0.1:${port}`;
}

function page(rumOrigin: string, backend: string, title: string, json: boolean): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>
<script src="/sdk/dataflux-rum.js"></script>
<script>
  DATAFLUX_RUM.init({ applicationId: '${APP_ID}', datakitOrigin: '${rumOrigin}', env: 'test', version: '1.0.0', service: 'e2e-web',
    sessionSampleRate: 100, sessionReplaySampleRate: 0, trackInteractions: true, sendContentTypeByJson: ${json},
    traceType: 'ddtrace', allowedTracingOrigins: ['${backend}'] });
</script>
<script src="/sdk/dataflux-logs.js"></script>
<script>DATAFLUX_LOGS.init({ datakitOrigin: '${rumOrigin}', service: 'e2e-web', env: 'test', version: '1.0.0' });</script>
<script src="/static/js/app.min.js"></script>
</head><body>
<button id="pay" onclick="pay()">Pay</button>
<button id="crash" onclick="setTimeout(go)">Crash</button>
<div id="out"></div>
<script>
  window.addEventListener('error', () => { document.getElementById('out').dataset.crashed = 'yes'; });
  async function pay() {
    const r = await fetch('${backend}/api/cart');
    document.getElementById('out').textContent = 'cart:' + (await r.json()).items;
  }
  /** The JSON body form with a CORS preflight (application/json is not a simple request). */
  window.postJson = () => fetch('${rumOrigin}/v1/write/rum?precision=ms', { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify([{ measurement: 'action', tags: { app_id: '${APP_ID}', session_id: 'manual', view_id: 'manual', action_type: 'custom' }, fields: { action_name: 'json-form' }, time: Date.now() }]) }).then((r) => r.status);
  DATAFLUX_LOGS.logger.info('hello from ${title}', { page: '${title}' });
</script>
</body></html>`;
}

function pageServer(rumOrigin: string, backend: string): http.Server {
  return http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith('/sdk/')) {
      const file = path.join(SDK_DIR, path.basename(url));
      return res.writeHead(200, { 'content-type': 'text/javascript' }).end(fs.readFileSync(file));
    }
    if (url === '/static/js/app.min.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(MIN_JS);
    if (url === '/' || url === '/next') return res.writeHead(200, { 'content-type': 'text/html' }).end(page(rumOrigin, backend, url === '/' ? 'home' : 'next', false));
    res.writeHead(404).end();
  });
}

/** JSON for failure messages (points carry bigint times). */
const show = (x: unknown): string => JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
const str = (p: RecordedPoint, k: string): string | undefined => (p.tags[k] ?? (p.fields[k] === undefined ? undefined : String(p.fields[k])));

describe('browser RUM with the real SDK in headless Chromium', () => {
  let a: TestAgent;
  let browser: Browser;
  let site: string;

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run .ci/setup.d/chromium.sh`);
    if (!fs.existsSync(path.join(SDK_DIR, 'dataflux-rum.js'))) throw new Error(`the browser SDK is missing at ${SDK_DIR}`);
    const dataDir = tempDir('telekit-rum-e2e-');
    closers.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    writeSourcemapZip(dataDir, APP_ID, 'test', '1.0.0', '/static/js/app.min.js');
    a = await startTestAgent({
      dataDir,
      conf: { 'rum/rum.conf': `[[inputs.rum]]\nipdb_path = ${JSON.stringify(GEO_DB)}\n`, 'ddtrace/ddtrace.conf': '[[inputs.ddtrace]]\n' },
    });
    closers.push(() => a.stop());
    const rumOrigin = await listen(ingress(a.url));
    const backend = await tracedBackend(a.url);
    site = await listen(pageServer(rumOrigin, backend));
    browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'] });
    closers.push(() => browser.close());
  }, 30_000);

  afterAll(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });

  it('delivers view, resource, action and error points with ids, location and resolved stacks, linked to the backend trace, and browser logs', async () => {
    const tab = await browser.newPage();
    const errors: string[] = [];
    tab.on('pageerror', (e) => errors.push(String(e)));
    await tab.goto(`${site}/`, { waitUntil: 'load' });
    await tab.click('#pay');
    await tab.waitForFunction(() => document.getElementById('out')!.textContent === 'cart:3', { timeout: 10_000 });
    await tab.click('#crash');
    await tab.waitForFunction(() => document.getElementById('out')!.dataset.crashed === 'yes', { timeout: 10_000 });
    expect(await tab.evaluate(() => (window as unknown as { postJson: () => Promise<number> }).postJson())).toBe(200);
    // The SDK keeps a click action open until the page's activity settles, and drops it if the page
    // goes away first: hide the page (the SDK flushes what is complete) until the Pay action arrives.
    await waitFor(
      async () => {
        await tab.evaluate(() => {
          const set = (v: string) => Object.defineProperty(document, 'visibilityState', { value: v, configurable: true });
          set('hidden');
          document.dispatchEvent(new Event('visibilitychange'));
          set('visible');
        });
        return a.dataway.points('rum').some((p) => p.name === 'action' && str(p, 'action_name') === 'Pay');
      },
      { timeoutMs: 15_000, intervalMs: 250, what: 'the SDK\'s Pay click action at the dataway' },
    );
    // navigating away hides the page: the SDKs flush their batches (sendBeacon)
    await tab.goto(`${site}/next`, { waitUntil: 'load' });
    await tab.goto('about:blank');

    const rum = await a.dataway.waitForPoints(
      'rum',
      (p) => ['view', 'resource', 'action', 'error'].every((m) => p.some((x) => x.name === m && x.tags.session_id !== 'manual')) && new Set(p.filter((x) => x.name === 'view' && x.tags.session_id !== 'manual').map((x) => x.tags.view_id)).size >= 2, // a view is sent again at each update: wait for the second page's
      { timeoutMs: 15_000 },
    );
    const own = rum.filter((p) => p.tags.session_id !== 'manual');
    const session = own[0]!.tags.session_id!;
    for (const p of own) {
      expect(p.tags).toMatchObject({ app_id: APP_ID, session_id: session, ip: CLIENT_IP, city: 'Testville', province: 'Test Province', country: 'Testland', isp: 'Test ISP' });
      expect(p.tags.view_id).toMatch(/\S/);
    }
    const views = own.filter((p) => p.name === 'view');
    expect(new Set(views.map((v) => v.tags.view_id)).size).toBeGreaterThanOrEqual(2); // the navigation made a second view

    const action = own.find((p) => p.name === 'action' && str(p, 'action_name') === 'Pay');
    expect(action, show(own.filter((p) => p.name === 'action'))).toBeDefined();

    const error = own.find((p) => p.name === 'error' && String(p.fields.error_message ?? '').includes('boom from the app'))!;
    expect(error, show(own.filter((p) => p.name === 'error'))).toBeDefined();
    expect(String(error.fields.error_stack)).toContain('/static/js/app.min.js:1:');
    expect(String(error.fields.error_stack_source)).toContain(`${ORIGINAL.source}:${ORIGINAL.throwLine}:`);
    expect(String(error.fields.error_stack_source)).toContain(`${ORIGINAL.source}:${ORIGINAL.callLine}:`);

    const resource = own.find((p) => p.name === 'resource' && String(str(p, 'resource_url')).includes('/api/cart'))!;
    expect(resource, show(own.filter((p) => p.name === 'resource').map((p) => str(p, 'resource_url')))).toBeDefined();
    const traceId = str(resource, 'trace_id');
    expect(traceId).toMatch(/^\d+$/);
    // the dd-trace span of the backend call carries the same trace id
    const spans = await a.dataway.waitForPoints('tracing', (p) => p.some((s) => String(s.fields.trace_id ?? s.tags.trace_id) === traceId), { timeoutMs: 15_000 });
    const span = spans.find((s) => String(s.fields.trace_id ?? s.tags.trace_id) === traceId)!;
    expect(span.tags.service).toBe('e2e-api');

    // the JSON body form, posted by the page after a CORS preflight
    expect(rum.some((p) => p.tags.session_id === 'manual' && p.fields.action_name === 'json-form' && p.tags.ip === CLIENT_IP)).toBe(true);

    // the logs SDK's logger.info, through /v1/write/logging
    const logs = await a.dataway.waitForPoints('logging', (p) => p.some((l) => String(l.fields.message ?? '').includes('hello from home')), { timeoutMs: 15_000 });
    expect(logs.find((l) => String(l.fields.message).includes('hello from home'))!.tags.service).toBe('e2e-web');
    expect(errors.filter((e) => !e.includes('boom from the app'))).toEqual([]);
  }, 45_000);
});
