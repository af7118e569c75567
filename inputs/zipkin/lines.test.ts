/**
 * The v2 JSON fast path (lines.ts) against the generic path (v2.ts, the
 * pipeline, LineBuf.point): the same bytes, the same drop counts, on real
 * payloads and random ones; and it declines (writing nothing) where it does
 * not model the input or an option.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TraceProcessor } from '../../agent/services/trace/processor.js';
import type { TraceRequest } from '../../agent/services/trace/offthread.js';
import { validConfig } from '../../test/helpers/fake-context.js';
import { fastLines, genericLines } from '../../test/helpers/trace-generic.js';
import { rng, type Rng } from '../../test/helpers/rng.js';
import { schema, type ZipkinConfig } from './config.js';
import { ZipkinLineWriter } from './lines.js';
import { zipkinDecoder } from './request.js';

const NOW = 1_700_000_000_000_000_000n;
const CORE = { host: 'node-1', env: 'core-env', cluster: 'c 1', 'a,b': 'x=y', http_method: 'core-method', service: 'core-svc', 'dot.key': 'd', empty: '' };
const TESTDATA = path.join(import.meta.dirname, 'testdata');

type Outcome = { kind: 'fast'; text: string; dropped: Record<string, number>; lines: number } | { kind: 'declined' };

function request(body: Buffer | string, ct = 'application/json', route = '/api/v2/spans'): TraceRequest {
  return { route, contentType: ct, headers: {}, body: Buffer.isBuffer(body) ? body : Buffer.from(body) };
}

/** Runs both paths; when the fast path writes, the generic path must write the same (and not refuse). */
function compare(raw: Record<string, unknown>, req: TraceRequest, tags: Record<string, string> = CORE): Outcome {
  const cfg: ZipkinConfig = validConfig(schema, raw);
  const w = new ZipkinLineWriter(cfg, new TraceProcessor('zipkin', cfg));
  const f = fastLines(w, req, tags, NOW);
  if (f === undefined) return { kind: 'declined' };
  const { text, dropped } = f;
  let g: ReturnType<typeof genericLines>;
  try {
    g = genericLines(zipkinDecoder(cfg), new TraceProcessor('zipkin', cfg), req, tags, NOW);
  } catch (e) {
    throw new Error(`the fast path wrote lines for a body the generic path refuses (${(e as Error).message}): ${req.body.toString().slice(0, 400)}`);
  }
  const gt = g.out.data.toString('utf8', 0, g.out.off);
  if (text !== gt) expect({ body: req.body.toString(), fast: text.split('\n') }).toEqual({ body: req.body.toString(), fast: gt.split('\n') });
  expect(dropped).toEqual(g.dropped);
  expect(f.ends).toEqual(g.out.ends);
  return { kind: 'fast', text, dropped, lines: f.lines };
}

const STRINGS = ['web', 'reviews', '', 'a,b=c d', 'back\\slash', 'quote"d', 'new\nline\r', 'tab\there', 'ünïcödé', '日本語', '😀 emoji', 'GET /users/:id', 'x'.repeat(40), 'sl/ash', '\u0001ctl', '\u2028sep'];
const TAG_KEYS = ['http.method', 'http.status_code', 'http.url', 'component', 'node_id', 'guid:x-request-id', 'peer.address', 'error', 'istio.mesh_id', 'custom.key', 'custom_key', 'a,b', 'sp ace', 'eq=', 'service', 'span.type', 'span_type', 'status', 'source', 'resource', 'message', 'trace_id', 'host', 'env', '', '123', 'ünï.key', 'dot.key', 'empty', 'constructor', 'toString'];
/** Keys that make the fast path decline: all digits, or the same as another once `.` is `_`. */
const ODD_KEYS = ['123', 'custom_key', 'span_type', 'dot.key'];
const KINDS = ['SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER', 'server', '', 'OTHER'];

function str(r: Rng): string {
  if (r.chance(0.03)) return 'L'.repeat(1000 + r.int(60)) + r.pick(['', 'é', '"', '😀', '\n']);
  return r.pick(STRINGS);
}

