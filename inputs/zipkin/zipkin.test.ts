import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { validate } from '../../agent/config/schema.js';
import type { Point } from '../../agent/model/point.js';
import { fakeContext, metricValue, validConfig } from '../../test/helpers/fake-context.js';
import { schema, type ZipkinConfig } from './config.js';
import { ZipkinInput } from './input.js';
import { ListOfSpans } from './proto.js';
import { splitJsonArrayRanges } from './json-split.js';

/** Each element's text, from splitJsonArrayRanges' offsets. */
function splitJsonArray(t: string): string[] | undefined {
  const r = splitJsonArrayRanges(t);
  return r && Array.from({ length: r.length / 2 }, (_, k) => t.slice(r[2 * k], r[2 * k + 1]));
}

const TESTDATA = path.join(import.meta.dirname, 'testdata');
const UPDATE = process.env.GOLDEN_UPDATE === '1';
const JSON_CT = { 'content-type': 'application/json' };
const PB_CT = { 'content-type': 'application/x-protobuf' };

function config(raw: Record<string, unknown> = {}): ZipkinConfig {
  return validConfig(schema, raw);
}

async function started(raw: Record<string, unknown> = {}) {
  const ctx = fakeContext('zipkin');
  const input = new ZipkinInput(config(raw), ctx);
  await input.start();
  return { ctx, input };
}

/** Encodes v2 JSON spans as proto3 ListOfSpans (the test's own encoder, independent of the decoder). */
export function encodeV2Proto(spans: Record<string, any>[]): Buffer {
  const id = (h?: string) => (h ? Buffer.from(h, 'hex') : undefined);
  const ep = (e?: Record<string, any>) =>
    e && { service_name: e.serviceName, ipv4: e.ipv4 ? Buffer.from(e.ipv4.split('.').map(Number)) : undefined, port: e.port };
  const kinds: Record<string, number> = { CLIENT: 1, SERVER: 2, PRODUCER: 3, CONSUMER: 4 };
  const msg = ListOfSpans.fromObject({
    spans: spans.map((s) => ({
      trace_id: id(s.traceId),
      parent_id: id(s.parentId),
      id: id(s.id),
      kind: s.kind ? kinds[s.kind] : 0,
      name: s.name,
      timestamp: s.timestamp,
      duration: s.duration,
      local_endpoint: ep(s.localEndpoint),
      remote_endpoint: ep(s.remoteEndpoint),
      annotations: s.annotations,
      tags: s.tags,
      shared: s.shared,
    })),
  });
  return Buffer.from(ListOfSpans.encode(msg).finish());
}

/** Points as plain JSON (bigints as strings), message parsed, for golden comparison. */
function plain(points: Point[]): unknown[] {
  return points.map((p) => ({
    name: p.name,
    time: String(p.time),
    tags: p.tags,
    fields: Object.fromEntries(Object.entries(p.fields).map(([k, v]) => [k, k === 'message' ? JSON.parse(String(v)) : typeof v === 'bigint' ? `${v}i` : v])),
  }));
}

describe('zipkin v2: Envoy/Istio payload (golden)', () => {
  const json = fs.readFileSync(path.join(TESTDATA, 'istio/v2.json'), 'utf8');
  const pbFile = path.join(TESTDATA, 'istio/v2.pb');
  const expectedFile = path.join(TESTDATA, 'istio/expected.json');
  if (UPDATE) fs.writeFileSync(pbFile, encodeV2Proto(JSON.parse(json)));

  it('maps B3 ids, shared CLIENT/SERVER spans, endpoints, istio.* and custom tags', async () => {
    const { ctx } = await started();
    const r = await ctx.call('POST', '/api/v2/spans', json, JSON_CT);
    expect(r.status).toBe(202);
    const got = plain(ctx.points);
    if (UPDATE) fs.writeFileSync(expectedFile, JSON.stringify(got, null, 1) + '\n');
    expect(got).toEqual(JSON.parse(fs.readFileSync(expectedFile, 'utf8')));
    // The facts the golden file pins, spelled out:
    const [server, client, shared, leaf] = ctx.points;
    expect(server!.fields).toMatchObject({ trace_id: '463ac35c9f6413ad48485a3953bb6124', span_id: 'a2fb4a1d1a96d312', parent_id: '0', start: 1732000000100000n, duration: 48210n });
    expect(server!.tags).toMatchObject({ service: 'productpage.prod', span_type: 'entry', status: 'ok', source_type: 'custom', istio_canonical_service: 'productpage', http_status_code: '200', http_method: 'GET' });
    expect(client!.tags).toMatchObject({ span_type: 'exit', status: 'error', http_status_code: '503' });
    expect(shared!.fields.span_id).toBe(client!.fields.span_id);
    expect(shared!.tags).toMatchObject({ service: 'reviews.prod', span_type: 'entry', project: 'reviews', version: 'v2', env: 'test' });
    expect(leaf!.fields.parent_id).toBe('0020000000000001');
    // message is the sender's own text of the span
    expect(String(leaf!.fields.message)).toBe(splitJsonArray(json)![3]);
  });

  it('gives the same points from the proto3 encoding of the same spans', async () => {
    const a = await started();
    await a.ctx.call('POST', '/api/v2/spans', json, JSON_CT);
    const b = await started();
    const r = await b.ctx.call('POST', '/api/v2/spans', fs.readFileSync(pbFile), PB_CT);
    expect(r.status).toBe(202);
    expect(plain(b.ctx.points)).toEqual(plain(a.ctx.points));
  });
});

