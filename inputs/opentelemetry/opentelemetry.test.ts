import fs from 'node:fs';
import http2 from 'node:http2';
import path from 'node:path';
import zlib from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeContext, type FakeContext } from '../../test/helpers/fake-context.js';
import { decodeOtlpResponse, encodeOtlp } from '../../test/helpers/otlp-encode.js';
import { loadInputs } from '../../agent/config/load.js';
import { inputs as registry } from '../index.js';
import type { Point } from '../../agent/model/point.js';
import { schema, type OtelConfig } from './config.js';
import { OtelInput } from './input.js';
import { mapMetrics } from './metrics.js';
import { SESSION_WINDOW, STREAM_WINDOW } from './grpc.js';
import { logStatus } from './logs.js';

const TESTDATA = path.join(import.meta.dirname, 'testdata');
const ISTIO = JSON.parse(fs.readFileSync(path.join(TESTDATA, 'istio/otlp.json'), 'utf8')) as unknown;
const ZIPKIN_GOLDEN = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '../zipkin/testdata/istio/expected.json'), 'utf8')) as { tags: Record<string, string>; fields: Record<string, unknown> }[];

function config(over: Record<string, unknown> = {}): OtelConfig {
  const issues: { key: string; message: string }[] = [];
  const c = schema.parse({ grpc: { addr: '' }, workers: -1, ...over }, '', issues);
  expect(issues).toEqual([]);
  return c as OtelConfig;
}

let started: OtelInput[] = [];
afterEach(async () => {
  for (const i of started) await i.stop();
  started = [];
});

async function input(over: Record<string, unknown> = {}): Promise<{ i: OtelInput; ctx: FakeContext }> {
  const ctx = fakeContext('opentelemetry');
  const i = new OtelInput(config(over), ctx);
  await i.start();
  started.push(i);
  return { i, ctx };
}

const post = (ctx: FakeContext, p: string, ct: string, body: Buffer | string, headers: Record<string, string> = {}) => ctx.call('POST', p, body, { 'content-type': ct, ...headers });

async function metricValue(ctx: FakeContext, name: string, labels: Record<string, string>): Promise<number> {
  const m = (await ctx.metrics.getSingleMetric(name)!.get()).values;
  return m.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0);
}

describe('an Envoy/Istio sidecar\'s OTLP request', () => {
  it('maps like the zipkin istio golden case (customer_tags_all), the same from JSON and protobuf', async () => {
    const { ctx } = await input({ customer_tags_all: true });
    expect((await post(ctx, '/otel/v1/traces', 'application/json', JSON.stringify(ISTIO))).status).toBe(200);
    const fromJson = ctx.points.splice(0);
    expect((await post(ctx, '/otel/v1/traces', 'application/x-protobuf', encodeOtlp('traces', ISTIO))).status).toBe(200);
    const fromPb = ctx.points.splice(0);
    expect(fromPb).toEqual(fromJson);
    expect(fromJson.length).toBe(3);
    const bySpan = (id: string): Point => fromJson.find((p) => p.fields.span_id === id)!;
    for (const [i, id] of [[0, 'a2fb4a1d1a96d312'], [1, '0020000000000001']] as const) {
      const g = ZIPKIN_GOLDEN[i]!;
      const p = bySpan(id);
      for (const [k, v] of Object.entries(g.tags)) if (k !== 'source' && k !== 'source_type') expect(p.tags[k], k).toBe(v);
      for (const k of ['trace_id', 'span_id', 'parent_id', 'resource']) expect(p.fields[k], k).toBe(g.fields[k]);
      for (const k of ['start', 'duration']) expect(String(p.fields[k]) + 'i', k).toBe(g.fields[k]);
      expect(p.tags).toMatchObject({ source: 'opentelemetry', source_type: 'web', k8s_namespace_name: 'prod', k8s_pod_name: 'productpage-v1-5d9f8b7c6-abcde' });
    }
    expect(bySpan('0030000000000001').tags).toMatchObject({ service: 'reviews.prod', span_type: 'entry', status: 'error', span_kind: 'server', project: 'reviews', version: 'v2', env: 'test', istio_canonical_service: 'reviews' });
  });

  it('with DataKit\'s default promotion only the fixed keys become tags; the rest stays in the message', async () => {
    const { ctx } = await input({ customer_tags: ['reg:^istio\\.'] });
    await post(ctx, '/otel/v1/traces', 'application/json', JSON.stringify(ISTIO));
    const p = ctx.points.find((x) => x.fields.span_id === 'a2fb4a1d1a96d312')!;
    expect(p.tags).toMatchObject({ http_method: 'GET', http_url: 'http://productpage.prod:9080/productpage', http_status_code: '200', istio_canonical_service: 'productpage', span_kind: 'server' });
    expect(p.tags.component).toBeUndefined();
    expect(p.tags.k8s_pod_name).toBeUndefined();
    const msg = JSON.parse(String(p.fields.message)) as { attributes: { key: string }[] };
    expect(msg.attributes.map((a) => a.key)).toEqual(expect.arrayContaining(['component', 'k8s.pod.name', 'user_agent']));
  });
});

