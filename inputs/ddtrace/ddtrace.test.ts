import { describe, expect, it } from 'vitest';
import { Packr } from 'msgpackr';
import { validate } from '../../agent/config/schema.js';
import { fakeContext, metricValue, validConfig } from '../../test/helpers/fake-context.js';
import { schema, type DdtraceConfig } from './config.js';
import { DdtraceInput } from './input.js';

const packr = new Packr({ useRecords: false, variableMapSize: true });
const MSGPACK = { 'content-type': 'application/msgpack' };

function config(raw: Record<string, unknown> = {}): DdtraceConfig {
  return validConfig(schema, raw);
}

async function started(raw: Record<string, unknown> = {}) {
  const ctx = fakeContext('ddtrace');
  const input = new DdtraceInput(config(raw), ctx);
  await input.start();
  return { ctx, input };
}

const T0 = 1_732_000_000_123_456_789n;

function span(over: Record<string, unknown> = {}) {
  return {
    service: 'web',
    name: 'express.request',
    resource: 'GET /users/:id',
    trace_id: 18_000_000_000_000_000_001n,
    span_id: 12_345_678_901_234_567_890n,
    parent_id: 0n,
    start: T0,
    duration: 2_500_000n,
    error: 0,
    meta: { env: 'prod', version: '1.2.3', 'http.status_code': '200', 'http.method': 'GET', 'other.key': 'x' },
    metrics: { _sampling_priority_v1: 1 },
    type: 'web',
    ...over,
  };
}

