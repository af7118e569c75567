/**
 * Tracing end to end with the real client libraries: an HTTP app traced by
 * dd-trace (in a child process: its init is global), the OpenTelemetry SDK
 * with @opentelemetry/exporter-zipkin, and zipkin-js — through the agent's
 * HTTP server to the test dataway.
 */
import type { ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ZipkinExporter } from '@opentelemetry/exporter-zipkin';
import { context, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { spawnTraced } from '../helpers/dd-trace.js';
import type { RecordedPoint } from '../helpers/dataway.js';

const require = createRequire(import.meta.url);
const running: TestAgent[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  while (running.length) await running.pop()!.stop();
});

async function agent(): Promise<TestAgent> {
  const a = await startTestAgent({
    conf: { 'ddtrace/ddtrace.conf': '[[inputs.ddtrace]]\n', 'zipkin/zipkin.conf': '[[inputs.zipkin]]\npathV1 = "/api/v1/spans"\npathV2 = "/api/v2/spans"\n' },
  });
  running.push(a);
  return a;
}

/** The traced app: GET /outer calls /inner on itself; GET /fail answers 500. */
const APP = `
const http = require('http');
const srv = http.createServer((req, res) => {
  if (req.url === '/inner') return res.end('inner');
  if (req.url === '/fail') { res.statusCode = 500; return res.end('fail'); }
  http.get('http://127.0.0.1:' + srv.address().port + '/inner', (r) => { r.resume(); r.on('end', () => res.end('outer')); });
});
srv.listen(0, '127.0.0.1', () => {
  const base = 'http://127.0.0.1:' + srv.address().port;
  http.get(base + '/outer', (r) => { r.resume(); r.on('end', () => http.get(base + '/fail', (r2) => { r2.resume(); })); });
});
`;

function tracedApp(agentUrl: string, extraEnv: Record<string, string> = {}): ChildProcess {
  const c = spawnTraced(APP, agentUrl, { DD_SERVICE: 'e2e-app', DD_ENV: 'test', DD_VERSION: '1.0.0', ...extraEnv });
  children.push(c);
  return c;
}

function byId(pts: RecordedPoint[]): Map<string, RecordedPoint> {
  return new Map(pts.map((p) => [String(p.fields.span_id), p]));
}

for (const version of ['0.4', '0.5']) {
  describe(`ddtrace v${version} with dd-trace`, () => {
    it('delivers the spans of a traced HTTP app with ids, service, resource, duration and status', async () => {
      const a = await agent();
      tracedApp(a.url, { DD_TRACE_AGENT_PROTOCOL_VERSION: version });
      // outer: client → server → client → server (4 spans, one trace); fail: client → server
      const pts = await a.dataway.waitForPoints('tracing', (p) => p.filter((x) => x.tags.operation === 'web.request').length >= 3, { name: 'ddtrace', timeoutMs: 20_000 });
      const servers = pts.filter((p) => p.tags.operation === 'web.request');
      for (const p of pts) {
        expect(p.tags.service).toMatch(/^e2e-app/);
        expect(p.tags.env).toBe('test');
        expect(p.tags.host).toBe('test-host');
        expect(p.fields.trace_id).toMatch(/^([0-9]+|[0-9a-f]{32})$/);
        expect(Number(p.fields.duration)).toBeGreaterThan(0);
      }
      const fail = servers.find((p) => p.tags.http_status_code === '500')!;
      expect(fail.tags.status).toBe('error');
      expect(String(fail.fields.resource)).toMatch(/^GET/);
      const inner = servers.find((p) => String(p.tags.http_url ?? '').endsWith('/inner'))!;
      expect(inner.tags.status).toBe('ok');
      // the inner server span's parent is the client span of the outer request, in the same trace
      const spans = byId(pts);
      const client = spans.get(String(inner.fields.parent_id));
      expect(client, 'parent of the inner server span').toBeDefined();
      expect(client!.fields.trace_id).toBe(inner.fields.trace_id);
      const outer = spans.get(String(client!.fields.parent_id))!;
      expect(outer.tags.operation).toBe('web.request');
      expect(outer.fields.trace_id).toBe(inner.fields.trace_id);
      expect(Number(outer.fields.duration)).toBeGreaterThanOrEqual(Number(inner.fields.duration));
      expect(JSON.parse(String(inner.fields.message))).toMatchObject({ name: 'web.request' });
      // the tracer really used this protocol version
      const metrics = await (await fetch(`${a.url}/metrics`)).text();
      expect(metrics).toMatch(new RegExp(`telekit_ddtrace_requests_total\\{route="/v${version.replace('.', '\\.')}/traces",code="200",reason="ok"\\} [1-9]`));
      // in the worker threads, dd-trace's v0.4 msgpack goes through the byte-level fast path (lines.ts), v0.5 through the generic one
      const fastCount = Number(metrics.match(/^telekit_ddtrace_worker_requests_total\{path="fast"\} (\d+)/m)?.[1] ?? 0);
      const genericCount = Number(metrics.match(/^telekit_ddtrace_worker_requests_total\{path="generic"\} (\d+)/m)?.[1] ?? 0);
      if (version === '0.4') expect([fastCount, genericCount]).toEqual([expect.any(Number), 0]);
      if (version === '0.4') expect(fastCount).toBeGreaterThan(0);
      else expect(genericCount).toBeGreaterThan(0);
    }, 30_000);
  });
}