describe('zipkin v1 JSON', () => {
  it('takes service from core annotations and tags from binary annotations', async () => {
    const { ctx } = await started();
    const v1 = [
      {
        traceId: 'e4a1b2c3d4e5f601',
        id: '1111111111111111',
        name: 'get /api',
        timestamp: 1732000000000000,
        duration: 1500,
        annotations: [
          { timestamp: 1732000000000000, value: 'sr', endpoint: { serviceName: 'frontend', ipv4: '10.0.0.1' } },
          { timestamp: 1732000000001500, value: 'ss', endpoint: { serviceName: 'frontend', ipv4: '10.0.0.1' } },
        ],
        binaryAnnotations: [
          { key: 'http.path', value: '/api', endpoint: { serviceName: 'frontend' } },
          { key: 'error', value: 'timeout' },
        ],
      },
      { traceId: 'e4a1b2c3d4e5f601', id: '2222222222222222', parentId: '1111111111111111', name: 'db', annotations: [{ timestamp: 1732000000000100, value: 'cs', endpoint: { serviceName: 'frontend' } }, { timestamp: 1732000000000600, value: 'cr', endpoint: { serviceName: 'frontend' } }] },
    ];
    const r = await ctx.call('POST', '/api/v1/spans', JSON.stringify(v1), JSON_CT);
    expect(r.status).toBe(202);
    expect(ctx.points).toHaveLength(2);
    expect(ctx.points[0]!.tags).toMatchObject({ service: 'frontend', operation: 'get /api', span_type: 'entry', status: 'error', http_path: '/api' });
    expect(ctx.points[1]!.tags).toMatchObject({ service: 'frontend', span_type: 'exit', status: 'ok' });
    expect(ctx.points[1]!.fields).toMatchObject({ start: 1732000000000100n, duration: 500n, parent_id: '1111111111111111' });
  });
});