describe('ddtrace v0.4 msgpack', () => {
  it('maps a trace of two spans to tracing points with exact 64-bit ids', async () => {
    const { ctx } = await started();
    const child = span({ name: 'pg.query', resource: 'SELECT 1', span_id: 42n, parent_id: 12_345_678_901_234_567_890n, type: 'sql', service: 'web-db', meta: {}, metrics: {} });
    const res = await ctx.call('POST', '/v0.4/traces', packr.pack([[span(), child]]), MSGPACK);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ rate_by_service: { 'service:,env:': 1 } });
    expect(ctx.points).toHaveLength(2);
    const [root, db] = ctx.points;
    expect(root!.name).toBe('ddtrace');
    expect(root!.category).toBe('tracing');
    expect(root!.tags).toMatchObject({ service: 'web', operation: 'express.request', source_type: 'web', span_type: 'entry', status: 'ok', env: 'prod', version: '1.2.3', http_status_code: '200', http_method: 'GET' });
    expect(root!.tags['other_key']).toBeUndefined();
    expect(root!.fields).toMatchObject({ trace_id: '18000000000000000001', span_id: '12345678901234567890', parent_id: '0', resource: 'GET /users/:id', start: 1_732_000_000_123_456n, duration: 2500n });
    expect(root!.time).toBe(1_732_000_000_123_456_000n);
    const msg = JSON.parse(String(root!.fields.message));
    expect(msg).toMatchObject({ service: 'web', name: 'express.request', resource: 'GET /users/:id', error: 0, type: 'web', meta: { env: 'prod' }, metrics: { _sampling_priority_v1: 1 } });
    // msgpack: the message is the span's JSON written from the msgpack bytes, 64-bit ids as exact JSON numbers (as DataKit writes them)
    expect(String(root!.fields.message)).toContain('"trace_id":18000000000000000001,');
    expect(db!.tags).toMatchObject({ service: 'web-db', source_type: 'db', span_type: 'entry' });
    expect(db!.fields.parent_id).toBe('12345678901234567890');
    expect(await metricValue(ctx.metrics, 'telekit_ddtrace_spans_total', { result: 'accepted' })).toBe(2);
  });

  it('turns 64-bit ns starts into exact microseconds (no double rounding)', async () => {
    const { ctx } = await started();
    // as doubles these round up to the next µs: 1732000000123456999 / 1000 → 1732000000123457
    await ctx.call('POST', '/v0.4/traces', packr.pack([[span({ start: 1_732_000_000_123_456_999n, duration: 4_000_000_000_000_000_999n })]]), MSGPACK);
    expect(ctx.points[0]!.fields).toMatchObject({ start: 1_732_000_000_123_456n, duration: 4_000_000_000_000_000n });
    expect(ctx.points[0]!.time).toBe(1_732_000_000_123_456_000n);
  });

  it('marks local and exit spans within one service, and errors', async () => {
    const { ctx } = await started();
    const a = span({ span_id: 1n });
    const b = span({ span_id: 2n, parent_id: 1n, name: 'mid' });
    const c = span({ span_id: 3n, parent_id: 2n, name: 'leaf', error: 1, meta: { 'error.message': 'boom', 'error.stack': 'at x' } });
    await ctx.call('PUT', '/v0.4/traces', packr.pack([[a, b, c]]), MSGPACK);
    expect(ctx.points.map((p) => p.tags.span_type)).toEqual(['entry', 'local', 'exit']);
    expect(ctx.points[2]!.tags.status).toBe('error');
    expect(ctx.points[2]!.fields).toMatchObject({ error_message: 'boom', error_stack: 'at x' });
  });

  it('writes 128-bit trace ids from _dd.p.tid', async () => {
    const { ctx } = await started();
    const root = span({ trace_id: 255n, meta: { '_dd.p.tid': '6750a1b200000000' } });
    const child = span({ trace_id: 255n, span_id: 7n, parent_id: 12_345_678_901_234_567_890n, meta: {} });
    await ctx.call('POST', '/v0.4/traces', packr.pack([[root, child]]), MSGPACK);
    expect(ctx.points.map((p) => p.fields.trace_id)).toEqual(['6750a1b20000000000000000000000ff', '6750a1b20000000000000000000000ff']);
  });

  it('writes hex ids with compatible_otel', async () => {
    const { ctx } = await started({ compatible_otel: true, trace_128_bit_id: false });
    await ctx.call('POST', '/v0.4/traces', packr.pack([[span({ trace_id: 255n, span_id: 16n })]]), MSGPACK);
    expect(ctx.points[0]!.fields).toMatchObject({ trace_id: '00000000000000ff', span_id: '0000000000000010', parent_id: '0' });
  });

  it('drops traces the tracer rejected unless keep_rejected_traces', async () => {
    const { ctx } = await started();
    const payload = packr.pack([[span({ metrics: { _sampling_priority_v1: -1 } })], [span({ metrics: { _sampling_priority_v1: 0 } })], [span({ metrics: { _sampling_priority_v1: 2 } })]]);
    await ctx.call('POST', '/v0.4/traces', payload, MSGPACK);
    expect(ctx.points).toHaveLength(1);
    expect(await metricValue(ctx.metrics, 'telekit_ddtrace_spans_total', { result: 'rejected_priority' })).toBe(2);
    const k = await started({ keep_rejected_traces: true });
    await k.ctx.call('POST', '/v0.4/traces', payload, MSGPACK);
    expect(k.ctx.points).toHaveLength(3);
  });

  it('promotes customer_tags, exact and by regex, and moves long values to fields', async () => {
    const { ctx } = await started({ customer_tags: ['team.name', 'reg:^k8s\\.'] });
    const long = 'x'.repeat(2000);
    await ctx.call('POST', '/v0.4/traces', packr.pack([[span({ meta: { 'team.name': 'core', 'k8s.pod': 'p-1', 'http.url': long } })]]), MSGPACK);
    const p = ctx.points[0]!;
    expect(p.tags).toMatchObject({ team_name: 'core', k8s_pod: 'p-1' });
    expect(p.tags.http_url).toBeUndefined();
    expect(p.fields.http_url).toBe(long);
  });

  it('treats prototype names in meta and type as plain keys', async () => {
    const { ctx } = await started({ customer_tags: ['toString'] });
    await ctx.call('POST', '/v0.4/traces', packr.pack([[span({ type: 'constructor', meta: { constructor: 'x', toString: 'y', hasOwnProperty: 'z' } })]]), MSGPACK);
    const p = ctx.points[0]!;
    expect(p.tags.source_type).toBe('custom');
    expect(Object.hasOwn(p.tags, 'toString') && p.tags.toString).toBe('y');
    expect(Object.hasOwn(p.tags, 'constructor')).toBe(false);
    for (const v of Object.values(p.tags)) expect(typeof v).toBe('string');
  });

  it('applies del_message, ignore_tags and close_resource', async () => {
    const { ctx } = await started({ del_message: true, ignore_tags: ['^http_'], close_resource: { web: ['^GET /health'] } });
    await ctx.call('POST', '/v0.4/traces', packr.pack([[span()], [span({ resource: 'GET /healthz' })]]), MSGPACK);
    expect(ctx.points).toHaveLength(1);
    expect(ctx.points[0]!.fields.message).toBeUndefined();
    expect(ctx.points[0]!.tags.http_status_code).toBeUndefined();
    expect(await metricValue(ctx.metrics, 'telekit_ddtrace_spans_total', { result: 'closed' })).toBe(1);
  });
});