describe('zipkin with the OpenTelemetry SDK and zipkin-js', () => {
  it('delivers OpenTelemetry spans exported by @opentelemetry/exporter-zipkin', async () => {
    const a = await agent();
    const exporter = new ZipkinExporter({ url: `${a.url}/api/v2/spans` });
    const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'otel-svc' }), spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const tracer = provider.getTracer('e2e');
    const parent = tracer.startSpan('GET /checkout', { kind: SpanKind.SERVER, attributes: { 'http.method': 'GET', project: 'shop' } });
    const child = tracer.startSpan('charge', { kind: SpanKind.CLIENT }, trace.setSpan(context.active(), parent));
    child.setStatus({ code: SpanStatusCode.ERROR, message: 'card declined' });
    child.end();
    parent.end();
    await provider.forceFlush();
    const pts = await a.dataway.waitForPoints('tracing', 2, { name: 'zipkin' });
    const p = pts.find((x) => x.fields.resource === 'GET /checkout')!;
    const c = pts.find((x) => x.fields.resource === 'charge')!;
    expect(p.fields).toMatchObject({ trace_id: parent.spanContext().traceId, span_id: parent.spanContext().spanId, parent_id: '0' });
    expect(c.fields).toMatchObject({ trace_id: parent.spanContext().traceId, span_id: child.spanContext().spanId, parent_id: parent.spanContext().spanId });
    expect(p.tags).toMatchObject({ service: 'otel-svc', span_type: 'entry', status: 'ok', project: 'shop', http_method: 'GET' });
    expect(c.tags).toMatchObject({ service: 'otel-svc', span_type: 'exit', status: 'error' });
    // durations and starts in µs, as the SDK measured them
    const us = (t: [number, number]) => t[0] * 1e6 + t[1] / 1e3;
    for (const [pt, sp] of [[p, parent], [c, child]] as const) {
      const rs = sp as unknown as { duration: [number, number]; startTime: [number, number] };
      expect(Math.abs(Number(pt.fields.duration) - us(rs.duration))).toBeLessThanOrEqual(1);
      expect(Math.abs(Number(pt.fields.start) - us(rs.startTime))).toBeLessThanOrEqual(1);
    }
    expect(Number(p.fields.duration)).toBeGreaterThanOrEqual(Number(c.fields.duration));
    await provider.shutdown();
  });

  it('delivers zipkin-js spans (HttpLogger, JSON v2)', async () => {
    const a = await agent();
    const { Tracer, BatchRecorder, ExplicitContext, jsonEncoder } = require('zipkin');
    const { HttpLogger } = require('zipkin-transport-http');
    const logger = new HttpLogger({ endpoint: `${a.url}/api/v2/spans`, jsonEncoder: jsonEncoder.JSON_V2, httpInterval: 50 });
    const tracer = new Tracer({ ctxImpl: new ExplicitContext(), recorder: new BatchRecorder({ logger }), localServiceName: 'zipkin-js-svc' });
    let id: { traceId: string; spanId: string } | undefined;
    tracer.local('compute', () => {
      id = { traceId: tracer.id.traceId, spanId: tracer.id.spanId };
    });
    const pts = await a.dataway.waitForPoints('tracing', 1, { name: 'zipkin' });
    expect(pts[0]!.tags.service).toBe('zipkin-js-svc');
    expect(pts[0]!.fields).toMatchObject({ trace_id: id!.traceId, span_id: id!.spanId, resource: 'compute' });
  });
});

