import { afterEach, describe, expect, it } from 'vitest';
import type { Point } from '../../model/point.js';
import { createOtlpSink, toHexId } from './otlp.js';
import type { Sink } from './types.js';
import { otlpReceiver as otlpServer } from '../../../test/helpers/otlp.js';


const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

function point(name: string, tags: Record<string, string>, fields: Point['fields']): Point {
  return { category: 'tracing', name, tags, fields, time: 1_732_000_000_000_000_000n };
}

const DD_ROOT = point('ddtrace', { service: 'web', operation: 'express.request', span_type: 'entry', status: 'ok', env: 'prod', http_method: 'GET' }, {
  trace_id: '18000000000000000001',
  span_id: '12345678901234567890',
  parent_id: '0',
  resource: 'GET /users/:id',
  start: 1_732_000_000_000_100n,
  duration: 2500n,
  message: '{"big":"json"}',
});
const DD_CHILD = point('ddtrace', { service: 'web-db', operation: 'pg.query', span_type: 'exit', status: 'error' }, {
  trace_id: '18000000000000000001',
  span_id: '42',
  parent_id: '12345678901234567890',
  resource: 'SELECT 1',
  start: 1_732_000_000_000_200n,
  duration: 1000n,
});
const ZK = point('zipkin', { service: 'productpage.prod', span_type: 'entry', status: 'ok', istio_mesh_id: 'cluster.local' }, {
  trace_id: '463ac35c9f6413ad48485a3953bb6124',
  span_id: 'a2fb4a1d1a96d312',
  parent_id: '0020000000000001',
  resource: 'productpage:9080/*',
  start: 1_732_000_000_100_000n,
  duration: 48210n,
});

describe('OTLP sink', () => {
  it('exports ddtrace and zipkin points as spans with hex ids, kinds, status and service', async () => {
    const srv = await otlpServer();
    closers.push(srv.close);
    const sink: Sink = createOtlpSink({ endpoint: srv.url });
    closers.push(() => sink.close());
    expect(sink.accepts('tracing')).toBe(true);
    expect(sink.accepts('metric')).toBe(false);
    const r = await sink.send({ category: 'tracing', points: [DD_ROOT, DD_CHILD, ZK], defaultTime: 0n });
    expect(r).toEqual({ ok: true });
    expect(srv.spans).toHaveLength(3);
    const [root, child, zk] = ['GET /users/:id', 'SELECT 1', 'productpage:9080/*'].map((n) => srv.spans.find((s) => s.name === n)!);
    expect(root).toMatchObject({ traceId: (18000000000000000001n).toString(16).padStart(32, '0'), spanId: (12345678901234567890n).toString(16), kind: 2, service: 'web' });
    expect(root!.parentSpanId ?? '').toBe('');
    expect(root!.startTimeUnixNano).toBe('1732000000000100000');
    expect(root!.endTimeUnixNano).toBe('1732000000002600000');
    expect(root!.attributes.map((a) => a.key)).not.toContain('message');
    expect(root!.attributes).toContainEqual({ key: 'env', value: { stringValue: 'prod' } });
    expect(child).toMatchObject({ spanId: '000000000000002a', parentSpanId: root!.spanId, kind: 3, status: { code: 2 }, service: 'web-db' });
    expect(zk).toMatchObject({ traceId: '463ac35c9f6413ad48485a3953bb6124', spanId: 'a2fb4a1d1a96d312', parentSpanId: '0020000000000001', service: 'productpage.prod' });
  });

  it('classifies failures: 400 permanent, 500 retryable, closed endpoint retryable', async () => {
    let code = 400;
    const srv = await otlpServer(() => code);
    closers.push(srv.close);
    const sink = createOtlpSink({ endpoint: srv.url, timeoutMs: 2000 });
    closers.push(() => sink.close());
    const batch = { category: 'tracing' as const, points: [ZK], defaultTime: 0n };
    expect(await sink.send(batch)).toMatchObject({ ok: false, retryable: false });
    code = 500;
    expect(await sink.send(batch)).toMatchObject({ ok: false, retryable: true });
    const dead = createOtlpSink({ endpoint: 'http://127.0.0.1:1/v1/traces', timeoutMs: 1000 });
    closers.push(() => dead.close());
    expect(await dead.send(batch)).toMatchObject({ ok: false, retryable: true });
  });

  it('converts ids', () => {
    expect(toHexId('255', 16, true)).toBe('00000000000000ff');
    expect(toHexId('6750a1b20000000000000000000000ff', 32, true)).toBe('6750a1b20000000000000000000000ff');
    expect(toHexId('abc', 16, false)).toBe('0000000000000abc');
    expect(toHexId('0', 16, true)).toBeUndefined();
    expect(toHexId('zz', 16, false)).toBeUndefined();
    expect(toHexId('99999999999999999999999', 16, true)).toBeUndefined();
  });
});