describe('zipkin bad input', () => {
  it('answers 4xx with a reason and counts, never throwing', async () => {
    const { ctx } = await started();
    const cases: [string, Buffer | string, Record<string, string>, number][] = [
      ['/api/v2/spans', '[{"traceId":', JSON_CT, 400],
      ['/api/v2/spans', '{"traceId":"1"}', JSON_CT, 400],
      ['/api/v2/spans', '[{"id":"1"}]', JSON_CT, 400],
      ['/api/v2/spans', '[{"traceId":"zz","id":"1"}]', JSON_CT, 400],
      ['/api/v2/spans', '[{"traceId":"1","id":"1","timestamp":"x"}]', JSON_CT, 400],
      ['/api/v2/spans', '[1]', JSON_CT, 400],
      ['/api/v2/spans', Buffer.from([0x0a, 0xff, 0xff, 0x01]), PB_CT, 400],
      ['/api/v2/spans', '[]', { 'content-type': 'text/plain' }, 415],
      ['/api/v1/spans', 'x', { 'content-type': 'application/x-thrift' }, 400],
      ['/api/v1/spans', Buffer.from([12, 0x7f, 0xff, 0xff, 0xff]), { 'content-type': 'application/x-thrift' }, 400],
      ['/api/v1/spans', '[{"traceId":"1","id":"2","annotations":{}}]', JSON_CT, 400],
    ];
    for (const [p, body, headers, status] of cases) {
      const r = await ctx.call('POST', p, body, headers);
      expect(r.status, String(body)).toBe(status);
    }
    expect(ctx.points).toHaveLength(0);
    expect(await metricValue(ctx.metrics, 'telekit_zipkin_requests_total', { reason: 'bad_payload' })).toBe(10);
    expect(ctx.errors).toEqual([]);
  });

  it('treats prototype names as plain keys (tags, kind)', async () => {
    const { ctx } = await started();
    const body = JSON.stringify([{ traceId: 'a1', id: 'b2', kind: 'constructor', name: 'n', timestamp: 1732000000000000, tags: { constructor: 'x', toString: 'y', __proto__: 'z', 'a.b': 'c' } }]);
    expect((await ctx.call('POST', '/api/v2/spans', body, JSON_CT)).status).toBe(202);
    const p = ctx.points[0]!;
    expect(p.tags.span_type).toBe('entry');
    expect(Object.hasOwn(p.tags, 'constructor') && p.tags.constructor).toBe('x');
    expect(Object.hasOwn(p.tags, 'toString') && p.tags.toString).toBe('y');
    expect(p.tags.a_b).toBe('c');
    for (const v of Object.values(p.tags)) expect(typeof v).toBe('string');
  });

  it('parses spans one at a time with the answers of a whole-body parse', async () => {
    const { ctx } = await started();
    const answer = async (body: string) => {
      const r = await ctx.call('POST', '/api/v2/spans', body, JSON_CT);
      return `${r.status} ${String(r.body)}`;
    };
    // a later span that is not JSON: the whole body's parse error, even when an earlier span is invalid too
    expect(await answer('[{"traceId":"1","id":"1"},{"traceId":}]')).toMatch(/^400 .*invalid JSON/);
    expect(await answer('[{"traceId":"zz","id":"1"},{"traceId":}]')).toMatch(/^400 .*invalid JSON/);
    // every span JSON: the first span that does not convert
    expect(await answer('[{"traceId":"1","id":"1"},{"traceId":"zz","id":"1"},{"id":"2"}]')).toMatch(/^400 .*traceId "zz" is not a hex id/);
    expect(ctx.points).toHaveLength(0);
    // each message is its span's own text, also in a body that is not ASCII
    const spans = ['{"traceId":"1","id":"1","name":"caf\u00e9 é"}', '{ "traceId": "1", "id": "2", "parentId": "1", "name": "ü" }'];
    expect(await answer(` [ ${spans.join(' ,\n')} ] `)).toMatch(/^202/);
    expect(ctx.points.map((p) => String(p.fields.message))).toEqual(spans);
    expect(ctx.points.map((p) => p.tags.operation)).toEqual(['café é', 'ü']);
  });

  it('accepts an empty list', async () => {
    const { ctx } = await started();
    expect((await ctx.call('POST', '/api/v2/spans', '[]', JSON_CT)).status).toBe(202);
  });
});

describe('splitJsonArrayRanges', () => {
  it('returns each element text, with strings containing brackets and escapes', () => {
    const t = ' [ {"a":"x]\\"}","b":[1,{"c":2}]} ,\n{"d":"\\\\"} ] ';
    expect(splitJsonArray(t)).toEqual(['{"a":"x]\\"}","b":[1,{"c":2}]}', '{"d":"\\\\"}']);
    expect(splitJsonArray('[]')).toEqual([]);
    expect(splitJsonArray('[{"a":1}')).toBeUndefined();
    expect(splitJsonArray('{}')).toBeUndefined();
  });
});

describe('zipkin sample.conf and README', () => {
  it('validates against the schema and is inlined in the README', async () => {
    const toml = (await import('toml')).default;
    const sample = fs.readFileSync(path.join(import.meta.dirname, 'sample.conf'), 'utf8');
    const raw = toml.parse(sample).inputs.zipkin[0];
    expect(validate(schema, raw).ok).toBe(true);
    expect(fs.readFileSync(path.join(import.meta.dirname, 'README.md'), 'utf8')).toContain(sample);
  });
});

describe('zipkin own listener (listen option)', () => {
  it('serves pathV2 with gzip on its own port, 405 for other methods, and frees the port on stop', async () => {
    const zlib = await import('node:zlib');
    const { ctx, input } = await started({ listen: '127.0.0.1:0' });
    const port = (input as unknown as { listener: { port: number } }).listener.port;
    const json = fs.readFileSync(path.join(TESTDATA, 'istio/v2.json'));
    const r = await fetch(`http://127.0.0.1:${port}/api/v2/spans`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: new Uint8Array(zlib.gzipSync(json)) });
    expect(r.status).toBe(202);
    expect(ctx.points).toHaveLength(4);
    expect((await fetch(`http://127.0.0.1:${port}/api/v2/spans`)).status).toBe(405);
    expect((await fetch(`http://127.0.0.1:${port}/other`, { method: 'POST', body: '[]' })).status).toBe(404);
    const bad = await fetch(`http://127.0.0.1:${port}/api/v2/spans`, { method: 'POST', headers: { 'content-encoding': 'gzip' }, body: 'not gzip' });
    expect(bad.status).toBe(400);
    await input.stop();
    await expect(fetch(`http://127.0.0.1:${port}/api/v2/spans`, { method: 'POST', body: '[]' })).rejects.toThrow();
  });

  it('rejects start when the port is taken, leaving no routes behind', async () => {
    const net = await import('node:net');
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    const ctx = fakeContext('zipkin');
    const input = new ZipkinInput(config({ listen: `127.0.0.1:${port}` }), ctx);
    await expect(input.start()).rejects.toThrow();
    expect(ctx.routes.size).toBe(0);
    srv.close();
  });
});

