/**
 * The opentelemetry input with the real OpenTelemetry JS SDK: traces over
 * OTLP/HTTP protobuf, OTLP/HTTP JSON and OTLP/gRPC; metrics (counter, gauge,
 * histogram) and logs; each mapped as DataKit maps them at the test dataway.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter as LogsHttp } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as LogsGrpc } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPMetricExporter as MetricsHttp } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as MetricsGrpc } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPTraceExporter as TraceJson } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as TraceProto } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as TraceGrpc } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { freePort } from '../helpers/wait.js';
import type { RecordedPoint } from '../helpers/dataway.js';
import { UInt } from '../../agent/model/point.js';

/** A numeric field as a number (unsigned fields decode as UInt). */
const n = (v: unknown): number => (v instanceof UInt ? Number(v.value) : Number(v));

let a: TestAgent;
let grpcUrl: string;
let stdUrl: string;

beforeAll(async () => {
  const [gp, hp] = [await freePort(), await freePort()];
  grpcUrl = `http://127.0.0.1:${gp}`;
  stdUrl = `http://127.0.0.1:${hp}`;
  const conf = `[[inputs.opentelemetry]]
  customer_tags = ["team"]
  [inputs.opentelemetry.http]
    listen = "127.0.0.1:${hp}"
  [inputs.opentelemetry.grpc]
    addr = "127.0.0.1:${gp}"
`;
  a = await startTestAgent({ conf: { 'opentelemetry/opentelemetry.conf': conf } });
});
afterAll(async () => {
  await a?.stop();
});

const resource = (service: string) => resourceFromAttributes({ 'service.name': service, 'service.version': '1.2.3', 'k8s.pod.name': 'pod-1' });

/** A server span with a client child (error, exception event) through `exporter`. */
async function sendTrace(service: string, exporter: SpanExporter): Promise<{ traceId: string; rootId: string; childId: string }> {
  const provider = new BasicTracerProvider({ resource: resource(service), spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer: Tracer = provider.getTracer('test');
  const t0 = Date.now() - 50;
  const root = tracer.startSpan('GET /checkout', { kind: SpanKind.SERVER, startTime: t0, attributes: { 'http.method': 'GET', 'http.route': '/checkout', 'http.status_code': 200, team: 'payments', 'app.secret': 'not-a-tag' } });
  const child = tracer.startSpan('SELECT orders', { kind: SpanKind.CLIENT, startTime: t0 + 5, attributes: { 'db.system': 'postgresql', 'db.statement': 'SELECT 1' } }, trace.setSpan(ROOT_CONTEXT, root));
  child.recordException(Object.assign(new Error('connection reset'), { name: 'PgError' }));
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'failed' });
  child.end(t0 + 25);
  root.end(t0 + 40);
  await provider.forceFlush();
  await provider.shutdown();
  return { traceId: root.spanContext().traceId, rootId: root.spanContext().spanId, childId: child.spanContext().spanId };
}

async function spansOf(traceId: string): Promise<RecordedPoint[]> {
  return a.dataway.waitForPoints('tracing', (p) => p.filter((x) => x.fields.trace_id === traceId).length >= 2, { name: 'opentelemetry' }).then((p) => p.filter((x) => x.fields.trace_id === traceId));
}

function expectMapping(pts: RecordedPoint[], ids: { traceId: string; rootId: string; childId: string }, service: string): void {
  const root = pts.find((p) => p.fields.span_id === ids.rootId)!;
  const child = pts.find((p) => p.fields.span_id === ids.childId)!;
  expect(root.tags).toMatchObject({ service, source: 'opentelemetry', status: 'ok', span_kind: 'server', span_type: 'entry', source_type: 'web', http_method: 'GET', http_route: '/checkout', http_status_code: '200', team: 'payments', host: 'test-host' });
  expect(root.tags['app_secret']).toBeUndefined();
  expect(root.fields).toMatchObject({ trace_id: ids.traceId, span_id: ids.rootId, parent_id: '0', resource: 'GET /checkout', duration: 40_000n });
  expect(String(root.fields.message)).toContain('app.secret');
  expect(child.tags).toMatchObject({ service, status: 'error', span_kind: 'client', source_type: 'db', db_system: 'postgresql' });
  expect(child.fields).toMatchObject({ parent_id: ids.rootId, duration: 20_000n, error_message: 'connection reset', error_type: 'PgError' });
  expect(String(child.fields.error_stack)).toContain('connection reset');
  expect(Number(root.fields.start)).toBe(Number(root.time! / 1000n));
}

