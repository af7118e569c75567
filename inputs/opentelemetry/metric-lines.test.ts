import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ValueType } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, AggregationType, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { LineBuf } from '../../agent/model/linebuf.js';
import type { TraceRequest } from '../../agent/services/trace/offthread.js';
import { MetricLineWriter } from './metric-lines.js';
import { mapMetrics, TagInterner, type MetricsRequestBody } from './metrics.js';
import { decodeBody } from './request.js';

const require = createRequire(import.meta.url);
const Req = require('otlp-proto-root/build/src/generated/root.js').opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest as {
  fromObject(o: unknown): unknown;
  encode(m: unknown): { finish(): Uint8Array };
};

const NOW = 1_700_000_000_000_000_000n;
const CORE = { host: 'node-1', cluster: 'c 1', 'a,b': 'x=y', unit: 'core-unit', service_name: 'core-svc' };

interface Lines {
  text: string;
  dropped: Record<string, number>;
  lines: number;
}

/** The generic path as the metrics worker runs it: decode, mapMetrics with the core's tags, LineBuf.point. Latin1 text: compared byte for byte. */
function generic(body: Uint8Array, tags: Record<string, string>): Lines | undefined {
  let decoded: unknown;
  try {
    decoded = decodeBody('metrics', 'application/x-protobuf', body);
  } catch {
    return undefined;
  }
  const { points, rejected } = mapMetrics(decoded as MetricsRequestBody, new TagInterner(), tags);
  const out = new LineBuf(64);
  for (const p of points) out.point(p, NOW);
  return { text: out.data.toString('latin1', 0, out.off), dropped: rejected > 0 ? { invalid: rejected } : {}, lines: out.ends.length };
}

function fast(w: MetricLineWriter, body: Uint8Array, tags: Record<string, string>): Lines | undefined {
  const out = new LineBuf(64);
  out.append('x'); // lines already in the buffer stay
  out.endLine();
  const dropped = w.write(request(body), out, tags, NOW);
  if (dropped === undefined) {
    expect(out.off).toBe(2); // nothing written when it declines
    expect(out.ends).toEqual([2]);
    return undefined;
  }
  expect(out.ends[0]).toBe(2);
  return { text: out.data.toString('latin1', 2, out.off), dropped, lines: out.ends.length - 1 };
}

const request = (body: Uint8Array): TraceRequest => ({ route: '/otel/v1/metrics', contentType: 'application/x-protobuf', headers: {}, body: Buffer.from(body) });
const encode = (o: unknown): Uint8Array => Req.encode(Req.fromObject(o)).finish();

/** The JS SDK's own export of `record`'s instruments, as its OTLP/protobuf exporters serialize it. */
async function sdkPayload(record: (p: MeterProvider) => void, temporality = AggregationTemporality.CUMULATIVE): Promise<Uint8Array> {
  class Reader extends MetricReader {
    constructor() {
      super({ aggregationTemporalitySelector: () => temporality });
    }
    protected async onForceFlush(): Promise<void> {}
    protected async onShutdown(): Promise<void> {}
  }
  const reader = new Reader();
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': 'checkout', 'service.version': '1.4.2', 'k8s.pod.name': 'checkout-7d9f8b', 'host.arch': 'amd64', 'process.pid': 4242, 'sdk.flag': true, 'cpu.share': 0.25, 'process.command_args': ['node', 'app.js'] }),
    readers: [reader],
    views: [{ instrumentName: 'exp.*', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
  });
  record(provider);
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  await provider.shutdown();
  const b = ProtobufMetricsSerializer.serializeRequest(resourceMetrics);
  if (b === undefined) throw new Error('SDK serializer gave no bytes');
  return b;
}

function recordAll(p: MeterProvider): void {
  const m = p.getMeter('checkout-meter', '1.0.0');
  const attrs = [{ 'http.route': '/api/item', 'http.request.method': 'GET', 'http.response.status_code': 200 }, { 'http.route': '/api/cart', 'http.request.method': 'POST', ok: false, ratio: 1.5, tags: ['a', 'b'] }, {}];
  const counter = m.createCounter('app.requests', { unit: '{request}' });
  const dcounter = m.createCounter('app.bytes', { unit: 'By', valueType: ValueType.DOUBLE });
  const updown = m.createUpDownCounter('app.inflight', { valueType: ValueType.INT });
  const gauge = m.createGauge('app.temperature', { unit: 'Cel' });
  const igauge = m.createGauge('app.queue_depth', { valueType: ValueType.INT });
  const hist = m.createHistogram('app.latency', { unit: 'ms', advice: { explicitBucketBoundaries: [0, 5, 10, 25, 50, 100, 250.5, 1e21] } });
  const exp = m.createHistogram('exp.size', { unit: 'By' });
  m.createObservableGauge('app.heap', { unit: 'By' }).addCallback((r) => r.observe(123_456_789, { space: 'old' }));
  attrs.forEach((a, i) => {
    counter.add(i * 3 + 1, a);
    dcounter.add(i * 1.25 + 0.5, a);
    updown.add(i - 1, a);
    gauge.record(-20.5 + i, a);
    igauge.record(i * 7, a);
    for (const v of [0.5, 3, 7, 42, 99.9, 300 + i]) hist.record(v * (i + 1), a);
    for (const v of [1, 2, 4, 1024, 0.001, 65_536 + i]) exp.record(v, a);
  });
}