describe('ddtrace v0.5 and JSON', () => {
  it('decodes the v0.5 string table layout', async () => {
    const { ctx } = await started();
    const strings = ['', 'svc', 'op', 'res', 'env', 'staging', 'web', '_sampling_priority_v1'];
    const s = ['svc', 'op', 'res'].map((x) => strings.indexOf(x));
    const payload = packr.pack([strings, [[[...s, 99n, 5n, 0n, T0, 1_000_000n, 0, { 4: 5 }, { 7: 1 }, 6]]]]);
    const res = await ctx.call('POST', '/v0.5/traces', payload, MSGPACK);
    expect(res.status).toBe(200);
    expect(ctx.points).toHaveLength(1);
    expect(ctx.points[0]!.tags).toMatchObject({ service: 'svc', operation: 'op', env: 'staging', source_type: 'web' });
    expect(ctx.points[0]!.fields).toMatchObject({ trace_id: '99', span_id: '5', resource: 'res', duration: 1000n });
  });

  it('takes JSON on v0.3 keeping 64-bit ids exact, answering OK', async () => {
    const { ctx } = await started();
    const body = '[[{"service":"j","name":"n","resource":"r","trace_id":18446744073709551615,"span_id":9007199254740993,"parent_id":0,"start":1732000000000000000,"duration":1000,"error":0,"meta":{},"metrics":{},"type":"custom"}]]';
    const res = await ctx.call('POST', '/v0.3/traces', body, { 'content-type': 'application/json' });
    expect(res).toMatchObject({ status: 200, body: 'OK' });
    expect(ctx.points[0]!.fields).toMatchObject({ trace_id: '18446744073709551615', span_id: '9007199254740993' });
  });
});

describe('ddtrace bad input and discovery', () => {
  it('answers malformed payloads with 4xx and a reason, counted', async () => {
    const { ctx } = await started();
    const cases: [string, Buffer | string, Record<string, string>, number][] = [
      ['/v0.4/traces', Buffer.from([0x91, 0x92, 0xc1]), MSGPACK, 400],
      ['/v0.4/traces', packr.pack([[span()]]).subarray(0, 40), MSGPACK, 400],
      ['/v0.4/traces', packr.pack({ not: 'traces' }), MSGPACK, 400],
      ['/v0.4/traces', packr.pack([[1, 2]]), MSGPACK, 400],
      ['/v0.3/traces', '[[{"service":', { 'content-type': 'application/json' }, 400],
      ['/v0.5/traces', packr.pack([[], [[[1, 2, 3]]]]), MSGPACK, 400],
      ['/v0.5/traces', packr.pack([['a'], [[[0, 0, 9, 1, 1, 0, 1, 1, 0, {}, {}, 0]]]]), MSGPACK, 400],
      ['/v0.5/traces', '[]', { 'content-type': 'text/plain' }, 415],
    ];
    for (const [path, body, headers, status] of cases) {
      const r = await ctx.call('POST', path, body, headers);
      expect(r.status, `${path} ${String(body).slice(0, 20)}`).toBe(status);
      expect(String(r.body).length).toBeGreaterThan(5);
    }
    expect(ctx.points).toHaveLength(0);
    expect(await metricValue(ctx.metrics, 'telekit_ddtrace_requests_total', { reason: 'bad_payload' })).toBe(7);
    expect(await metricValue(ctx.metrics, 'telekit_ddtrace_requests_total', { code: '415' })).toBe(1);
    expect(ctx.errors).toEqual([]);
  });

  it('answers 503 with Retry-After while the tracing queue is full', async () => {
    const { ctx } = await started();
    ctx.acc.overload = ctx.acc.refuse = true;
    const r = await ctx.call('POST', '/v0.4/traces', packr.pack([[span()]]), MSGPACK);
    expect(r.status).toBe(503);
    expect(r.headers?.['retry-after']).toBe('1');
  });

  it('answers 503 when the queue refuses the spans (all or none), counted', async () => {
    const { ctx } = await started();
    ctx.acc.refuse = true;
    const r = await ctx.call('POST', '/v0.4/traces', packr.pack([[span(), span({ span_id: 9n })]]), MSGPACK);
    expect(r.status).toBe(503);
    expect(r.headers?.['retry-after']).toBe('1');
    expect(await metricValue(ctx.metrics, 'telekit_ddtrace_spans_total', { result: 'queue_full' })).toBe(2);
    expect(await metricValue(ctx.metrics, 'telekit_ddtrace_requests_total', { code: '503', reason: 'queue_full' })).toBe(1);
    // right after a refusal, requests are refused before decoding; shortly after, accepted again
    ctx.acc.refuse = false;
    const body = packr.pack([[span()]]);
    expect((await ctx.call('POST', '/v0.4/traces', body, MSGPACK)).status).toBe(503);
    const t0 = Date.now();
    let status = 503;
    while (status === 503 && Date.now() - t0 < 2000) {
      await new Promise((r) => setTimeout(r, 10));
      status = (await ctx.call('POST', '/v0.4/traces', body, MSGPACK)).status;
    }
    expect(status).toBe(200);
    expect(ctx.points).toHaveLength(1);
  });

  it('answers /info with the endpoints, and unregisters everything on stop', async () => {
    const { ctx, input } = await started();
    const r = await ctx.call('GET', '/info', '');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ endpoints: expect.arrayContaining(['/v0.4/traces', '/v0.5/traces']), client_drop_p0s: true });
    await input.stop();
    await input.stop();
    expect(ctx.routes.size).toBe(0);
    await input.start();
    expect(ctx.routes.size).toBeGreaterThan(0);
  });
});

