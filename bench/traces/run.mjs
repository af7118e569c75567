// bench/traces: spans/s for ddtrace v0.4 msgpack, Zipkin v2 JSON, OTLP/HTTP protobuf and OTLP/gRPC.
//
//   npm run build && node --expose-gc bench/traces/run.mjs [--runs 3] [--seconds 4] [--encoding v1|v2] [--only ddtrace|zipkin|otlp|otlp-grpc]
//     [--ab <other dist/ dir>]  also runs that build end to end, alternating with this one (A/B in the same run)
//     [--e2e-only]              skips the in-process loops
//     [--in-flight N]           requests in flight end to end (4)
//     [--grpc-channels N]       OTLP/gRPC: HTTP/2 connections the calls are spread over (1)
//   (PROFILE_DIR=/tmp/x writes a CPU profile of the agent process; BENCH_DIAG=/tmp/x.jsonl an RSS series, GC counts and
//    the tracing queue at the peak per agent run, see agent-server.mjs)
//
// In one run, for each format:
//   floor        decode + minimal points (no message) + line-protocol encode + gzip(3), one loop, no HTTP
//   floor+json   the same with `message` = JSON.stringify(span) (the naive way)
//   in-process   telekit's input handler (decode, convert, filters, points with message) + encode + gzip, no HTTP
//   end-to-end   the real Agent in its own process (dist/): HTTP in (4 connections, 500 spans a request)
//                → tracing queue → dataway sink (gzip) → a counting HTTP sink in this process.
//                Spans/s counted at the sink (X-Points), agent CPU-seconds and peak RSS.
// Figures: spans/s and CPU are the median of --runs (the run with the median spans per CPU-second);
// peak RSS is the highest of all runs (the agent's RSS sampled every 50 ms).
import zlib from 'node:zlib';
import { Pool } from 'undici';
import { Unpackr } from 'msgpackr';
import { encodeV1 } from '../../dist/agent/delivery/sinks/encode.js';
import { fakeContext } from '../../dist/test/helpers/fake-context.js';
import { DdtraceInput } from '../../dist/inputs/ddtrace/input.js';
import { schema as ddSchema } from '../../dist/inputs/ddtrace/config.js';
import { ZipkinInput } from '../../dist/inputs/zipkin/input.js';
import { schema as zkSchema } from '../../dist/inputs/zipkin/config.js';
import { OtelInput } from '../../dist/inputs/opentelemetry/input.js';
import { schema as otelSchema } from '../../dist/inputs/opentelemetry/config.js';
import * as grpc from '@grpc/grpc-js';
import { createRequire } from 'node:module';
import { ddtraceBody, zipkinBody, otlpProtoBody, SPANS_PER_REQUEST } from './payloads.mjs';
import { countingSink, loopRate, measureWindow, startAgent } from './measure.mjs';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const RUNS = Number(arg('runs', 3));
const SECONDS = Number(arg('seconds', 4));
const ENCODING = arg('encoding', 'v1');
const AB = arg('ab', '');
const E2E_ONLY = process.argv.includes('--e2e-only');
const MAX_BODY = 1 << 20;
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const fmt = (n) => Math.round(n).toLocaleString('en-US');

const BODIES = { ddtrace: ddtraceBody(), zipkin: zipkinBody(), otlp: otlpProtoBody() };
BODIES['otlp-grpc'] = BODIES.otlp;
const OtlpRequest = createRequire(import.meta.url)('otlp-proto-root/build/src/generated/root.js').opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
const long = (v) => (typeof v === 'object' ? (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0) : BigInt(v));
const ROUTE = { ddtrace: '/v0.4/traces', zipkin: '/api/v2/spans', otlp: '/otel/v1/traces' };
const CT = { ddtrace: 'application/msgpack', zipkin: 'application/json', otlp: 'application/x-protobuf' };
const unpackr = new Unpackr({ int64AsType: 'string', mapsAsObjects: true, useRecords: false });