describe('the OTLP/protobuf metrics fast path', () => {
  it('writes the generic path lines for the JS SDK export: sums, gauges, histograms, exponential histograms, int and double, every attribute type', async () => {
    for (const temporality of [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA]) {
      const body = await sdkPayload(recordAll, temporality);
      const w = new MetricLineWriter();
      const g = generic(body, CORE)!;
      expect(g.lines, g.text).toBeGreaterThanOrEqual(49);
      // the SDK's request is taken, twice (the second time from the series cache), and gives the same bytes
      expect(fast(w, body, CORE)).toEqual(g);
      expect(fast(w, body, CORE)).toEqual(g);
      for (const field of ['app.requests=1 ', 'app.bytes=1.75 ', 'app.inflight=-1i ', 'app.temperature=-20.5 ', 'app.queue_depth=14i ', 'app.latency_bucket=6u ', 'exp.size_avg="11094.500"', 'app.heap=123456789 ']) expect(g.text).toContain(field);
      expect(g.text).toContain('le=+Inf');
      expect(g.text).toContain(temporality === AggregationTemporality.DELTA ? '__temporality=delta' : '__temporality=cumulative');
    }
  });

  it('follows a change of the core tags', async () => {
    const body = await sdkPayload(recordAll);
    const w = new MetricLineWriter();
    expect(fast(w, body, CORE)).toEqual(generic(body, CORE));
    const other = { host: 'node-2' };
    expect(fast(w, body, other)).toEqual(generic(body, other));
  });

  // hand-made requests: every kind of data point, values present or not, NaN and infinities, every attribute type
  const STRINGS = ['GET', '', 'a,b=c d', 'quo"te\\', 'new\nline', 'ünïcödé', '😀', 'x'.repeat(300)];
  const str = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...STRINGS) }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) });
  const anyValue = fc.oneof(
    str.map((s) => ({ stringValue: s })),
    fc.boolean().map((b) => ({ boolValue: b })),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((v) => ({ intValue: v.toString() })),
    fc.double().map((v) => ({ doubleValue: v })),
    fc.constant({ arrayValue: { values: [{ stringValue: 'a' }, { intValue: 7 }] } }),
    fc.constant({ kvlistValue: { values: [{ key: 'k', value: { boolValue: true } }] } }),
    fc.constant({ bytesValue: Buffer.from('hi') }),
    fc.constant({}),
  );
  const KEYS = ['http.route', 'service.name', 'unit', 'scope_name', 'host', 'le', 'quantile', '__temporality', 'k8s.pod.name', '', 'a b', '0'];
  const attrs = fc.array(fc.record({ key: fc.oneof(fc.constantFrom(...KEYS), str), value: anyValue }, { requiredKeys: [] }), { maxLength: 5 });
  const u64 = fc.oneof(fc.constantFrom('0', '1', '1732000000100000000', '18446744073709551615', '9007199254740993'), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String));
  const dbl = fc.oneof(fc.double(), fc.constantFrom(0, -0, 1.5, 1e21, 1e-7, NaN, Infinity));
  const base = { attributes: attrs, startTimeUnixNano: u64, timeUnixNano: u64, flags: fc.constantFrom(0, 1) };
  const numberDp = fc.record({ ...base, asInt: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String), asDouble: dbl }, { requiredKeys: [] });
  const histDp = fc.record({ ...base, count: u64, sum: dbl, min: dbl, max: dbl, bucketCounts: fc.array(u64, { maxLength: 5 }), explicitBounds: fc.array(dbl, { maxLength: 4 }) }, { requiredKeys: [] });
  const expDp = fc.record({ ...base, count: u64, sum: dbl, min: dbl, max: dbl, scale: fc.integer({ min: -10, max: 20 }), zeroCount: u64, positive: fc.record({ offset: fc.integer({ min: -5, max: 5 }), bucketCounts: fc.array(u64, { maxLength: 3 }) }), zeroThreshold: dbl }, { requiredKeys: [] });
  const summaryDp = fc.record({ ...base, count: u64, sum: dbl, quantileValues: fc.array(fc.record({ quantile: dbl, value: dbl }, { requiredKeys: [] }), { maxLength: 3 }) }, { requiredKeys: [] });
  const temporality = fc.constantFrom(0, 1, 2, 3);
  const data = fc.oneof(
    fc.record({ gauge: fc.record({ dataPoints: fc.array(numberDp, { maxLength: 4 }) }) }),
    fc.record({ sum: fc.record({ dataPoints: fc.array(numberDp, { maxLength: 4 }), aggregationTemporality: temporality, isMonotonic: fc.boolean() }, { requiredKeys: ['dataPoints'] }) }),
    fc.record({ histogram: fc.record({ dataPoints: fc.array(histDp, { maxLength: 3 }), aggregationTemporality: temporality }) }),
    fc.record({ exponentialHistogram: fc.record({ dataPoints: fc.array(expDp, { maxLength: 3 }), aggregationTemporality: temporality }) }),
    fc.record({ summary: fc.record({ dataPoints: fc.array(summaryDp, { maxLength: 3 }) }) }),
    fc.constant({}),
  );
  const metric = fc.tuple(fc.record({ name: fc.oneof(fc.constantFrom('app.requests', 'a b,c=d', '', 'ü'), str), unit: fc.constantFrom('', 'ms', 'By', '{request}'), description: str }, { requiredKeys: [] }), data).map(([m, d]) => ({ ...m, ...d }));
  const exportRequest = fc.record({
    resourceMetrics: fc.array(
      fc.record(
        {
          resource: fc.record({ attributes: attrs, droppedAttributesCount: fc.constantFrom(0, 2) }, { requiredKeys: [] }),
          scopeMetrics: fc.array(fc.record({ scope: fc.record({ name: str, version: str, attributes: attrs }, { requiredKeys: [] }), metrics: fc.array(metric, { maxLength: 4 }), schemaUrl: str }, { requiredKeys: [] }), { maxLength: 3 }),
          schemaUrl: str,
        },
        { requiredKeys: [] },
      ),
      { maxLength: 3 },
    ),
  });

  it('writes the generic path lines, byte for byte, for random requests of every kind', () => {
    const w = new MetricLineWriter();
    let taken = 0;
    let runs = 0;
    fc.assert(
      fc.property(exportRequest, fc.constantFrom<Record<string, string>>(CORE, {}), (req, tags) => {
        runs++;
        const body = encode(req);
        const g = generic(body, tags);
        const f = fast(w, body, tags);
        if (f === undefined) return;
        taken++;
        expect(f).toEqual(g);
      }),
      { numRuns: Number(process.env.FC_RUNS ?? 400) },
    );
    // the fast path must take nearly all of these: nothing in them is outside its model but invalid UTF-8 in names
    expect(taken).toBeGreaterThan(runs * 0.8);
  });

  it('declines what the generic path refuses (truncated, mutated bodies) and matches it on the rest', () => {
    const w = new MetricLineWriter();
    let refused = 0;
    fc.assert(
      fc.property(exportRequest, fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 }), (req, at, cut, byte) => {
        const good = encode(req);
        if (good.length === 0) return;
        const bad = Buffer.from(good);
        bad[at % bad.length] = byte;
        for (const body of [bad, good.subarray(0, cut % good.length)]) {
          const g = generic(body, CORE);
          const f = fast(w, body, CORE);
          if (g === undefined) {
            refused++;
            expect(f).toBeUndefined();
          } else if (f !== undefined) expect(f).toEqual(g);
        }
      }),
      { numRuns: Number(process.env.FC_RUNS ?? 400) },
    );
    expect(refused).toBeGreaterThan(20);
  });

  it('declines JSON bodies and two kinds of data in one metric', () => {
    const w = new MetricLineWriter();
    const out = new LineBuf(64);
    expect(w.write({ ...request(Buffer.from('{}')), contentType: 'application/json' }, out, CORE, NOW)).toBeUndefined();
    const two = encode({ resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'x', gauge: { dataPoints: [{ asInt: 1 }] }, sum: { dataPoints: [{ asInt: 2 }] } }] }] }] });
    expect(w.write(request(two), out, CORE, NOW)).toBeUndefined();
    expect(out.off).toBe(0);
  });

  it('counts the data points it refuses as the generic path does', () => {
    const body = encode({ resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'x', gauge: { dataPoints: [{ asInt: 1 }, {}, { asDouble: NaN }] } }, { name: '', sum: { dataPoints: [{ asInt: 2 }] } }] }] }] });
    const f = fast(new MetricLineWriter(), body, CORE)!;
    expect(f.dropped).toEqual({ invalid: 3 });
    expect(f.lines).toBe(1);
    expect(f).toEqual(generic(body, CORE));
  });
});