describe('traces from the OpenTelemetry JS SDK', () => {
  it('over OTLP/HTTP protobuf at DataKit’s path', async () => {
    const ids = await sendTrace('svc-proto', new TraceProto({ url: `${a.url}/otel/v1/traces` }));
    expectMapping(await spansOf(ids.traceId), ids, 'svc-proto');
  });

  it('over OTLP/HTTP JSON, gzip, at the standard path on its own listener', async () => {
    const ids = await sendTrace('svc-json', new TraceJson({ url: `${stdUrl}/v1/traces`, compression: 'gzip' as never }));
    expectMapping(await spansOf(ids.traceId), ids, 'svc-json');
  });

  it('over OTLP/gRPC, gzip', async () => {
    const ids = await sendTrace('svc-grpc', new TraceGrpc({ url: grpcUrl, compression: 'gzip' as never }));
    expectMapping(await spansOf(ids.traceId), ids, 'svc-grpc');
  });
});

async function sendMetrics(service: string, exporter: MetricsHttp | MetricsGrpc): Promise<void> {
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 600_000 });
  const mp = new MeterProvider({ resource: resource(service), readers: [reader] });
  const meter = mp.getMeter('shop-meter');
  meter.createCounter('orders.placed', { unit: '{order}' }).add(5, { 'http.route': '/checkout' });
  meter.createGauge('queue.depth').record(7, { queue: 'q1' });
  const h = meter.createHistogram('req.duration', { unit: 'ms', advice: { explicitBucketBoundaries: [10, 100] } });
  for (const v of [5, 50, 500]) h.record(v);
  await mp.shutdown(); // one collection and export (forceFlush first would export twice)
}

describe('metrics from the OpenTelemetry JS SDK', () => {
  for (const [how, make] of [
    ['OTLP/HTTP JSON', () => new MetricsHttp({ url: `${a.url}/otel/v1/metrics` })],
    ['OTLP/gRPC', () => new MetricsGrpc({ url: grpcUrl })],
  ] as const) {
    it(`a counter, a gauge and a histogram over ${how} become otel_service points`, async () => {
      const service = `m-${how.includes('gRPC') ? 'grpc' : 'http'}`;
      await sendMetrics(service, make());
      const mine = (p: RecordedPoint[]) => p.filter((x) => x.tags.service_name === service);
      const pts = mine(await a.dataway.waitForPoints('metric', (p) => mine(p).length >= 6, { name: 'otel_service' }));
      const counter = pts.find((p) => 'orders.placed' in p.fields)!;
      expect(counter.tags).toMatchObject({ service_name: service, service_version: '1.2.3', k8s_pod_name: 'pod-1', scope_name: 'shop-meter', http_route: '/checkout', unit: '{order}', __temporality: 'cumulative' });
      expect(Number(counter.fields['orders.placed'])).toBe(5);
      expect(Number(pts.find((p) => 'queue.depth' in p.fields)!.fields['queue.depth'])).toBe(7);
      const stats = pts.find((p) => 'req.duration_count' in p.fields)!;
      expect(stats.fields).toMatchObject({ 'req.duration_sum': 555, 'req.duration_min': 5, 'req.duration_max': 500 });
      expect(n(stats.fields['req.duration_count'])).toBe(3);
      const buckets = pts.filter((p) => 'req.duration_bucket' in p.fields).map((p) => [p.tags.le, n(p.fields['req.duration_bucket'])]);
      expect(buckets).toEqual([['10', 1], ['100', 2], ['+Inf', 3]]);
    });
  }
});

describe('logs from the OpenTelemetry JS SDK', () => {
  for (const [how, make] of [
    ['OTLP/HTTP JSON', () => new LogsHttp({ url: `${a.url}/otel/v1/logs` })],
    ['OTLP/gRPC', () => new LogsGrpc({ url: grpcUrl })],
  ] as const) {
    it(`records over ${how} become logging points with status and trace ids`, async () => {
      const service = `l-${how.includes('gRPC') ? 'grpc' : 'http'}`;
      const lp = new LoggerProvider({ resource: resource(service), processors: [new SimpleLogRecordProcessor({ exporter: make() })] });
      const spanCtx = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 };
      const logger = lp.getLogger('app-log');
      logger.emit({ severityNumber: SeverityNumber.ERROR, severityText: 'ERROR', body: 'payment failed', attributes: { 'user.id': 'u1' }, context: trace.setSpanContext(ROOT_CONTEXT, spanCtx) });
      logger.emit({ severityNumber: SeverityNumber.INFO2, body: { order: 7 } });
      await lp.forceFlush();
      await lp.shutdown();
      const pts = await a.dataway.waitForPoints('logging', 2, { name: service });
      const err = pts.find((p) => p.fields.message === 'payment failed')!;
      expect(err.tags).toMatchObject({ service, status: 'error' });
      expect(err.fields).toMatchObject({ trace_id: spanCtx.traceId, span_id: spanCtx.spanId, user_id: 'u1', scope_name: 'app-log', service_name: service });
      const info = pts.find((p) => p.fields.message === '{"order":7}')!;
      expect(info.tags.status).toBe('info');
      expect(info.fields.trace_id).toBe('0');
    });
  }
});