describe('tracing inputs as the seeds deploy them', () => {
  it('ENV_DEFAULT_ENABLED_INPUTS=…,ddtrace enables ddtrace with defaults; zipkin.conf from a ConfigMap with [inputs.zipkin.tags]', async () => {
    const a = await startTestAgent({
      env: { ENV_DEFAULT_ENABLED_INPUTS: 'statsd,ddtrace', ENV_INPUT_STATSD_SERVICE_ADDRESS: '127.0.0.1:0', ENV_GLOBAL_HOST_TAGS: 'host=__datakit_hostname,cluster_name_k8s=k8s-istio' },
      conf: { 'zipkin/zipkin.conf': '[[inputs.zipkin]]\npathV1 = "/api/v1/spans"\npathV2 = "/api/v2/spans"\n[inputs.zipkin.tags]\nmesh = "istio"\n' },
    });
    running.push(a);
    const info = await (await fetch(`${a.url}/info`)).json();
    expect(info.endpoints).toContain('/v0.4/traces');
    const fs = await import('node:fs');
    const path = await import('node:path');
    const body = fs.readFileSync(path.join(import.meta.dirname, '../../inputs/zipkin/testdata/istio/v2.json'));
    const r = await fetch(`${a.url}/api/v2/spans`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: new Uint8Array(body) });
    expect(r.status).toBe(202);
    const pts = await a.dataway.waitForPoints('tracing', 4, { name: 'zipkin' });
    const reviews = pts.find((p) => p.tags.service === 'reviews.prod' && p.tags.span_type === 'entry')!;
    expect(reviews.tags).toMatchObject({ project: 'reviews', version: 'v2', env: 'test', mesh: 'istio', cluster_name_k8s: 'k8s-istio', host: 'test-host' });
  });
});

describe('ddtrace options from the DaemonSet env', () => {
  it('ENV_INPUT_DDTRACE_SAMPLER=0 keeps only error traces; ENV_INPUT_DDTRACE_CUSTOMER_TAGS promotes meta', async () => {
    const a = await startTestAgent({ env: { ENV_DEFAULT_ENABLED_INPUTS: 'ddtrace', ENV_INPUT_DDTRACE_SAMPLER: '0', ENV_INPUT_DDTRACE_CUSTOMER_TAGS: 'team.name' } });
    running.push(a);
    const { Packr } = await import('msgpackr');
    const base = { service: 's', name: 'op', trace_id: 1n, span_id: 1n, parent_id: 0n, start: 1_732_000_000_000_000_000n, duration: 1000n, meta: { 'team.name': 'core' }, metrics: {}, type: 'web' };
    const body = new Packr({ useRecords: false }).pack([[{ ...base, resource: 'ok', error: 0 }], [{ ...base, trace_id: 2n, resource: 'bad', error: 1 }]]);
    const r = await fetch(`${a.url}/v0.4/traces`, { method: 'POST', headers: { 'content-type': 'application/msgpack' }, body: new Uint8Array(body) });
    expect(r.status).toBe(200);
    const pts = await a.dataway.waitForPoints('tracing', 1, { name: 'ddtrace' });
    const metrics = await (await fetch(`${a.url}/metrics`)).text();
    expect(metrics).toMatch(/telekit_ddtrace_spans_total\{result="sampled_out"\} 1/);
    expect(pts.map((p) => p.fields.resource)).toEqual(['bad']);
    expect(pts[0]!.tags).toMatchObject({ team_name: 'core', status: 'error' });
  });
});
