import { describe, expect, it } from 'vitest';
import { Packr } from 'msgpackr';
import { TraceProcessor } from '../../agent/services/trace/processor.js';
import type { TraceRequest } from '../../agent/services/trace/offthread.js';
import { validConfig } from '../../test/helpers/fake-context.js';
import { fastLines, genericLines } from '../../test/helpers/trace-generic.js';
import { rng, type Rng } from '../../test/helpers/rng.js';
import { schema, type DdtraceConfig } from './config.js';
import { DdLineWriter } from './lines.js';
import { ddDecoder } from './request.js';

const packr = new Packr({ useRecords: false, variableMapSize: true });
const NOW = 1_700_000_000_000_000_000n;
const CORE = { host: 'node-1', env: 'core-env', cluster: 'c 1', 'a,b': 'x=y' };

/** The generic path as a trace worker runs it: decoder, pipeline, core tags, LineBuf.point. */
function generic(cfg: DdtraceConfig, pipeline: TraceProcessor, req: TraceRequest, tags: Record<string, string>): { text: string; dropped: Record<string, number> } {
  const { out, dropped } = genericLines(ddDecoder(cfg), pipeline, req, tags, NOW);
  return { text: out.data.toString('utf8', 0, out.off), dropped };
}

const fast = (w: DdLineWriter, req: TraceRequest, tags: Record<string, string> = {}) => fastLines(w, req, tags, NOW);

function request(body: Buffer, headers: Record<string, string> = {}, route = '/v0.4/traces'): TraceRequest {
  return { route, contentType: 'application/msgpack', headers, body };
}

const STRINGS = ['web', 'reviews', '', 'a,b=c d', 'back\\slash', 'quote"d', 'new\nline\r', 'ünïcödé', '日本語', '😀 emoji', 'GET /users/:id', 'x'.repeat(40)];
const META_KEYS = ['env', 'version', 'project', 'http.method', 'http.status_code', 'http.url', 'http.route', 'span.kind', 'component', 'db.type', 'db.system', 'db.name', 'out.host', 'peer.service', 'runtime-id', 'language', 'error.message', 'error.msg', 'error.stack', 'error.type', '_dd.origin', '_dd.p.tid', '_dd.p.dm', 'custom.key', 'x.tag', 'other', 'status', '123', 'resource', 'message'];

function str(r: Rng): string {
  if (r.chance(0.03)) return 'L'.repeat(1000 + r.int(60)) + r.pick(['', 'é', '"']);
  return r.pick(STRINGS);
}

function id(r: Rng, pool: bigint[]): unknown {
  const k = r.int(20);
  if (k === 0) return null;
  if (k === 1) return r.int(100);
  if (k === 2) return -1 - r.int(5);
  if (k === 3 && pool.length > 0) return r.pick(pool);
  if (k === 4) return true;
  const v = BigInt(r.int(2 ** 31)) * 4294967296n + BigInt(r.int(2 ** 32)) + 1n;
  pool.push(v);
  return v;
}

function meta(r: Rng): Record<string, unknown> {
  const m: Record<string, unknown> = {};
  const n = r.int(10);
  for (let i = 0; i < n; i++) {
    const k = r.pick(META_KEYS);
    if (k === '_dd.p.tid') m[k] = r.pick(['6750a1b200000000', 'ABCDEF', 'zz', '', '12345678901234567']);
    else if (k === '_dd.origin') m[k] = r.pick(['rum', 'lambda', 5]);
    else if (k === 'http.status_code') m[k] = r.pick(['200', '404', '500', 404]);
    else m[k] = r.chance(0.05) ? r.pick([1, null, true, { a: [1, 'b'] }]) : str(r);
  }
  return m;
}