/** The naive floor: decode, a point per span with the same tags/fields minus extras, encode, gzip. */
function floorOnce(kind, withMessage) {
  const body = BODIES[kind];
  const points = [];
  if (kind === 'ddtrace') {
    for (const trace of unpackr.unpack(body)) {
      for (const s of trace) {
        const fields = { trace_id: String(s.trace_id), span_id: String(s.span_id), parent_id: String(s.parent_id), resource: s.resource, start: BigInt(Math.floor(Number(s.start) / 1000)), duration: BigInt(Math.floor(Number(s.duration) / 1000)) };
        if (withMessage) fields.message = JSON.stringify(s);
        points.push({ category: 'tracing', name: 'ddtrace', tags: { service: s.service, operation: s.name, env: s.meta.env, version: s.meta.version, status: s.error ? 'error' : 'ok' }, fields, time: BigInt(s.start) });
      }
    }
  } else if (kind.startsWith('otlp')) {
    for (const rs of OtlpRequest.decode(body).resourceSpans) {
      const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
      for (const ss of rs.scopeSpans) {
        for (const s of ss.spans) {
          const tags = { service, operation: s.name, status: s.status?.code === 2 ? 'error' : 'ok' };
          for (const a of s.attributes) if (a.value.stringValue != null) tags[a.key.replaceAll('.', '_')] = a.value.stringValue;
          const start = long(s.startTimeUnixNano);
          const fields = { trace_id: Buffer.from(s.traceId).toString('hex'), span_id: Buffer.from(s.spanId).toString('hex'), parent_id: s.parentSpanId?.length ? Buffer.from(s.parentSpanId).toString('hex') : '0', resource: s.name, start: start / 1000n, duration: (long(s.endTimeUnixNano) - start) / 1000n };
          if (withMessage) fields.message = JSON.stringify(s.attributes);
          points.push({ category: 'tracing', name: 'opentelemetry', tags, fields, time: start });
        }
      }
    }
  } else {
    for (const s of JSON.parse(body.toString('utf8'))) {
      const tags = { service: s.localEndpoint?.serviceName ?? '', operation: s.name, status: s.tags?.error ? 'error' : 'ok' };
      for (const k in s.tags) tags[k.replaceAll('.', '_')] = s.tags[k];
      const fields = { trace_id: s.traceId, span_id: s.id, parent_id: s.parentId ?? '0', resource: s.name, start: BigInt(s.timestamp), duration: BigInt(s.duration) };
      if (withMessage) fields.message = JSON.stringify(s);
      points.push({ category: 'tracing', name: 'zipkin', tags, fields, time: BigInt(s.timestamp) * 1000n });
    }
  }
  return encodeAndGzip(points);
}

function encodeAndGzip(points) {
  let n = 0;
  for (const b of encodeV1(points, 0n, MAX_BODY)) n += zlib.gzipSync(b.data, { level: 3 }).length;
  return n;
}

/** telekit's handler in process (fake context: points captured), then encode + gzip. */
async function inProcess(kind) {
  const ctx = fakeContext(kind.startsWith('otlp') ? 'opentelemetry' : kind);
  const input = kind === 'ddtrace' ? new DdtraceInput(ddSchema.defaultValue(), ctx) : kind === 'zipkin' ? new ZipkinInput(zkSchema.defaultValue(), ctx) : new OtelInput({ ...otelSchema.defaultValue(), grpc: { ...otelSchema.defaultValue().grpc, addr: '' } }, ctx);
  await input.start();
  const route = ROUTE[kind.startsWith('otlp') ? 'otlp' : kind];
  const ct = CT[kind.startsWith('otlp') ? 'otlp' : kind];
  const h = ctx.routes.get(`POST ${route}`);
  return async () => {
    ctx.points.length = 0;
    const r = await h({ method: 'POST', path: route, query: {}, headers: { 'content-type': ct }, body: BODIES[kind], remoteAddress: '' });
    if (r.status >= 300) throw new Error(`status ${r.status}`);
    return encodeAndGzip(ctx.points);
  };
}

async function endToEnd(kind, sink, dist) {
  const execArgv = [...(process.env.PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PROFILE_DIR}`] : []), ...(process.env.BENCH_AGENT_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  const agent = await startAgent(sink, ENCODING, { execArgv, env: dist ? { ...process.env, AGENT_DIST: dist } : process.env });
  const pool = new Pool(agent.ready.url, { connections: 4, pipelining: 1 });
  const route = ROUTE[kind];
  const headers = { 'content-type': CT[kind] };
  // OTLP/gRPC: --grpc-channels HTTP/2 connections (default 1), 4 calls in flight over them; the client's channelz
  // statistics off (they cost this process timestamps and counters per call, on the box the agent runs on)
  const channels = kind === 'otlp-grpc' ? Number(arg('grpc-channels', 1)) : 0;
  const grpcClients = Array.from({ length: channels }, () => new grpc.Client(`127.0.0.1:${agent.ready.grpcPort}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1, 'grpc.enable_channelz': 0 }));
  const grpcClient = grpcClients[0];
  let nextClient = 0;
  const bytes = (b) => b;
  const grpcCall = () => new Promise((r) => grpcClients[nextClient++ % channels].makeUnaryRequest('/opentelemetry.proto.collector.trace.v1.TraceService/Export', bytes, bytes, BODIES[kind], new grpc.Metadata(), (err) => r(err ? 503 : 200)));
  const send = async () => {
    if (grpcClient) return grpcCall();
    const r = await pool.request({ method: 'POST', path: route, headers, body: BODIES[kind] });
    await r.body.dump();
    return r.statusCode;
  };
  const m = await measureWindow(agent, sink, SECONDS, send, Number(arg('in-flight', 4)));
  await pool.close();
  for (const c of grpcClients) c.close();
  const metrics = await (await fetch(`${agent.ready.url}/metrics`)).text();
  const sum = (re) => metrics.split('\n').filter((l) => re.test(l)).reduce((a, l) => a + Number(l.split(' ').pop()), 0);
  const dropped = sum(/^telekit_points_dropped_total\{category="tracing"/);
  await agent.stop();
  return { ...m, dropped };
}

