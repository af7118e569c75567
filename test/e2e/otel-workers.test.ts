/**
 * OTLP requests in worker threads: an agent decoding in workers and one
 * decoding on the main thread give the same points at the dataway (traces,
 * metrics and logs; protobuf and JSON, over HTTP and gRPC), with the core's tags.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';
import { encodeOtlp } from '../helpers/otlp-encode.js';
import { freePort } from '../helpers/wait.js';
import type { DecodedPoint } from '../../agent/model/lineproto.js';

const ISTIO = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '../../inputs/opentelemetry/testdata/istio/otlp.json'), 'utf8')) as { resourceSpans: { scopeSpans: { spans: { traceId: string }[] }[] }[] };
/** The request with its trace id changed, so each transport's spans can be told apart. */
function withTrace(tid: string): unknown {
  const r = structuredClone(ISTIO);
  for (const rs of r.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) s.traceId = tid;
  return r;
}

let threaded: TestAgent;
let inline: TestAgent;
const ports: number[] = [];
beforeAll(async () => {
  ports.push(await freePort(), await freePort());
  const conf = (workers: number, port: number) => ({ 'otel.conf': `[[inputs.opentelemetry]]\nworkers = ${workers}\ncustomer_tags = ["reg:^istio\\\\."]\n[inputs.opentelemetry.grpc]\naddr = "127.0.0.1:${port}"\n[inputs.opentelemetry.tags]\nteam = "t1"\n` });
  const env = { ENV_GLOBAL_HOST_TAGS: 'host=__datakit_hostname,zone=z1' };
  [threaded, inline] = await Promise.all([startTestAgent({ conf: conf(2, ports[0]!), env }), startTestAgent({ conf: conf(-1, ports[1]!), env })]);
});
afterAll(async () => {
  await Promise.all([threaded?.stop(), inline?.stop()]);
});

function grpcExport(port: number, body: Buffer): Promise<grpc.ServiceError | null> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return new Promise((resolve) =>
    client.makeUnaryRequest('/opentelemetry.proto.collector.trace.v1.TraceService/Export', (b: Buffer) => b, (b: Buffer) => b, body, new grpc.Metadata(), (err) => {
      client.close();
      resolve(err);
    }),
  );
}

const sorted = (pts: DecodedPoint[]) => [...pts].sort((x, y) => `${x.fields.trace_id}${x.fields.span_id}`.localeCompare(`${y.fields.trace_id}${y.fields.span_id}`));

it('workers give the same points as the main thread, over HTTP (protobuf, JSON) and gRPC', async () => {
  const tids = ['11111111111111111111111111111111', '22222222222222222222222222222222', '33333333333333333333333333333333'];
  for (const [a, port] of [[threaded, ports[0]!], [inline, ports[1]!]] as const) {
    let r = await fetch(`${a.url}/otel/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array(encodeOtlp('traces', withTrace(tids[0]!))) });
    expect(r.status).toBe(200);
    r = await fetch(`${a.url}/otel/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(withTrace(tids[1]!)) });
    expect(r.status).toBe(200);
    expect(await grpcExport(port, encodeOtlp('traces', withTrace(tids[2]!)))).toBeNull();
  }
  const [t, i] = (await Promise.all([threaded, inline].map(async (a) => sorted(await a.dataway.waitForPoints('tracing', 9, { name: 'opentelemetry' }))))) as [DecodedPoint[], DecodedPoint[]];
  expect(t).toHaveLength(9);
  expect(t).toEqual(i);
  expect(t[0]!.tags).toMatchObject({ team: 't1', zone: 'z1', host: 'test-host', istio_canonical_service: 'productpage' });
  const metrics = await (await fetch(threaded.url + '/metrics')).text();
  expect(metrics).toMatch(/^telekit_opentelemetry_workers [12]$/m);
  // protobuf (HTTP and gRPC) through the byte-level fast path (lines.ts), JSON through the generic one
  expect(metrics).toMatch(/^telekit_opentelemetry_worker_requests_total\{path="fast"\} 2$/m);
  expect(metrics).toMatch(/^telekit_opentelemetry_worker_requests_total\{path="generic"\} 1$/m);
  expect(await (await fetch(inline.url + '/metrics')).text()).toMatch(/^telekit_opentelemetry_workers 0$/m);
});