function hexId(r: Rng, pool: string[], odd: (p: number) => boolean): unknown {
  if (pool.length > 0 && r.chance(0.5)) return r.pick(pool);
  const len = odd(0.05) ? 33 : r.pick([16, 16, 16, 32, 1, 5, 17, 31]);
  let s = '';
  for (let i = 0; i < len; i++) s += '0123456789abcdef'[r.int(16)];
  if (r.chance(0.05)) s = s.toUpperCase();
  if (odd(0.01)) return r.pick(['', 'zz', null, 12, 'a\\u0030']);
  pool.push(s);
  return s;
}

/** A span; `odd(p)` is true with probability p only in bodies meant to have shapes the fast path declines. */
function span(r: Rng, traces: string[], ids: string[], services: string[], odd: (p: number) => boolean): Record<string, unknown> {
  const s: Record<string, unknown> = {};
  const keys = odd(1) ? TAG_KEYS : TAG_KEYS.filter((k) => !ODD_KEYS.includes(k));
  if (!odd(0.01)) s.traceId = r.chance(0.7) && traces.length > 0 ? r.pick(traces) : hexId(r, traces, odd);
  if (!odd(0.01)) s.id = hexId(r, ids, odd);
  if (r.chance(0.7)) s.parentId = r.chance(0.9) ? (ids.length > 0 ? r.pick(ids) : hexId(r, ids, odd)) : r.pick(['', null, '0']);
  if (r.chance(0.8)) s.kind = odd(0.03) ? r.pick([null, 3]) : r.pick(KINDS);
  if (r.chance(0.9)) s.name = odd(0.03) ? r.pick([null, 5]) : str(r);
  if (r.chance(0.9)) s.timestamp = odd(0.05) ? r.pick([0, null, 1.5, -3, 2 ** 53, 1e21, '17']) : 1732000000000000 + r.int(1e9);
  if (r.chance(0.9)) s.duration = odd(0.05) ? r.pick([0, null, 2.25, -1]) : r.int(1e7);
  if (r.chance(0.85)) {
    const le: Record<string, unknown> = {};
    if (r.chance(0.9)) le.serviceName = odd(0.03) ? r.pick([null, 7]) : services.length > 0 && r.chance(0.6) ? r.pick(services) : str(r);
    if (typeof le.serviceName === 'string') services.push(le.serviceName);
    if (r.chance(0.5)) le.ipv4 = '10.1.0.' + r.int(255);
    if (r.chance(0.1)) le.ipv6 = '::1';
    if (r.chance(0.5)) le.port = r.int(65536);
    if (odd(0.02)) le.other = 'x';
    s.localEndpoint = odd(0.02) ? r.pick([null, 'str', []]) : le;
  }
  if (r.chance(0.4)) s.remoteEndpoint = { serviceName: str(r), ipv4: '10.0.0.1', port: 9080, ...(r.chance(0.1) ? { extra: [1, { a: null }] } : {}) };
  if (r.chance(0.3)) s.annotations = [{ timestamp: 1732000000000001, value: str(r) }, { timestamp: 1.5e15, value: 'x', nested: { deep: [true, false, null, -1.5e-3] } }].slice(0, 1 + r.int(2));
  if (r.chance(0.2)) s.shared = r.chance(0.5);
  if (r.chance(0.1)) s.debug = true;
  if (r.chance(0.9)) {
    const t: Record<string, unknown> = {};
    const n = r.int(25);
    for (let i = 0; i < n; i++) t[r.chance(0.6) ? r.pick(keys) : 'k' + r.int(50) + (r.chance(0.3) ? '.x' : '')] = odd(0.02) ? r.pick([1, true, null, { a: 1 }]) : str(r);
    s.tags = odd(0.02) ? r.pick([null, [], 'x']) : t;
  }
  if (odd(0.02)) s[r.pick(['unknown', 'traceID', 'Name'])] = 'x';
  return s;
}

