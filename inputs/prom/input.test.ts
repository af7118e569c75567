import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';
import client from 'prom-client';
import { waitFor } from '../../test/helpers/wait.js';
import { schema, type PromConfig } from './config.js';
import { PromDiscovery, PromInput } from './input.js';
import { fakeContext, FakePods, metricValue, validConfig } from '../../test/helpers/fake-context.js';
import { makePod } from './testutil.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serve(h: Handler): Promise<string> {
  const s = http.createServer((req, res) => void Promise.resolve(h(req, res)).catch(() => res.destroy()));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => s.close(r)));
  cleanups.push(() => s.closeAllConnections());
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

function cfg(raw: Record<string, unknown>): PromConfig {
  return validConfig(schema, raw);
}

function appRegistry(openMetrics = false) {
  const reg = new client.Registry();
  // prom-client types the registry by content type; the test switches it at run time
  if (openMetrics) (reg as unknown as client.Registry<client.OpenMetricsContentType>).setContentType(client.Registry.OPENMETRICS_CONTENT_TYPE);
  const c = new client.Counter({ name: 'myapp_requests_total', help: 'h', labelNames: ['code'], registers: [reg] });
  c.inc({ code: '200' }, 5);
  c.inc({ code: '500' }, 1);
  new client.Gauge({ name: 'myapp_queue_depth', help: 'h', registers: [reg] }).set(7);
  const h = new client.Histogram({ name: 'myapp_latency_seconds', help: 'h', buckets: [0.1, 1], registers: [reg] });
  h.observe(0.05);
  h.observe(0.5);
  const s = new client.Summary({ name: 'myapp_size_bytes', help: 'h', percentiles: [0.5, 0.9], registers: [reg] });
  s.observe(10);
  s.observe(20);
  return reg;
}

async function startInput(raw: Record<string, unknown>) {
  const ctx = fakeContext('prom', { host: { nodeName: 'node-a' } });
  const input = new PromInput(cfg(raw), ctx);
  await input.start();
  cleanups.push(() => input.stop());
  return { ctx, input };
}

describe('scraping a prom-client exposition', () => {
  for (const om of [false, true]) {
    it(`produces DataKit-shaped points (${om ? 'OpenMetrics' : 'text 0.0.4'})`, async () => {
      const reg = appRegistry(om);
      const url = await serve(async (_req, res) => {
        res.setHeader('content-type', reg.contentType);
        res.end(await reg.metrics());
      });
      const { ctx } = await startInput({ urls: [`${url}/metrics`], interval: '200ms' });
      await waitFor(() => ctx.acc.points.some((p) => p.tags.quantile === '0.9'), { what: 'summary points' });
      const pts = ctx.acc.points;
      const inst = `127.0.0.1:${new URL(url).port}`;
      const req200 = pts.find((p) => p.name === 'myapp' && p.tags.code === '200')!;
      expect(req200.tags).toEqual({ code: '200', instance: inst });
      expect(req200.fields).toEqual({ requests_total: 5 });
      const plain = pts.find((p) => p.name === 'myapp' && 'queue_depth' in p.fields)!;
      expect(plain.fields).toMatchObject({ queue_depth: 7, latency_seconds_count: 2, latency_seconds_sum: 0.55, size_bytes_count: 2, size_bytes_sum: 30 });
      expect(pts.find((p) => p.tags.le === '0.1')!.fields).toEqual({ latency_seconds_bucket: 1 });
      expect(pts.find((p) => p.tags.le === '+Inf')!.fields).toEqual({ latency_seconds_bucket: 2 });
      expect(pts.find((p) => p.tags.quantile === '0.9')!.fields).toEqual({ size_bytes: 20 });
      expect(await metricValue(ctx.metrics, 'telekit_prom_scrapes_total', { result: 'ok' })).toBeGreaterThan(0);
    });
  }

  it('sends bearer token and headers, accepts gzip, rescrapes on the interval', async () => {
    let seen: http.IncomingHttpHeaders = {};
    let hits = 0;
    const url = await serve((req, res) => {
      seen = req.headers;
      hits++;
      res.setHeader('content-encoding', 'gzip');
      res.end(zlib.gzipSync(`up_now ${hits}\n`));
    });
    const fs = await import('node:fs');
    const tokenPath = `/tmp/telekit-prom-token-${process.pid}`;
    fs.writeFileSync(tokenPath, 'secret-token\n');
    cleanups.push(() => fs.rmSync(tokenPath, { force: true }));
    const { ctx } = await startInput({ urls: [url], interval: '100ms', bearer_token_file: tokenPath, http_headers: { 'X-Org': 'a' } });
    await waitFor(() => ctx.acc.points.length >= 3, { what: 'three scrapes' });
    expect(seen.authorization).toBe('Bearer secret-token');
    expect(seen['x-org']).toBe('a');
    // each scrape sees a new body; under load a scrape can outrun its 100 ms timeout and lose its point, so the
    // values rise strictly rather than being exactly 1, 2, 3
    const nows = ctx.acc.points.map((p) => p.fields.now as number).slice(0, 3);
    expect(nows[0]).toBeGreaterThanOrEqual(1);
    expect(nows[1]!).toBeGreaterThan(nows[0]!);
    expect(nows[2]!).toBeGreaterThan(nows[1]!);
  });
});