/** A minimal TBinaryProtocol writer for test payloads (independent of the decoder). */
class ThriftWriter {
  parts: Buffer[] = [];
  byte(n: number) { this.parts.push(Buffer.from([n & 255])); return this; }
  i16(n: number) { const b = Buffer.alloc(2); b.writeInt16BE(n); this.parts.push(b); return this; }
  i32(n: number) { const b = Buffer.alloc(4); b.writeInt32BE(n); this.parts.push(b); return this; }
  i64(n: bigint) { const b = Buffer.alloc(8); b.writeBigInt64BE(BigInt.asIntN(64, n)); this.parts.push(b); return this; }
  str(s: string | Buffer) { const b = typeof s === 'string' ? Buffer.from(s) : s; this.i32(b.length); this.parts.push(b); return this; }
  field(type: number, id: number) { return this.byte(type).i16(id); }
  stop() { return this.byte(0); }
  done() { return Buffer.concat(this.parts); }
}

describe('zipkin v1 Thrift', () => {
  it('decodes a TBinaryProtocol list<Span> like the v1 JSON equivalent', async () => {
    const w = new ThriftWriter();
    const endpoint = (svc: string) => { w.field(8, 1).i32((10 << 24) | 5); w.field(6, 2).i16(9080); w.field(11, 3).str(svc); w.stop(); };
    w.byte(12).i32(2);
    // span 1: server span with sr/ss, a string and an i32 binary annotation, 128-bit trace id
    w.field(10, 1).i64(0x48485a3953bb6124n).field(11, 3).str('get /api').field(10, 4).i64(0x1111111111111111n);
    w.field(15, 6).byte(12).i32(2);
    w.field(10, 1).i64(1732000000000000n).field(11, 2).str('sr').field(12, 3); endpoint('frontend'); w.stop();
    w.field(10, 1).i64(1732000000001500n).field(11, 2).str('ss').field(12, 3); endpoint('frontend'); w.stop();
    w.field(15, 8).byte(12).i32(2);
    w.field(11, 1).str('http.path').field(11, 2).str('/api').field(8, 3).i32(6).stop();
    w.field(11, 1).str('http.status_code').field(11, 2).str(Buffer.from([0, 0, 1, 0xf4])).field(8, 3).i32(3).stop();
    w.field(10, 10).i64(1732000000000000n).field(10, 11).i64(1500n).field(10, 12).i64(0x463ac35c9f6413adn).stop();
    // span 2: client child with cs/cr and an error
    w.field(10, 1).i64(0x48485a3953bb6124n).field(11, 3).str('db').field(10, 4).i64(0x2222222222222222n).field(10, 5).i64(0x1111111111111111n);
    w.field(15, 6).byte(12).i32(1);
    w.field(10, 1).i64(1732000000000100n).field(11, 2).str('cs').field(12, 3); endpoint('frontend'); w.stop();
    w.field(15, 8).byte(12).i32(1);
    w.field(11, 1).str('error').field(11, 2).str('timeout').field(8, 3).i32(6).stop();
    w.field(10, 10).i64(1732000000000100n).field(10, 11).i64(500n).field(10, 12).i64(0x463ac35c9f6413adn).stop();
    const { ctx } = await started();
    const r = await ctx.call('POST', '/api/v1/spans', w.done(), { 'content-type': 'application/x-thrift' });
    expect(r.status).toBe(202);
    expect(ctx.points).toHaveLength(2);
    const [a, b] = ctx.points;
    expect(a!.tags).toMatchObject({ service: 'frontend', operation: 'get /api', span_type: 'entry', status: 'ok', http_path: '/api', http_status_code: '500' });
    expect(a!.fields).toMatchObject({ trace_id: '463ac35c9f6413ad48485a3953bb6124', span_id: '1111111111111111', parent_id: '0', start: 1732000000000000n, duration: 1500n });
    expect(b!.tags).toMatchObject({ span_type: 'exit', status: 'error' });
    expect(b!.fields).toMatchObject({ parent_id: '1111111111111111', duration: 500n });
    expect(JSON.parse(String(a!.fields.message))).toMatchObject({ traceId: '463ac35c9f6413ad48485a3953bb6124', name: 'get /api' });
  });
});