function span(r: Rng, pool: bigint[], parent: unknown, service: string): Record<string, unknown> {
  const s: Record<string, unknown> = {};
  const put = (k: string, v: unknown) => {
    if (r.chance(0.05)) return; // key missing
    s[k] = v;
  };
  put('service', r.chance(0.6) ? service : r.chance(0.1) ? null : str(r));
  put('name', r.chance(0.1) ? null : str(r));
  put('resource', str(r));
  put('trace_id', id(r, pool));
  put('span_id', id(r, pool));
  put('parent_id', parent);
  const start = r.pick([1_732_000_000_123_456_789n + BigInt(r.int(1e9)), 0, 123_456, null, 1_732_000_000_123_456_999n]);
  put('start', start);
  put('duration', r.pick([BigInt(r.int(1e12)), 2_500_000, 0, null]));
  put('error', r.pick([0, 1, 0, true, null, 2]));
  put('meta', r.chance(0.05) ? null : meta(r));
  put('metrics', r.chance(0.05) ? null : { process_id: 42, _sampling_priority_v1: r.pick([1, 2, 1, 1, 0, -1, 0.5, null]), x: r.chance(0.1) ? { nested: [1, 2, { deep: 'v' }] } : 1 });
  put('type', r.pick(['web', 'sql', 'redis', 'http', 'custom', 'queue', '', 'weird', null]));
  if (r.chance(0.1)) s.extra = r.pick([{ a: 1 }, [1, 2, 3], 'x', 1.5]);
  // keys in a random order, as tracers do not agree on one
  const keys = Object.keys(s);
  for (let i = keys.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [keys[i], keys[j]] = [keys[j]!, keys[i]!];
  }
  return Object.fromEntries(keys.map((k) => [k, s[k]]));
}

function payload(r: Rng): unknown[] {
  const traces: unknown[] = [];
  const n = r.int(6);
  for (let t = 0; t < n; t++) {
    const pool: bigint[] = [];
    const len = r.chance(0.1) ? 17 + r.int(10) : r.int(7);
    const spans: Record<string, unknown>[] = [];
    const service = r.pick(['svc-a', 'svc-b', '']);
    for (let i = 0; i < len; i++) {
      const parent = i === 0 ? r.pick([0, 0n, null]) : r.chance(0.8) ? (spans[r.int(i)]!.span_id ?? 0) : id(r, pool);
      spans.push(span(r, pool, parent, r.chance(0.7) ? service : 'svc-c'));
    }
    traces.push(spans);
  }
  return traces;
}

const CONFIGS: Record<string, unknown>[] = [
  {},
  { trace_128_bit_id: false },
  { compatible_otel: true },
  { trace_id_64_bit_hex: true, trace_128_bit_id: false },
  { keep_rejected_traces: true, trace_max_spans: 3 },
  { del_message: true },
  { customer_tags: ['custom.key', 'reg:^x\\.', 'status', '123'] },
  { customer_tags: ['resource', 'message'] },
  { customer_tags: ['resource', 'message'], del_message: true },
  { ignore_tags: ['^env$', '^http_m'], customer_tags: ['other'] },
  { omit_err_status: ['404'], keep_rare_resource: true },
  { close_resource: { 'svc-a': ['^GET'] }, ignore_resources: ['^SELECT'] },
  { sampler: { sampling_rate: 0.5 } },
];

