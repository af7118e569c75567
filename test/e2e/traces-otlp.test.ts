/**
 * OTLP forwarding end to end: with ENV_OTLP_TRACES_ENDPOINT set, spans sent to
 * the ddtrace and zipkin inputs reach both the dataway and a local OTLP/HTTP
 * receiver, with the same ids.
 */
import http from 'node:http';
import zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { Packr } from 'msgpackr';
import { afterEach, expect, it } from 'vitest';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { waitFor } from '../helpers/wait.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

it('forwards ddtrace and zipkin spans to OTLP as well as to the dataway', async () => {
  const spans: { traceId: string; spanId: string; parentSpanId?: string; name: string }[] = [];
  let metricBodies = 0;
  const auth: (string | undefined)[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(body);
      if (req.url !== '/v1/traces') metricBodies++;
      auth.push(req.headers.authorization);
      const msg = JSON.parse(body.toString('utf8'));
      for (const rs of msg.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) spans.push(...ss.spans);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  const otlp = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
  const a: TestAgent = await startTestAgent({
    conf: { 'ddtrace/ddtrace.conf': '[[inputs.ddtrace]]\n', 'zipkin/zipkin.conf': '[[inputs.zipkin]]\n' },
    env: { ENV_OTLP_TRACES_ENDPOINT: otlp, ENV_OTLP_TRACES_HEADERS: 'authorization=Bearer tempo-token' },
  });
  cleanups.push(() => a.stop());

  const packr = new Packr({ useRecords: false });
  const dd = [[{ service: 's', name: 'op', resource: 'GET /x', trace_id: 1000n, span_id: 2000n, parent_id: 0n, start: 1_732_000_000_000_000_000n, duration: 5_000n, error: 0, meta: {}, metrics: {}, type: 'web' }]];
  let r = await fetch(`${a.url}/v0.4/traces`, { method: 'PUT', headers: { 'content-type': 'application/msgpack' }, body: new Uint8Array(packr.pack(dd)) });
  expect(r.status).toBe(200);
  const zk = [{ traceId: 'aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbb', id: 'cccccccccccccccc', parentId: 'dddddddddddddddd', name: 'zk-op', timestamp: 1732000000000000, duration: 10, localEndpoint: { serviceName: 'z' } }];
  r = await fetch(`${a.url}/api/v2/spans`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(zk) });
  expect(r.status).toBe(202);

  await waitFor(() => spans.length >= 2, { timeoutMs: 15_000, what: 'OTLP spans' });
  expect(spans.find((s) => s.name === 'GET /x')).toMatchObject({ traceId: (1000).toString(16).padStart(32, '0'), spanId: (2000).toString(16).padStart(16, '0') });
  expect(spans.find((s) => s.name === 'zk-op')).toMatchObject({ traceId: 'aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbb', spanId: 'cccccccccccccccc', parentSpanId: 'dddddddddddddddd' });
  await a.dataway.waitForPoints('tracing', 2);
  expect(metricBodies).toBe(0);
  expect(auth.every((h) => h === 'Bearer tempo-token')).toBe(true);
});