describe('TLS and limits', () => {
  it('verifies the server with tls_ca, or skips verification when told, and fails closed otherwise', async () => {
    const https = await import('node:https');
    const fs = await import('node:fs');
    const td = (f: string) => `${import.meta.dirname}/testdata/${f}`;
    const s = https.createServer({ key: fs.readFileSync(td('tls-key.pem')), cert: fs.readFileSync(td('tls-cert.pem')) }, (_req, res) => void res.end('tls_ok 1\n'));
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => s.close(r)));
    cleanups.push(() => s.closeAllConnections());
    const url = `https://127.0.0.1:${(s.address() as AddressInfo).port}/metrics`;
    const withCa = await startInput({ urls: [url], interval: '200ms', tls_open: true, tls_ca: td('tls-cert.pem') });
    const insecure = await startInput({ urls: [url], interval: '200ms', insecure_skip_verify: true });
    const strict = await startInput({ urls: [url], interval: '200ms' });
    await waitFor(() => withCa.ctx.acc.points.length > 0 && insecure.ctx.acc.points.length > 0, { what: 'TLS scrapes' });
    expect(withCa.ctx.acc.points[0]!.fields).toEqual({ ok: 1 });
    await waitFor(async () => (await metricValue(strict.ctx.metrics, 'telekit_prom_scrape_errors_total', { reason: 'tls' })) > 0, { what: 'untrusted certificate refused' });
    expect(strict.ctx.acc.points).toHaveLength(0);
  });

  it('refuses a gzip bomb over max_body_bytes', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(4 << 20, 'a'));
    const url = await serve((_req, res) => {
      res.setHeader('content-encoding', 'gzip');
      res.end(bomb);
    });
    const { ctx } = await startInput({ urls: [url], interval: '200ms', max_body_bytes: 1 << 20 });
    await waitFor(async () => (await metricValue(ctx.metrics, 'telekit_prom_scrape_errors_total', { reason: 'too_large' })) > 0, { what: 'too_large' });
    expect(ctx.acc.points).toHaveLength(0);
  });
});