const sink = await countingSink('tracing');
const notes = [];
console.log(`bench/traces: ${SPANS_PER_REQUEST} spans a request, ${RUNS} runs × ${SECONDS}s end to end, dataway encoding ${ENCODING}, node ${process.version}`);
console.log('Spans per CPU-second (wall spans/s in brackets: on a shared box the CPU figures are the steadier ones).');
console.log('| format | floor | floor+JSON.stringify message | telekit in-process | telekit end-to-end | end-to-end agent CPU (cores) | agent peak RSS MiB (highest of runs; each run) | 503s | dropped |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const kind of (arg('only', '') ? arg('only', '').split(',') : ['ddtrace', 'zipkin', 'otlp', 'otlp-grpc'])) {
  const fl = [], flj = [], inp = [], e2e = [], base = [];
  const run = E2E_ONLY ? undefined : await inProcess(kind);
  for (let i = 0; i < RUNS; i++) {
    if (run) {
      fl.push(await loopRate(() => floorOnce(kind, false), SPANS_PER_REQUEST));
      flj.push(await loopRate(() => floorOnce(kind, true), SPANS_PER_REQUEST));
      inp.push(await loopRate(run, SPANS_PER_REQUEST));
    }
    if (AB && i % 2 === 1) base.push(await endToEnd(kind, sink, AB));
    e2e.push(await endToEnd(kind, sink));
    if (AB && i % 2 === 0) base.push(await endToEnd(kind, sink, AB));
  }
  const cell = (xs) => (xs.length === 0 ? '-' : `${fmt(median(xs.map((x) => x.cpu)))} (${fmt(median(xs.map((x) => x.wall)))})`);
  const label = { ddtrace: 'ddtrace v0.4 msgpack', zipkin: 'zipkin v2 JSON', otlp: 'OTLP/HTTP protobuf', 'otlp-grpc': 'OTLP/gRPC' }[kind];
  const row = (name, runs) => {
    const m = [...runs].sort((a, b) => a.perCpuSec - b.perCpuSec)[runs.length >> 1];
    const peak = Math.max(...runs.map((r) => r.peakRssMB));
    const top = runs.find((r) => r.peakRssMB === peak).atPeak;
    notes.push(`${name}: each run in order, spans/s (agent cores, spans per agent CPU-s): ${runs.map((r) => `${fmt(r.rate)} (${r.cpuPerSec.toFixed(2)}, ${fmt(r.perCpuSec)})`).join('; ')}; median spans/s ${fmt(median(runs.map((r) => r.rate)))}`);
    notes.push(`${name}: the bench process (clients, counting sink) used ${runs.map((r) => r.benchCpuPerSec.toFixed(2)).join(', ')} cores`);
    const t = m.threads;
    const us = (s) => ((s / m.points) * 1e6).toFixed(2);
    if (t && m.points > 0) notes.push(`${name}: agent CPU a span (µs, the median run, by thread): main ${us(t.main)}, trace workers ${us(t.late)} (${t.lateEach.map(us).join(' + ')}), V8 platform threads and libuv's pool (gzip) ${us(t.early)} (${t.earlyEach.filter((x) => x > 0).map(us).join(' + ')}); total ${us(t.main + t.early + t.late)}; the main thread in each run: ${runs.map((r) => (r.threads && r.points > 0 ? ((r.threads.main / r.points) * 1e6).toFixed(2) : '-')).join(', ')}`);
    if (top) notes.push(`${name}: at the highest sampled RSS (${(top.rss / 2 ** 20).toFixed(0)} MiB) the main thread's V8 heap used ${(top.heapUsed / 2 ** 20).toFixed(0)} of ${(top.heapTotal / 2 ** 20).toFixed(0)} MiB reserved, external ${(top.external / 2 ** 20).toFixed(0)} MiB (ArrayBuffers ${(top.arrayBuffers / 2 ** 20).toFixed(0)}); the rest is worker isolates, code, malloc and node itself${top.queuedBytes === undefined ? '' : `; tracing queue ${(top.queuedBytes / 2 ** 20).toFixed(1)} MiB est. (${top.queuedPoints} lines), anonymous RSS ${(top.anon / 2 ** 20).toFixed(0)} MiB, file-backed ${(top.file / 2 ** 20).toFixed(0)}, at ${top.atMs} ms`}`);
    console.log(`| ${name} | ${cell(fl)} | ${cell(flj)} | ${cell(inp)} | **${fmt(m.perCpuSec)}** (${fmt(m.rate)}) | ${m.cpuPerSec.toFixed(2)} | ${peak.toFixed(0)} (${runs.map((r) => r.peakRssMB.toFixed(0)).join(', ')}) | ${m.rejected} | ${m.dropped} |`);
  };
  row(label, e2e);
  if (AB) row(`${label}, baseline ${AB}`, base);
}
for (const n of notes) console.log(`- ${n}`);
sink.server.close();
