/**
 * Fuzzing every trace route: random bytes, random text and mutations of valid
 * payloads (truncations included) with every content type. In process the
 * handlers must answer (never throw) with 2xx/4xx/503; through the real agent
 * over HTTP (gzip too) nothing may crash and memory stays bounded.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeContext } from '../helpers/fake-context.js';
import { DdtraceInput } from '../../inputs/ddtrace/input.js';
import { schema as ddSchema } from '../../inputs/ddtrace/config.js';
import { ZipkinInput } from '../../inputs/zipkin/input.js';
import { schema as zkSchema } from '../../inputs/zipkin/config.js';
import { OtelInput } from '../../inputs/opentelemetry/input.js';
import { schema as otelSchema } from '../../inputs/opentelemetry/config.js';
import { encodeOtlp } from '../helpers/otlp-encode.js';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { fuzzAsync, inputs, RUNS, SEED } from '../fuzz/harness.js';

const ZK_DATA = path.join(import.meta.dirname, '../../inputs/zipkin/testdata/istio');
const OTEL_DATA = path.join(import.meta.dirname, '../../inputs/opentelemetry/testdata');
const otelJson = (f: string) => fs.readFileSync(path.join(OTEL_DATA, f), 'utf8');
const packr = new Packr({ useRecords: false });
const ddSpan = { service: 's', name: 'n', resource: 'r', trace_id: 123456789012345678n, span_id: 2n, parent_id: 0n, start: 1_732_000_000_000_000_000n, duration: 1000n, error: 0, meta: { env: 'x', '_dd.p.tid': 'abcdef0000000000' }, metrics: { _sampling_priority_v1: 1 }, type: 'web' };
const SEEDS = {
  v04: [packr.pack([[ddSpan, { ...ddSpan, span_id: 3n, parent_id: 2n }]])],
  v05: [packr.pack([['', 's', 'n', 'r', 'env', 'x'], [[[1, 2, 3, 99n, 5n, 0n, 1_732_000_000_000_000_000n, 1000n, 0, { 4: 5 }, {}, 0]]]])],
  json: [JSON.stringify([[{ ...ddSpan, trace_id: 1, span_id: 2, parent_id: 0, start: 1, duration: 1000 }]])],
  zkJson: [fs.readFileSync(path.join(ZK_DATA, 'v2.json'), 'utf8')],
  zkPb: [fs.readFileSync(path.join(ZK_DATA, 'v2.pb'))],
  zkThrift: [Buffer.from([12, 0, 0, 0, 1, 10, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 11, 0, 3, 0, 0, 0, 1, 0x78, 10, 0, 4, 0, 0, 0, 0, 0, 0, 0, 9, 15, 0, 8, 12, 0, 0, 0, 1, 11, 0, 1, 0, 0, 0, 1, 0x6b, 11, 0, 2, 0, 0, 0, 1, 0x76, 8, 0, 3, 0, 0, 0, 6, 0, 0])],
  otelTraces: [encodeOtlp('traces', JSON.parse(otelJson('istio/otlp.json'))), otelJson('istio/otlp.json')],
  otelMetrics: [encodeOtlp('metrics', JSON.parse(otelJson('metrics.json'))), otelJson('metrics.json')],
  otelLogs: [encodeOtlp('logs', JSON.parse(otelJson('logs.json'))), otelJson('logs.json')],
  zkV1: [JSON.stringify([{ traceId: 'a1', id: 'b2', name: 'x', annotations: [{ timestamp: 1, value: 'sr', endpoint: { serviceName: 's' } }], binaryAnnotations: [{ key: 'error', value: 'e' }] }])],
};
const CTS = ['application/msgpack', 'application/json', 'application/x-protobuf', 'application/x-thrift', 'text/plain', ''];

/** Route, content type and body: where each seed family goes, and any content type now and then. */
const ROUTES: [string, keyof typeof SEEDS, string][] = [
  ['/v0.4/traces', 'v04', 'application/msgpack'],
  ['/v0.3/traces', 'json', 'application/json'],
  ['/v0.5/traces', 'v05', 'application/msgpack'],
  ['/api/v2/spans', 'zkJson', 'application/json'],
  ['/api/v2/spans', 'zkPb', 'application/x-protobuf'],
  ['/api/v1/spans', 'zkV1', 'application/json'],
  ['/api/v1/spans', 'zkThrift', 'application/x-thrift'],
  ['/otel/v1/traces', 'otelTraces', 'application/x-protobuf'],
  ['/otel/v1/traces', 'otelTraces', 'application/json'],
  ['/otel/v1/metrics', 'otelMetrics', 'application/x-protobuf'],
  ['/otel/v1/logs', 'otelLogs', 'application/json'],
];

function caseArb() {
  return fc.oneof(
    ...ROUTES.map(([route, seeds, ct]) =>
      fc.record({ route: fc.constant(route), ct: fc.oneof({ arbitrary: fc.constant(ct), weight: 5 }, { arbitrary: fc.constantFrom(...CTS), weight: 1 }), body: inputs(SEEDS[seeds], 8192) }),
    ),
  );
}