describe('failures are counted, never thrown', () => {
  it('classifies HTTP errors, refused connections, timeouts, oversize and garbage', async () => {
    const ok = await serve((req, res) => {
      if (req.url === '/500') return void res.writeHead(500).end('boom');
      if (req.url === '/slow') return; // never answers
      if (req.url === '/big') return void res.end('x_y 1\n'.repeat(2000));
      res.end('good_one 1\nthis is { not prom\nbad_val{a="1"} zzz\ngood_two{a="b"} 2\n');
    });
    const refused = 'http://127.0.0.1:1/metrics';
    const { ctx } = await startInput({ urls: [`${ok}/500`, `${ok}/slow`, `${ok}/big`, `${ok}/garbage`, refused, 'ftp://x/y'], interval: '300ms', timeout: '150ms', max_body_bytes: 4096 });
    const reasons = ['http_status', 'timeout', 'too_large', 'connect', 'invalid_url'];
    await waitFor(async () => {
      for (const r of reasons) if ((await metricValue(ctx.metrics, 'telekit_prom_scrape_errors_total', { reason: r })) === 0) return false;
      return true;
    }, { what: 'every failure reason counted' });
    // the garbage target's scrape runs on its own schedule: wait for it rather than assume it ran first
    await waitFor(async () => (await metricValue(ctx.metrics, 'telekit_prom_invalid_lines_total')) > 0, { what: 'garbage scraped' });
    expect(await metricValue(ctx.metrics, 'telekit_prom_invalid_lines_total')).toBeGreaterThanOrEqual(2);
    const good = ctx.acc.points.filter((p) => p.name === 'good');
    expect(good.some((p) => p.fields.one === 1)).toBe(true);
    expect(good.some((p) => p.fields.two === 2 && p.tags.a === 'b')).toBe(true);
  });

  it('skips ticks while the pipeline is overloaded', async () => {
    const url = await serve((_req, res) => void res.end('a_b 1\n'));
    const ctx = fakeContext('prom', { host: { nodeName: 'node-a' } });
    ctx.acc.overload = true;
    const input = new PromInput(cfg({ urls: [url], interval: '100ms' }), ctx);
    await input.start();
    cleanups.push(() => input.stop());
    await waitFor(async () => (await metricValue(ctx.metrics, 'telekit_prom_scrapes_skipped_total', { reason: 'backpressure' })) >= 2);
    expect(ctx.acc.points).toHaveLength(0);
    ctx.acc.overload = false;
    await waitFor(() => ctx.acc.points.length > 0);
  });

  it('stop() is idempotent and safe without start', async () => {
    const input = new PromInput(cfg({ urls: ['http://127.0.0.1:1/'] }), fakeContext('prom', { host: { nodeName: 'node-a' } }));
    await input.stop();
    await input.start();
    await input.stop();
    await input.stop();
  });
});