/** JSON text with random whitespace and escapes JSON.stringify would not write (\/, \uXXXX, surrogate pairs). */
function toJson(r: Rng, v: unknown, ws: boolean): string {
  const sp = (): string => (ws && r.chance(0.2) ? r.pick([' ', '\n', '\t', '\r\n  ']) : '');
  if (typeof v === 'string') {
    let out = '"';
    for (const ch of v) {
      const c = ch.codePointAt(0)!;
      if (r.chance(0.04)) {
        if (c > 0xffff) {
          const h = 0xd800 + ((c - 0x10000) >> 10);
          const l = 0xdc00 + ((c - 0x10000) & 0x3ff);
          out += `\\u${h.toString(16)}\\u${l.toString(16).toUpperCase()}`;
        } else out += '\\u' + c.toString(16).padStart(4, '0');
      } else if (ch === '/' && r.chance(0.5)) out += '\\/';
      else out += JSON.stringify(ch).slice(1, -1);
    }
    return out + '"';
  }
  if (Array.isArray(v)) return sp() + '[' + v.map((x) => sp() + toJson(r, x, ws) + sp()).join(',') + ']' + sp();
  if (v !== null && typeof v === 'object') return '{' + Object.entries(v).map(([k, x]) => sp() + toJson(r, k, ws) + sp() + ':' + sp() + toJson(r, x, ws)).join(',') + sp() + '}';
  return JSON.stringify(v);
}

function randomBody(r: Rng): string {
  const traces: string[] = [];
  const ids: string[] = [];
  const services: string[] = [];
  const isOdd = r.chance(0.3);
  const odd = (p: number): boolean => isOdd && r.chance(p * 4);
  const n = r.chance(0.1) ? 20 + r.int(30) : 1 + r.int(8);
  const spans = Array.from({ length: n }, () => span(r, traces, ids, services, odd));
  // a span sent twice (shared spans, retries), or a span its own parent
  if (r.chance(0.1) && spans.length > 0) spans.push({ ...spans[0]! });
  if (r.chance(0.05) && spans.length > 0) spans[0]!.parentId = spans[0]!.id;
  let text = toJson(r, spans, r.chance(0.5));
  if (odd(0.05)) text = r.pick([text.slice(0, -1), text + ',', ' ' + text + '\n', text.replace('{', '{"traceId":"1",'), text.replace('"', '\\"'), '\ufeff' + text]);
  if (odd(0.03)) text = text.replace(/\\u(d[89ab][0-9a-f]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}/, '\\u$1'); // a lone surrogate
  return text;
}