describe('OTLP/HTTP answers', () => {
  it('success is an Export*ServiceResponse in the request\'s encoding; bad ids give a partial success', async () => {
    const { ctx } = await input({ http: { http_status_ok: 202 } });
    const bad = structuredClone(ISTIO) as { resourceSpans: { scopeSpans: { spans: { spanId: string }[] }[] }[] };
    bad.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.spanId = '';
    let r = await post(ctx, '/otel/v1/traces', 'application/x-protobuf', encodeOtlp('traces', bad));
    expect(r.status).toBe(202);
    expect(r.headers?.['content-type']).toBe('application/x-protobuf');
    expect(decodeOtlpResponse('traces', r.body as Buffer)).toMatchObject({ partialSuccess: { rejectedSpans: 1, errorMessage: expect.stringContaining('span_id') } });
    expect(ctx.points.length).toBe(2);
    r = await post(ctx, '/otel/v1/traces', 'application/json', JSON.stringify(ISTIO));
    expect(r.body).toBe('{}');
    expect(await metricValue(ctx, 'telekit_opentelemetry_spans_total', { result: 'invalid' })).toBe(1);
  });

  it('refuses bad input with 4xx and a reason, counted by reason', async () => {
    const { ctx } = await input({ expected_headers: { 'x-env': 'prod' } });
    const h = { 'x-env': 'prod' };
    const cases: [string, string, Buffer | string, Record<string, string>, number, string][] = [
      ['/otel/v1/traces', 'text/plain', 'x', h, 415, 'unsupported_media_type'],
      ['/otel/v1/metrics', '', 'x', h, 415, 'unsupported_media_type'],
      ['/otel/v1/traces', 'application/x-protobuf', Buffer.from([0x0a, 0xff, 0xff, 0x01]), h, 400, 'bad_payload'],
      ['/otel/v1/traces', 'application/x-protobuf', encodeOtlp('traces', ISTIO).subarray(0, 50), h, 400, 'bad_payload'],
      ['/otel/v1/metrics', 'application/x-protobuf', Buffer.from([0xff, 0xff, 0xff]), h, 400, 'bad_payload'],
      ['/otel/v1/logs', 'application/json', '{"resourceLogs": [', h, 400, 'bad_payload'],
      ['/otel/v1/logs', 'application/json', '[1,2]', h, 400, 'bad_payload'],
      ['/otel/v1/traces', 'application/json', JSON.stringify(ISTIO), {}, 400, 'missing_header'],
    ];
    for (const [p, ct, body, headers, status, reason] of cases) {
      const r = await post(ctx, p, ct, body, headers);
      expect(r.status, `${p} ${ct} ${reason}`).toBe(status);
      expect(String(r.body).length, 'a reason').toBeGreaterThan(10);
      expect(await metricValue(ctx, 'telekit_opentelemetry_requests_total', { route: p, code: String(status), reason }), `${p} ${reason} counted`).toBeGreaterThan(0);
    }
    // an error in protobuf is a google.rpc.Status (field 2: the message)
    const r = await post(ctx, '/otel/v1/traces', 'application/x-protobuf', Buffer.from([0x0a, 0xff, 0xff, 0x01]), h);
    expect(r.headers?.['content-type']).toBe('application/x-protobuf');
    expect((r.body as Buffer).toString('latin1')).toContain('invalid OTLP traces protobuf');
    expect(ctx.points).toEqual([]);
    expect(ctx.errors).toEqual([]);
  });

  it('back-pressure: 503 + Retry-After while the queue is over capacity or refuses, nothing taken', async () => {
    const { ctx } = await input();
    const metrics = encodeOtlp('metrics', { resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'm', gauge: { dataPoints: [{ asDouble: 1 }] } }] }] }] });
    ctx.acc.overload = true;
    for (const [p, body] of [['/otel/v1/traces', encodeOtlp('traces', ISTIO)], ['/otel/v1/metrics', metrics]] as const) {
      const r = await post(ctx, p, 'application/x-protobuf', body);
      expect(r.status).toBe(503);
      expect(r.headers?.['retry-after']).toBe('1');
    }
    ctx.acc.overload = false;
    ctx.acc.refuse = true;
    const r = await post(ctx, '/otel/v1/metrics', 'application/json', JSON.stringify({ resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'm', gauge: { dataPoints: [{ asInt: '3' }] } }] }] }] }));
    expect(r.status).toBe(503);
    expect(JSON.parse(String(r.body))).toMatchObject({ code: 14, message: expect.stringContaining('queue is full') });
    expect(await metricValue(ctx, 'telekit_opentelemetry_points_total', { signal: 'metrics', result: 'queue_full' })).toBe(1);
    expect(ctx.points).toEqual([]);
  });
});