describe('trace routes under fuzzing', () => {
  it('in process: every answer is 2xx/4xx, no handler throws', async () => {
    const ctx = fakeContext('ddtrace');
    const zctx = fakeContext('zipkin');
    const dd = new DdtraceInput(ddSchema.defaultValue()!, ctx);
    const zk = new ZipkinInput(zkSchema.defaultValue()!, zctx);
    const octx = fakeContext('opentelemetry');
    const otel = new OtelInput({ ...otelSchema.defaultValue()!, grpc: { ...otelSchema.defaultValue()!.grpc, addr: '' } }, octx);
    await dd.start();
    await zk.start();
    await otel.start();
    const statuses = new Map<number, number>();
    await fuzzAsync(caseArb(), async (c) => {
      const target = c.route.startsWith('/api') ? zctx : c.route.startsWith('/otel') ? octx : ctx;
      const h = target.routes.get(`POST ${c.route}`)!;
      const r = await h({ method: 'POST', path: c.route, query: {}, headers: { 'content-type': c.ct }, body: c.body, remoteAddress: '127.0.0.1' });
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      if (!(r.status < 300 || (r.status >= 400 && r.status < 500))) throw new Error(`status ${r.status}`);
      if (r.status >= 400 && String(r.body ?? '').length < 5) throw new Error('4xx without a reason');
    }, { numRuns: RUNS * 4 });
    await otel.stop();
    expect(ctx.errors.concat(zctx.errors, octx.errors)).toEqual([]);
    // the fuzzer reached both outcomes
    expect([...statuses.keys()].some((s) => s >= 400)).toBe(true);
    expect([...statuses.keys()].some((s) => s < 300)).toBe(true);
  });

  describe('through the agent over HTTP', () => {
    let a: TestAgent;
    beforeAll(async () => {
      a = await startTestAgent({ conf: { 'ddtrace/ddtrace.conf': '[[inputs.ddtrace]]\nmax_trace_body_mb = 1\n', 'zipkin/zipkin.conf': '[[inputs.zipkin]]\nmax_trace_body_mb = 1\n', 'otel.conf': '[[inputs.opentelemetry]]\n[inputs.opentelemetry.grpc]\naddr = ""\n' } });
    });
    afterAll(async () => {
      await a?.stop();
    });

    it('answers random, truncated and gzip payloads without crashing; memory stays bounded', async () => {
      const samples = fc.sample(fc.tuple(caseArb(), fc.boolean()), { seed: SEED, numRuns: Math.min(RUNS, 200) });
      const rss0 = process.memoryUsage().rss;
      for (const [c, gz] of samples) {
        let body = c.body;
        const headers: Record<string, string> = { 'content-type': c.ct };
        if (gz) {
          body = zlib.gzipSync(body);
          if (body.length % 3 === 0) body = body.subarray(0, body.length >> 1); // truncated gzip
          headers['content-encoding'] = 'gzip';
        }
        const r = await fetch(a.url + c.route, { method: 'POST', headers, body: new Uint8Array(body) });
        await r.arrayBuffer();
        expect(r.status === 200 || r.status === 202 || (r.status >= 400 && r.status < 500), `${c.route} ${c.ct} → ${r.status}`).toBe(true);
      }
      // oversized bodies: 413 from the core
      const big = await fetch(a.url + '/api/v2/spans', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[' + ' '.repeat(2 * 1024 * 1024) + ']' });
      expect(big.status).toBe(413);
      // a zip bomb (16 MiB of zeros, gzipped) is refused, not inflated into memory
      const bomb = zlib.gzipSync(Buffer.alloc(16 * 1024 * 1024));
      const rb = await fetch(a.url + '/v0.4/traces', { method: 'POST', headers: { 'content-type': 'application/msgpack', 'content-encoding': 'gzip' }, body: new Uint8Array(bomb) });
      expect(rb.status).toBeGreaterThanOrEqual(400);
      expect(rb.status).toBeLessThan(500);
      // still healthy: a valid payload goes through
      const ok = await fetch(a.url + '/v0.4/traces', { method: 'POST', headers: { 'content-type': 'application/msgpack' }, body: new Uint8Array(SEEDS.v04[0]!) });
      expect(ok.status).toBe(200);
      // the OTLP routes answer after the fuzzing, and every refusal was counted
      const otlpOk = await fetch(a.url + '/otel/v1/traces', { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array(SEEDS.otelTraces[0] as Buffer) });
      expect(otlpOk.status).toBe(200);
      const otelMetrics = await (await fetch(a.url + '/metrics')).text();
      expect(otelMetrics).toMatch(/^telekit_opentelemetry_requests_total\{[^}]*code="4\d\d"[^}]*\} [1-9]/m);
      // ddtrace's byte-level fast path (in the worker threads) took the valid payload, and never threw on the fuzzed ones
      const metrics = await (await fetch(a.url + '/metrics')).text();
      expect(Number(metrics.match(/^telekit_ddtrace_worker_requests_total\{path="fast"\} (\d+)/m)?.[1] ?? 0)).toBeGreaterThan(0);
      expect(metrics).not.toMatch(/^telekit_input_errors_total\{[^}]*kind="fast_path"[^}]*\} [1-9]/m);
      expect((process.memoryUsage().rss - rss0) / 2 ** 20).toBeLessThan(300);
    }, 60_000);
  });
});