it('metrics in worker threads give the same otel_service points as the main thread; bad bodies the same answer', async () => {
  const metrics = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '../../inputs/opentelemetry/testdata/metrics.json'), 'utf8')) as unknown;
  for (const a of [threaded, inline]) {
    let r = await fetch(`${a.url}/otel/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array(encodeOtlp('metrics', metrics)) });
    expect(r.status).toBe(200);
    r = await fetch(`${a.url}/otel/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(metrics) });
    expect(r.status).toBe(200);
  }
  // 2 sums/gauges + 1 histogram stats + 3 buckets + 1 exponential + 1 summary + 1 quantile = 9 points a request
  const key = (p: DecodedPoint) => JSON.stringify([Object.keys(p.fields).sort(), p.tags.le, p.tags.quantile, p.time?.toString()]);
  const [t, i] = (await Promise.all([threaded, inline].map(async (a) => [...(await a.dataway.waitForPoints('metric', 18, { name: 'otel_service' }))].sort((x, y) => key(x).localeCompare(key(y)))))) as unknown as [DecodedPoint[], DecodedPoint[]];
  expect(t).toHaveLength(18);
  expect(t).toEqual(i);
  expect(t.find((p) => 'orders' in p.fields)!.tags).toMatchObject({ service_name: 'shop', route: '/a', unit: '1', __temporality: 'cumulative', team: 't1', zone: 'z1', host: 'test-host' });
  const bad = new Uint8Array([0x0a, 0xff, 0xff, 0x01]);
  const [a, b] = await Promise.all([threaded, inline].map((x) => fetch(`${x.url}/otel/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: bad })));
  expect(a!.status).toBe(400);
  expect(a!.status).toBe(b!.status);
  expect(Buffer.from(await a!.arrayBuffer())).toEqual(Buffer.from(await b!.arrayBuffer()));
  const m = await (await fetch(threaded.url + '/metrics')).text();
  expect(m).toMatch(/^telekit_opentelemetry_points_total\{signal="metrics",result="accepted"\} 18$/m);
  // decoded in a metrics worker thread
  expect(m).toMatch(/^telekit_opentelemetry_metric_workers [12]$/m);
  expect(m).not.toMatch(/^telekit_input_errors_total\{[^}]*input="opentelemetry"/m);
});

it('logs in worker threads give the same logging points as the main thread; bad bodies the same answer', async () => {
  const logs = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '../../inputs/opentelemetry/testdata/logs.json'), 'utf8')) as { resourceLogs: { scopeLogs: { logRecords: unknown[] }[] }[] };
  let records = 0;
  for (const rl of logs.resourceLogs) for (const sl of rl.scopeLogs) records += sl.logRecords.length;
  for (const a of [threaded, inline]) {
    let r = await fetch(`${a.url}/otel/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array(encodeOtlp('logs', logs)) });
    expect(r.status).toBe(200);
    r = await fetch(`${a.url}/otel/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(logs) });
    expect(r.status).toBe(200);
  }
  const key = (p: DecodedPoint) => JSON.stringify([p.name, p.fields.message, p.time?.toString()]);
  const [t, i] = (await Promise.all([threaded, inline].map(async (a) => [...(await a.dataway.waitForPoints('logging', 2 * records))].sort((x, y) => key(x).localeCompare(key(y)))))) as unknown as [DecodedPoint[], DecodedPoint[]];
  expect(t).toHaveLength(2 * records);
  expect(t).toEqual(i);
  expect(t[0]!.tags).toMatchObject({ team: 't1', zone: 'z1' });
  const bad = new Uint8Array([0x0a, 0xff, 0xff, 0x01]);
  const [a, b] = await Promise.all([threaded, inline].map((x) => fetch(`${x.url}/otel/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: bad })));
  expect(a!.status).toBe(400);
  expect(a!.status).toBe(b!.status);
  expect(Buffer.from(await a!.arrayBuffer())).toEqual(Buffer.from(await b!.arrayBuffer()));
  const m = await (await fetch(threaded.url + '/metrics')).text();
  expect(m).toMatch(new RegExp(`^telekit_opentelemetry_points_total\\{signal="logs",result="accepted"\\} ${2 * records}$`, 'm'));
  // decoded in a logs worker thread
  expect(m).toMatch(/^telekit_opentelemetry_logs_workers [12]$/m);
  expect(await (await fetch(inline.url + '/metrics')).text()).not.toMatch(/^telekit_opentelemetry_logs_workers [12]$/m);
  expect(m).not.toMatch(/^telekit_input_errors_total\{[^}]*input="opentelemetry"/m);
});