describe('zipkin v2 JSON fast path: the generic path\'s bytes', () => {
  it('the Envoy/Istio payload and the bench body go fast and match', () => {
    const istio = fs.readFileSync(path.join(TESTDATA, 'istio/v2.json'));
    const a = compare({}, request(istio));
    expect(a.kind).toBe('fast');
    const pretty = Buffer.from(JSON.stringify(JSON.parse(istio.toString()), null, 2));
    expect(compare({}, request(pretty)).kind).toBe('fast');
    // the bench's body: 500 spans of 100+ traces
    const tmpl = JSON.parse(istio.toString()) as Record<string, unknown>[];
    const spans: unknown[] = [];
    for (let t = 0; spans.length < 500; t++) for (const s of tmpl) spans.push({ ...s, traceId: t.toString(16).padStart(8, '0') + '9f6413ad48485a3953bb6124', timestamp: (s.timestamp as number) + t });
    const b = compare({}, request(JSON.stringify(spans)));
    expect(b.kind === 'fast' && b.lines).toBe(spans.length);
    expect(compare({ del_message: true }, request(istio)).kind).toBe('fast');
    expect(compare({}, request(istio), {}).kind).toBe('fast');
  });

  it('the zipkin tests\' payloads', () => {
    const bodies = [
      '[]',
      ' [ ] ',
      '[{"traceId":"1","id":"1"}]',
      '[{"traceId":"a1","id":"b2","kind":"constructor","name":"n","timestamp":1732000000000000,"tags":{"constructor":"x","toString":"y","__proto__":"z","a.b":"c"}}]',
      '[{"traceId":"1","id":"1"},{"traceId":"zz","id":"1"},{"id":"2"}]',
      '[{"traceId":"1","id":"1","timestamp":"x"}]',
      '[{"traceId":',
      '{"traceId":"1","id":"1"}',
      '[{"traceId":"1","id":"1"},{"traceId":}]',
    ];
    for (const b of bodies) compare({}, request(b));
    expect(compare({}, request('[{"traceId":"1","id":"1"}]')).kind).toBe('fast');
  });

  it('one trace id in several spellings (case, leading zeros, escapes) is one trace, next to each other or not', () => {
    // the writer takes a span with the same id bytes as the span before it into that span's trace without a string;
    // any other spelling of the same id must still find its trace
    const ids = ['abc', 'ABC', '0000000000000abc', '0000000000000ABC', '\\u0061bc', 'def', 'abc', '00000000000000000000000000000abc'];
    const spans = ids.map((t, i) => `{"traceId":"${t}","id":"${(i + 1).toString(16)}","parentId":"${i > 0 ? i.toString(16) : ''}","localEndpoint":{"serviceName":"s${i % 2}"},"timestamp":${1732000000000000 + i}}`);
    for (const order of [spans, [...spans].reverse(), [spans[0], spans[5], spans[1], spans[2], spans[5], spans[3], spans[4], spans[6], spans[7]]]) {
      const o = compare({}, request(`[${order.join(',')}]`));
      expect(o.kind === 'fast' && o.lines).toBe(order.length);
    }
  });

  it('random spans: missing fields, unicode, escapes, large ids, shared spans, annotations, endpoints, error tags, long values', () => {
    let fast = 0;
    let declined = 0;
    for (let seed = 1; seed <= 1500; seed++) {
      const r = rng(seed);
      const raw = r.chance(0.2) ? { del_message: true } : {};
      const tags = r.chance(0.3) ? {} : CORE;
      const o = compare(raw, request(randomBody(r), r.pick(['application/json', '', 'application/json; charset=utf-8'])), tags);
      if (o.kind === 'fast') fast++;
      else declined++;
    }
    // the generator's odd shapes (non-string values, unknown keys, bad JSON) are a minority: most bodies go fast
    expect(fast).toBeGreaterThan(300);
    expect(declined).toBeGreaterThan(100);
  });

  it('every prefix of a payload (a truncated body) ends, declined or the same bytes', () => {
    // a number at the very end of the body once looped for ever past it (the agent's fuzz test found it)
    const body = '[{"traceId":"463ac35c9f6413ad48485a3953bb6124","id":"a2fb4a1d1a96d312","kind":"SERVER","name":"n\\u00e9","timestamp":1732000000100000,"duration":48210,"localEndpoint":{"serviceName":"s","port":9080},"annotations":[{"timestamp":1.5e15,"value":"x"}],"tags":{"a.b":"c","error":""}}]';
    let fast = 0;
    for (let n = 0; n <= body.length; n++) if (compare({}, request(body.slice(0, n))).kind === 'fast') fast++;
    expect(fast).toBe(1);
    for (const tail of ['1', '-', '1e', '"', '"\\', '"\\u12', 't', 'nul']) expect(compare({}, request('[{"traceId":"1","id":"1","timestamp":' + tail)).kind).toBe('declined');
  });

  it('declines options it does not implement, the v1 route and proto3', () => {
    const istio = fs.readFileSync(path.join(TESTDATA, 'istio/v2.json'));
    for (const raw of [
      { sampler: { sampling_rate: 0.5 } },
      { omit_err_status: ['404'] },
      { keep_rare_resource: true },
      { close_resource: { '*': ['.*'] } },
      { ignore_resources: ['x'] },
      { ignore_tags: ['http.*'] },
    ])
      expect(compare(raw, request(istio)).kind).toBe('declined');
    expect(compare({}, request(istio, 'application/json', '/api/v1/spans')).kind).toBe('declined');
    expect(compare({}, request(istio, 'application/x-protobuf')).kind).toBe('declined');
    expect(compare({}, request(istio, 'text/plain')).kind).toBe('declined');
    expect(compare({}, request(istio), { '1': 'x' }).kind).toBe('declined');
    expect(compare({}, request(istio), { constructor: 'x' }).kind).toBe('declined');
  });

  it('declines what it does not model, writing nothing', () => {
    for (const b of [
      '[{"traceId":"1","id":"1","tags":{"n":1}}]',
      '[{"traceId":"1","id":"1","tags":{"a.b":"1","a_b":"2"}}]',
      '[{"traceId":"1","id":"1","tags":{"7":"x"}}]',
      '[{"traceId":"1","id":"1","x":1}]',
      '[{"traceId":"1","id":"1","id":"2"}]',
      '[{"traceId":"1","id":"1","name":"\\ud800"}]',
      '[{"traceId":"1","id":"1","timestamp":1.5}]',
      '[{"traceId":"1","id":"1","localEndpoint":{"serviceName":"a","x":1}}]',
      Buffer.from([0x5b, 0xff, 0x5d]),
    ])
      expect(compare({}, request(b)).kind).toBe('declined');
  });
});