describe('OTLP/gRPC', () => {
  const traceMethod = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
  function call(port: number, method: string, body: Buffer, md = new grpc.Metadata()): Promise<{ err: grpc.ServiceError | null; res?: Buffer }> {
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.default_compression_algorithm': 2 });
    return new Promise((resolve) => {
      client.makeUnaryRequest(method, (b: Buffer) => b, (b: Buffer) => b, body, md, (err, res) => {
        client.close();
        resolve({ err, res });
      });
    });
  }

  it('answers Export (gzip) with the response, INVALID_ARGUMENT for garbage, UNAVAILABLE + RetryInfo under back-pressure', async () => {
    const { i, ctx } = await input({ grpc: { addr: '127.0.0.1:0', max_payload: 64 * 1024 } });
    const port = i.grpcPort!;
    let r = await call(port, traceMethod, encodeOtlp('traces', ISTIO));
    expect(r.err).toBeNull();
    expect(r.res!.length).toBe(0);
    expect(ctx.points.length).toBe(3);
    r = await call(port, traceMethod, Buffer.from([0x0a, 0xff, 0xff, 0x01]));
    expect(r.err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(r.err?.details).toContain('invalid OTLP traces protobuf');
    // over max_payload: refused and counted by the input, metrics and logs alike
    r = await call(port, traceMethod, Buffer.alloc(100 * 1024, 1));
    expect(r.err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(r.err?.details).toContain('exceeds max_payload');
    r = await call(port, '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export', Buffer.alloc(64 * 1024 + 1, 1));
    expect(r.err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(await metricValue(ctx, 'telekit_opentelemetry_requests_total', { route: 'grpc:traces', code: '413', reason: 'too_large' })).toBe(1);
    expect(await metricValue(ctx, 'telekit_opentelemetry_requests_total', { route: 'grpc:metrics', code: '413', reason: 'too_large' })).toBe(1);
    // over grpc-js's own ceiling (twice max_payload here): still refused, before the input
    r = await call(port, traceMethod, Buffer.alloc(200 * 1024, 1));
    expect(r.err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(await metricValue(ctx, 'telekit_opentelemetry_requests_total', { route: 'grpc:traces', code: '413', reason: 'too_large' })).toBe(1);
    ctx.acc.overload = true;
    r = await call(port, '/opentelemetry.proto.collector.logs.v1.LogsService/Export', encodeOtlp('logs', { resourceLogs: [] }));
    expect(r.err?.code).toBe(grpc.status.UNAVAILABLE);
    const details = r.err!.metadata.get('grpc-status-details-bin')[0] as Buffer;
    expect(details.toString('latin1')).toContain('type.googleapis.com/google.rpc.RetryInfo');
    expect(await metricValue(ctx, 'telekit_opentelemetry_requests_total', { route: 'grpc:traces', code: '400', reason: 'bad_payload' })).toBe(1);
    expect(await metricValue(ctx, 'telekit_opentelemetry_requests_total', { route: 'grpc:logs', code: '503' })).toBe(1);
  });
});

describe('OTLP/gRPC receive windows', () => {
  it('a client may send 1 MiB a call and 4 MiB a connection before it waits for a WINDOW_UPDATE (Node\'s default: 64 KiB each)', async () => {
    const { i } = await input({ grpc: { addr: '127.0.0.1:0' } });
    const session = http2.connect(`http://127.0.0.1:${i.grpcPort!}`);
    try {
      const settings = await new Promise<http2.Settings>((resolve, reject) => {
        session.once('remoteSettings', resolve);
        session.once('error', reject);
      });
      expect(settings.initialWindowSize).toBe(STREAM_WINDOW);
      // the server widens the connection window as the session starts: its WINDOW_UPDATE is in before its PING ack
      await new Promise<void>((resolve, reject) => session.ping((err) => (err ? reject(err) : resolve())));
      expect(session.state.remoteWindowSize).toBe(SESSION_WINDOW);
    } finally {
      session.destroy();
    }
  });
});

describe('metrics and logs mapping', () => {
  it('summaries and exponential histograms are kept, not dropped', () => {
    const { points, rejected } = mapMetrics({
      resourceMetrics: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 's' } }] }, scopeMetrics: [{ scope: { name: 'sc' }, metrics: [
        { name: 'lat', summary: { dataPoints: [{ count: '4', sum: 10, quantileValues: [{ quantile: 0.5, value: 2 }, { quantile: 0.99, value: 5 }] }] } },
        { name: 'size', exponentialHistogram: { dataPoints: [{ count: '2', sum: 3, min: 1, max: 2, scale: 1 }] } },
        { name: 'nov', gauge: { dataPoints: [{}] } },
      ] }] }],
    });
    expect(rejected).toBe(1);
    expect(points.map((p) => [p.tags.quantile, p.fields])).toEqual([
      [undefined, { lat_count: expect.anything(), lat_sum: 10 }],
      ['0.5', { lat: 2 }],
      ['0.99', { lat: 5 }],
      [undefined, { size_count: expect.anything(), size_sum: 3, size_min: 1, size_max: 2, size_avg: '1.500' }],
    ]);
    expect(points[0]).toMatchObject({ category: 'metric', name: 'otel_service', tags: { service_name: 's', scope_name: 'sc' } });
  });

  it('log severity → status as DataKit maps it', () => {
    expect([1, 5, 9, 12, 13, 17, 21, 24].map((n) => logStatus(n, undefined))).toEqual(['trace', 'debug', 'info', 'info', 'warn', 'error', 'fatal', 'fatal']);
    expect(logStatus(0, 'NOTICE')).toBe('notice');
    expect(logStatus(undefined, undefined)).toBe('unknown');
    expect(logStatus('SEVERITY_NUMBER_WARN2', undefined)).toBe('warn');
  });

  it('a long log body is split at log_max KiB; measurement from log.source', async () => {
    const { ctx } = await input({ log_max: 1 });
    const body = { resourceLogs: [{ resource: { attributes: [{ key: 'log.source', value: { stringValue: 'nginx' } }] }, scopeLogs: [{ logRecords: [{ timeUnixNano: '1732000000000000000', body: { stringValue: 'x'.repeat(2500) } }] }] }] };
    const r = await post(ctx, '/otel/v1/logs', 'application/x-protobuf', zlib.gunzipSync(zlib.gzipSync(encodeOtlp('logs', body))));
    expect(r.status).toBe(200);
    expect(ctx.points.map((p) => [p.name, String(p.fields.message).length, p.time])).toEqual([
      ['nginx', 1024, 1732000000000000000n],
      ['nginx', 1024, 1732000000001000000n],
      ['nginx', 452, 1732000000002000000n],
    ]);
    expect(ctx.points[0]!.tags).toMatchObject({ service: 'unSetServiceName', status: 'unknown' });
  });
});

describe('configuration', () => {
  it('reads DataKit\'s ENV_INPUT_OTEL_* variables', () => {
    const r = loadInputs({
      env: { ENV_INPUT_OTEL_CUSTOMER_TAGS: '["project_id"]', ENV_INPUT_OTEL_SAMPLER: '0.5', ENV_INPUT_OTEL_GRPC: '{"addr":"127.0.0.1:14317"}', ENV_INPUT_OTEL_HTTP: '{"trace_api":"/t"}', ENV_INPUT_OTEL_COMPATIBLE_DDTRACE: 'true', ENV_INPUT_OTEL_EXPECTED_HEADERS: '{"ex_version":"1"}' },
      registry,
      defaultEnabled: ['opentelemetry'],
    });
    expect(r.problems).toEqual([]);
    expect(r.instances[0]!.config).toMatchObject({ customer_tags: ['project_id'], sampler: { sampling_rate: 0.5 }, grpc: { addr: '127.0.0.1:14317', trace_enable: true }, http: { trace_api: '/t', metric_api: '/otel/v1/metrics' }, compatible_ddtrace: true, expected_headers: { ex_version: '1' } });
  });
});
