/**
 * Trace worker threads (agent/services/trace/offthread.ts): the same requests through
 * an agent decoding in workers and one decoding on the main thread must give
 * the same points at the dataway, and bad input the same answers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Packr } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import type { DecodedPoint } from '../../agent/model/lineproto.js';

const packr = new Packr({ useRecords: false });
const span = (i: bigint, parent: bigint, extra: Record<string, string> = {}) => ({
  service: 'shop',
  name: 'web.request',
  resource: `GET /item/${i}`,
  trace_id: 9_000_000_000_000_000_001n,
  span_id: 100n + i,
  parent_id: parent,
  start: 1_732_000_000_000_000_000n + i * 1000n,
  duration: 5000n + i,
  error: i === 2n ? 1 : 0,
  meta: { env: 'prod', version: '2', 'http.status_code': i === 2n ? '500' : '200', quote: 'a "quoted" \\ value', unicode: 'héllo ✓', ...extra },
  metrics: { _sampling_priority_v1: 1, 'x.y': 1.5 },
  type: 'web',
});
const DD = packr.pack([[span(1n, 0n), span(2n, 101n), span(3n, 101n, { 'error.message': 'boom' })], [{ ...span(4n, 0n), trace_id: 7n }]]);
const ZK = fs.readFileSync(path.join(import.meta.dirname, '../../inputs/zipkin/testdata/istio/v2.json'));
const CONF = (workers: number) => ({ 'trace.conf': `[[inputs.ddtrace]]\nworkers = ${workers}\n[inputs.ddtrace.tags]\nteam = "t1"\n\n[[inputs.zipkin]]\nworkers = ${workers}\n` });

const post = (a: TestAgent, route: string, ct: string, body: Uint8Array | string) =>
  fetch(a.url + route, { method: 'POST', headers: { 'content-type': ct, 'datadog-meta-lang': 'nodejs' }, body: typeof body === 'string' ? body : new Uint8Array(body) });
const byId = (pts: DecodedPoint[]) => [...pts].sort((x, y) => String(x.fields.span_id).localeCompare(String(y.fields.span_id)));

describe('trace worker threads', () => {
  let threaded: TestAgent;
  let inline: TestAgent;
  beforeAll(async () => {
    [threaded, inline] = await Promise.all([startTestAgent({ conf: CONF(2), env: { ENV_GLOBAL_HOST_TAGS: 'host=__datakit_hostname,zone=z1' } }), startTestAgent({ conf: CONF(-1), env: { ENV_GLOBAL_HOST_TAGS: 'host=__datakit_hostname,zone=z1' } })]);
  });
  afterAll(async () => {
    await Promise.all([threaded?.stop(), inline?.stop()]);
  });

  it('gives the same points as the main thread, tags and message included', async () => {
    for (const a of [threaded, inline]) {
      expect((await post(a, '/v0.4/traces', 'application/msgpack', DD)).status).toBe(200);
      expect((await post(a, '/api/v2/spans', 'application/json', ZK)).status).toBe(202);
    }
    const zkCount = JSON.parse(ZK.toString()).length;
    const [t, i] = (await Promise.all([threaded, inline].map(async (a) => {
      await a.dataway.waitForPoints('tracing', 4 + zkCount);
      return { dd: byId(a.dataway.points('tracing', 'ddtrace')), zk: byId(a.dataway.points('tracing', 'zipkin')) };
    }))) as [{ dd: DecodedPoint[]; zk: DecodedPoint[] }, { dd: DecodedPoint[]; zk: DecodedPoint[] }];
    expect(t.dd).toHaveLength(4);
    expect(t.dd).toEqual(i.dd);
    expect(t.zk).toEqual(i.zk);
    const err = t.dd.find((p) => p.fields.span_id === '102')!;
    expect(err.tags).toMatchObject({ service: 'shop', status: 'error', team: 't1', zone: 'z1', language: 'nodejs', http_status_code: '500' });
    expect(JSON.parse(String(err.fields.message))).toMatchObject({ resource: 'GET /item/2', meta: { quote: 'a "quoted" \\ value', unicode: 'héllo ✓' } });
    // workers start with the first request, and only where asked
    const gauge = async (a: TestAgent) => Number((await (await fetch(a.url + '/metrics')).text()).match(/^telekit_ddtrace_workers (\d+)/m)?.[1]);
    expect(await gauge(threaded)).toBeGreaterThanOrEqual(1);
    expect(await gauge(threaded)).toBeLessThanOrEqual(2);
    expect(await gauge(inline)).toBe(0);
    // the msgpack requests went through ddtrace's byte-level fast path (inputs/ddtrace/lines.ts), not the generic one
    const paths = (await (await fetch(threaded.url + '/metrics')).text()).match(/^telekit_ddtrace_worker_requests_total\{path="(\w+)"\} (\d+)/gm);
    expect(paths).toEqual([expect.stringContaining('path="fast"')]);
  });

  it('with v2 bodies (protobuf points), workers write PBPoints records and the dataway receives the same points', async () => {
    const env = { ENV_GLOBAL_HOST_TAGS: 'host=__datakit_hostname,zone=z1', ENV_DATAWAY_CONTENT_ENCODING: 'v2' };
    const [t2, i2] = await Promise.all([startTestAgent({ conf: CONF(2), env }), startTestAgent({ conf: CONF(-1), env })]);
    try {
      for (const a of [t2, i2]) {
        expect((await post(a, '/v0.4/traces', 'application/msgpack', DD)).status).toBe(200);
        expect((await post(a, '/api/v2/spans', 'application/json', ZK)).status).toBe(202);
      }
      const zkCount = JSON.parse(ZK.toString()).length;
      const [t, i] = await Promise.all(
        [t2, i2].map(async (a) => {
          await a.dataway.waitForPoints('tracing', 4 + zkCount);
          return { dd: byId(a.dataway.points('tracing', 'ddtrace')), zk: byId(a.dataway.points('tracing', 'zipkin')), types: a.dataway.requests.map((r) => r.headers['content-type']) };
        }),
      );
      expect(t!.dd).toHaveLength(4);
      expect(t!.dd).toEqual(i!.dd);
      expect(t!.zk).toEqual(i!.zk);
      expect(new Set(t!.types)).toEqual(new Set(['application/protobuf; proto=com.guance.Point']));
      // decoded in workers (the generic path: the byte-level fast path writes line protocol only)
      const metrics = await (await fetch(t2.url + '/metrics')).text();
      expect(metrics).toMatch(/^telekit_ddtrace_workers [12]$/m);
      expect(metrics).toMatch(/^telekit_ddtrace_worker_requests_total\{path="generic"\} [1-9]/m);
    } finally {
      await Promise.all([t2.stop(), i2.stop()]);
    }
  });

  it('answers bad payloads with the same 4xx and reason', async () => {
    const bad: [string, string, Uint8Array | string][] = [
      ['/v0.4/traces', 'application/msgpack', new Uint8Array([0x93, 0xc1, 0xff])],
      ['/v0.4/traces', 'application/msgpack', DD.subarray(0, DD.length - 7)],
      ['/v0.5/traces', 'text/plain', 'x'],
      ['/api/v2/spans', 'application/json', '[{"traceId":"zz"}]'],
      ['/api/v2/spans', 'application/x-protobuf', new Uint8Array([0x0a, 0xff, 0x01])],
    ];
    for (const [route, ct, body] of bad) {
      const [a, b] = await Promise.all([post(threaded, route, ct, body), post(inline, route, ct, body)]);
      expect(a.status, route).toBeGreaterThanOrEqual(400);
      expect(a.status, route).toBeLessThan(500);
      expect(a.status, route).toBe(b.status);
      expect(await a.text(), route).toBe(await b.text());
    }
  });
});
