/**
 * OTLP forwarding end to end: with ENV_OTLP_TRACES_ENDPOINT set, spans sent to
 * the ddtrace and zipkin inputs reach both the dataway and a local OTLP/HTTP
 * receiver, with the same ids.
 */
import { Packr } from 'msgpackr';
import { afterEach, expect, it } from 'vitest';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { waitFor } from '../helpers/wait.js';
import { otlpReceiver } from '../helpers/otlp.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

it('forwards ddtrace and zipkin spans to OTLP as well as to the dataway', async () => {
  const receiver = await otlpReceiver();
  cleanups.push(() => receiver.close());
  const { spans, url: otlp } = receiver;
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
  // only traces reach the OTLP endpoint, each with the configured header
  expect(receiver.requests.every((r) => r.url === '/v1/traces')).toBe(true);
  expect(receiver.requests.every((r) => r.headers.authorization === 'Bearer tempo-token')).toBe(true);
});