describe('ddtrace lines fast path', () => {
  it('writes exactly the lines and drop counts of the generic path, on random payloads and options', () => {
    let taken = 0;
    let total = 0;
    let spans = 0;
    for (const [c, raw] of CONFIGS.entries()) {
      const cfg = validConfig(schema, raw);
      const p1 = new TraceProcessor('ddtrace', cfg, () => 5_000);
      const p2 = new TraceProcessor('ddtrace', cfg, () => 5_000);
      const writer = new DdLineWriter(cfg, p2);
      for (let k = 0; k < 120; k++) {
        const seed = c * 1000 + k;
        const r = rng(seed);
        const body = packr.pack(payload(r));
        const headers: Record<string, string> = r.chance(0.3) ? { 'datadog-meta-lang': 'node', 'datadog-container-id': 'abc,def' } : {};
        const tags = r.chance(0.5) ? CORE : { host: 'node-2' };
        const req = request(body, headers);
        const f = fast(writer, req, tags);
        total++;
        // a declined request must still come out right: the worker then runs the generic path with p2
        const g = generic(cfg, f === undefined ? p2 : p1, req, tags);
        if (f === undefined) {
          generic(cfg, p1, req, tags); // keeps p1's keep_rare_resource memory in step
          continue;
        }
        taken++;
        spans += f.lines;
        expect({ seed, config: raw, text: f.text }).toEqual({ seed, config: raw, text: g.text });
        expect(f.dropped).toEqual(g.dropped);
      }
    }
    // most random payloads are of the shape the fast path takes, so the comparison above is not vacuous
    expect(taken / total).toBeGreaterThan(0.9);
    expect(spans).toBeGreaterThan(2000);
  });

  it('takes a dd-trace-like payload and writes its lines', () => {
    const cfg = validConfig(schema, {});
    const w = new DdLineWriter(cfg, new TraceProcessor('ddtrace', cfg));
    const root = { service: 'web', name: 'express.request', resource: 'GET /users/:id', trace_id: 18_000_000_000_000_000_001n, span_id: 12_345_678_901_234_567_890n, parent_id: 0n, start: 1_732_000_000_123_456_999n, duration: 2_500_000, error: 0, meta: { env: 'prod', 'http.status_code': '200', '_dd.p.tid': '6750A1B2' }, metrics: { _sampling_priority_v1: 1 }, type: 'web' };
    const child = { ...root, name: 'pg.query', resource: 'SELECT "x"', span_id: 42, parent_id: 12_345_678_901_234_567_890n, type: 'sql', meta: { 'db.type': 'postgres', 'db.system': 'postgresql' } };
    const f = fast(w, request(packr.pack([[root, child]])), { host: 'h' })!;
    const lines = f.text.split('\n');
    expect(lines[0]).toMatch(/^ddtrace,service=web,source=ddtrace,operation=express.request,source_type=web,span_type=entry,status=ok,env=prod,http_status_code=200,host=h trace_id="000000006750a1b2f9ccd8a1c5080001",span_id="12345678901234567890",parent_id="0",resource="GET \/users\/:id",start=1732000000123456i,duration=2500i,message="\{\\"service\\":\\"web\\",/);
    expect(lines[0]).toMatch(/ 1732000000123456000$/);
    // db.type and db.system are both db_system: the first one's place, the last one's value (as a JS object)
    expect(lines[1]).toContain(',span_type=exit,status=ok,db_system=postgresql,host=h trace_id=');
    expect(lines[1]).toContain('resource="SELECT \\"x\\""');
  });

  it('declines what it does not model, writing nothing', () => {
    const cfg = validConfig(schema, {});
    const w = new DdLineWriter(cfg, new TraceProcessor('ddtrace', cfg));
    const ok = { service: 's', name: 'n', resource: 'r', trace_id: 1, span_id: 2, parent_id: 0, start: 1000, duration: 5, meta: { env: 'e' }, metrics: {} };
    expect(fast(w, request(packr.pack([[ok]])))).toBeDefined();
    const declined = [
      packr.pack([[{ ...ok, trace_id: '1' }]]), // id as str
      packr.pack([[{ ...ok, start: 1.5 }]]), // float start
      packr.pack([[{ ...ok, start: -5 }]]), // negative start
      packr.pack([[{ ...ok, service: 42 }]]), // number service
      packr.pack([[{ ...ok, error: '1' }]]), // str error
      packr.pack({ not: 'an array' }),
      packr.pack([{ not: 'a trace' }]),
      packr.pack([[['not', 'a', 'map']]]),
      Buffer.concat([packr.pack([[ok]]), Buffer.from([0xc0])]), // trailing bytes
      packr.pack([[ok]]).subarray(0, 20), // truncated
      Buffer.from([0x91, 0x91, 0x81, 0xa1, 0x78, 0xc1]), // 0xc1
      Buffer.from([0x91, 0x91, 0x81, 0xa4, 0x6d, 0x65, 0x74, 0x61, 0x81, 0xa3, 0x65, 0x6e, 0x76, 0xa2, 0xff, 0xfe]), // meta env: invalid UTF-8
      Buffer.from([0x91, 0x91, 0x81, 0x01, 0x02]), // a span key that is not a str
    ];
    for (const body of declined) expect(fast(w, request(body)), body.toString('hex')).toBeUndefined();
    // v0.5 and JSON bodies are the generic path's
    expect(fast(w, request(packr.pack([[ok]]), {}, '/v0.5/traces'))).toBeUndefined();
    expect(fast(w, { ...request(Buffer.from('[[]]')), contentType: 'application/json' })).toBeUndefined();
  });

  it('on mutated and cut bodies: declines, or writes exactly what the generic path writes (which must accept them too)', () => {
    for (const raw of [{}, { compatible_otel: true, customer_tags: ['other'] }, { del_message: true, trace_128_bit_id: false }]) {
      const cfg = validConfig(schema, raw);
      const writer = new DdLineWriter(cfg, new TraceProcessor('ddtrace', cfg));
      const pipeline = new TraceProcessor('ddtrace', cfg);
      let taken = 0;
      for (let k = 0; k < 400; k++) {
        const r = rng(90_000 + k);
        const body = Buffer.from(packr.pack(payload(r)));
        if (k % 4 === 0) {
          const cut = body.subarray(0, r.int(body.length)); // a proper prefix
          expect(fast(writer, request(cut)), `cut ${k}`).toBeUndefined();
          continue;
        }
        for (let e = 1 + r.int(3); e > 0; e--) body[r.int(body.length)] = r.int(256);
        const req = request(body);
        const f = fast(writer, req, CORE);
        if (f === undefined) continue;
        taken++;
        let g: ReturnType<typeof generic> | undefined;
        expect(() => (g = generic(cfg, pipeline, req, CORE)), `seed ${k}`).not.toThrow();
        expect(f.text, `seed ${k}`).toBe(g!.text);
        expect(f.dropped).toEqual(g!.dropped);
      }
      expect(taken).toBeGreaterThan(20); // some mutations keep the shape: the comparison ran
    }
  });

  it('takes a request of 100,000 meta entries and goes back to small arrays after it', () => {
    const cfg = validConfig(schema, {});
    const w = new DdLineWriter(cfg, new TraceProcessor('ddtrace', cfg));
    const spans = Array.from({ length: 10_000 }, (_, i) => ({ service: 's', span_id: i + 1, meta: Object.fromEntries(Array.from({ length: 10 }, (_, k) => [['env', 'version', 'project', 'component', 'span.kind', 'http.method', 'http.url', 'http.route', 'db.name', 'out.host'][k]!, `v${i}`])) }));
    const f = fast(w, request(packr.pack([spans])), { host: 'h' })!;
    expect(f.lines).toBe(10_000);
    expect(f.text.split('\n')[9_999]).toContain(',env=v9999,version=v9999,');
    const sizes = w as unknown as { entCls: Int32Array; spans: { cap: number } };
    expect(sizes.entCls.length).toBeLessThanOrEqual(1024);
    expect(sizes.spans.cap).toBeLessThanOrEqual(4096);
  });

  it('keeps its key caches bounded', () => {
    const cfg = validConfig(schema, { customer_tags: ['reg:^k'] });
    const w = new DdLineWriter(cfg, new TraceProcessor('ddtrace', cfg));
    let declined = 0;
    for (let b = 0; b < 30; b++) {
      const m: Record<string, string> = {};
      for (let i = 0; i < 1000; i++) m[`k${b}_${i}`] = 'v';
      const f = fast(w, request(packr.pack([[{ service: 's', span_id: 1, meta: m }]])), { host: 'h' });
      if (f === undefined) declined++;
      else expect(f.text.split(',').length).toBeGreaterThan(1000);
    }
    // 30,000 distinct keys: the caches were emptied (the request that found them full went the generic way)
    expect(declined).toBeGreaterThan(0);
    expect(declined).toBeLessThan(30);
  });
});