describe('pod discovery', () => {
  it('scrapes annotated Running pods and follows edits and deletion', async () => {
    let hits = 0;
    const url = await serve((_req, res) => {
      hits++;
      res.end('# TYPE istio_requests_total counter\nistio_requests_total{code="200"} 3\nother_metric 1\n');
    });
    const port = new URL(url).port;
    const pods = new FakePods();
    const ctx = fakeContext('prom', { pods, host: { nodeName: 'node-a' } });
    const d = new PromDiscovery(ctx, { podAnnotations: true, prometheusAnnotations: true, maxConcurrent: 4 });
    await d.start();
    cleanups.push(() => d.stop());
    const ann = (m: string) => `[[inputs.prom]]\nurl = "http://$IP:${port}/metrics"\ninterval = "100ms"\nmeasurement_name = "${m}"\nmetric_name_filter = ["istio_requests_total"]\n[inputs.prom.tags]\nns = "$NAMESPACE"\n`;
    pods.upsert(makePod({ name: 'details-v1-abc', namespace: 'prod', phase: 'Pending', annotations: { 'datakit/prom.instances': ann('first') } }));
    expect(d.jobKeys()).toEqual([]);
    pods.upsert(makePod({ name: 'details-v1-abc', namespace: 'prod', annotations: { 'datakit/prom.instances': ann('first') } }));
    await waitFor(() => ctx.acc.points.some((p) => p.name === 'first'), { what: 'first scrape' });
    const p = ctx.acc.points.find((x) => x.name === 'first')!;
    expect(p.tags).toEqual({ code: '200', ns: 'prod', namespace: 'prod', pod_name: 'details-v1-abc', node_name: 'node-a', deployment: 'details-v1', instance: `127.0.0.1:${port}` });
    expect(p.fields).toEqual({ istio_requests_total: 3 });
    expect(ctx.acc.points.every((x) => !('other_metric' in x.fields))).toBe(true);

    // an unrelated update (same annotation) keeps the job; an edit replaces it
    const before = d.jobKeys();
    pods.upsert(makePod({ name: 'details-v1-abc', namespace: 'prod', resourceVersion: '2', annotations: { 'datakit/prom.instances': ann('first') } }));
    expect(d.jobKeys()).toEqual(before);
    pods.upsert(makePod({ name: 'details-v1-abc', namespace: 'prod', resourceVersion: '3', annotations: { 'datakit/prom.instances': ann('second') } }));
    await waitFor(() => ctx.acc.points.some((x) => x.name === 'second'), { what: 'reconfigured scrape' });

    // prometheus.io annotations on another pod
    pods.upsert(makePod({ name: 'web-1', annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': port } }));
    await waitFor(() => ctx.acc.points.some((x) => x.name === 'other' && x.tags.pod_name === 'web-1'), { what: 'prometheus.io scrape' });
    expect(await metricValue(ctx.metrics, 'telekit_prom_targets', { kind: 'annotation' })).toBe(2);

    pods.delete('prod', 'details-v1-abc');
    pods.delete('default', 'web-1');
    expect(d.jobKeys()).toEqual([]);
    expect(await metricValue(ctx.metrics, 'telekit_prom_targets', { kind: 'annotation' })).toBe(0);
    const n = hits;
    await new Promise((r) => setTimeout(r, 300)); // a window of three intervals with nothing scheduled
    expect(hits).toBeLessThanOrEqual(n + 1); // at most one scrape already in flight
  });

  it('runs once per pod watcher even when two instances ask for it', async () => {
    const pods = new FakePods();
    const a = new PromDiscovery(fakeContext('prom', { pods, host: { nodeName: 'node-a' } }), { podAnnotations: true, prometheusAnnotations: false, maxConcurrent: 4 });
    const b = new PromDiscovery(fakeContext('prom', { pods, host: { nodeName: 'node-a' } }), { podAnnotations: true, prometheusAnnotations: false, maxConcurrent: 4 });
    await a.start();
    await b.start();
    cleanups.push(() => b.stop());
    pods.upsert(makePod({ name: 'p', annotations: { 'datakit/prom.instances': '[[inputs.prom]]\nurl = "http://$IP:1/m"\n' } }));
    expect(a.jobKeys()).toHaveLength(1);
    expect(b.jobKeys()).toHaveLength(0);
    await a.stop();
    // after a stop (reload), a new instance takes over
    const c = new PromDiscovery(fakeContext('prom', { pods, host: { nodeName: 'node-a' } }), { podAnnotations: true, prometheusAnnotations: false, maxConcurrent: 4 });
    await c.start();
    cleanups.push(() => c.stop());
    expect(c.jobKeys()).toHaveLength(1);
  });

  it('counts invalid annotations and keeps running', async () => {
    const pods = new FakePods();
    const ctx = fakeContext('prom', { pods, host: { nodeName: 'node-a' } });
    const d = new PromDiscovery(ctx, { podAnnotations: true, prometheusAnnotations: false, maxConcurrent: 4 });
    await d.start();
    cleanups.push(() => d.stop());
    pods.upsert(makePod({ name: 'bad', annotations: { 'datakit/prom.instances': '[[inputs.prom]]\ninterval = 5\nurls = 3' } }));
    expect(await metricValue(ctx.metrics, 'telekit_prom_scrape_errors_total', { reason: 'config' })).toBe(1);
    expect(d.jobKeys()).toEqual([]);
  });
});