describe('ddtrace sample.conf and README', () => {
  it('validates against the schema and is inlined in the README', async () => {
    const fs = await import('node:fs');
    const path = await import('node:path');
    const toml = (await import('toml')).default;
    const sample = fs.readFileSync(path.join(import.meta.dirname, 'sample.conf'), 'utf8');
    const raw = toml.parse(sample).inputs.ddtrace[0];
    expect(validate(schema, raw).ok).toBe(true);
    expect(fs.readFileSync(path.join(import.meta.dirname, 'README.md'), 'utf8')).toContain(sample);
  });
});

describe('ddtrace DataKit options', () => {
  it('trace_max_spans truncates long traces (counted); -1 removes the limit', async () => {
    const many = Array.from({ length: 5 }, (_, i) => span({ span_id: BigInt(i + 1), parent_id: i === 0 ? 0n : 1n }));
    const { ctx } = await started({ trace_max_spans: 3 });
    await ctx.call('POST', '/v0.4/traces', packr.pack([many]), MSGPACK);
    expect(ctx.points).toHaveLength(3);
    expect(await metricValue(ctx.metrics, 'telekit_ddtrace_spans_total', { result: 'truncated' })).toBe(2);
    const u = await started({ trace_max_spans: -1 });
    await u.ctx.call('POST', '/v0.4/traces', packr.pack([many]), MSGPACK);
    expect(u.ctx.points).toHaveLength(5);
  });

  it('accepts DataKit threads/storage tables, answers tracer telemetry, writes hex 64-bit ids on request', async () => {
    const { ctx } = await started({ threads: { buffer: 100, threads: 8 }, storage: { path: './ddtrace_storage', capacity: 5120 }, trace_id_64_bit_hex: true, trace_128_bit_id: false });
    expect((await ctx.call('POST', '/telemetry/proxy/api/v2/apmtelemetry', '{}')).status).toBe(202);
    await ctx.call('POST', '/v0.4/traces', packr.pack([[span({ trace_id: 255n })]]), MSGPACK);
    expect(ctx.points[0]!.fields.trace_id).toBe('00000000000000ff');
    expect(ctx.points[0]!.fields.span_id).toBe('12345678901234567890');
  });

  it('a span without start gets no time (the core stamps it)', async () => {
    const { ctx } = await started();
    await ctx.call('POST', '/v0.4/traces', packr.pack([[span({ start: 0 })]]), MSGPACK);
    expect(ctx.points[0]!.time).toBeUndefined();
  });
});
