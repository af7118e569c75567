// bench/otel-metrics: OTLP metric data points per second into `otel_service` points.
//
//   npm run build && node --expose-gc bench/otel-metrics/run.mjs [--runs 3] [--seconds 4] [--ab <other dist/ dir>]
//   (--ab also runs that build end to end, alternating with this one)
//
// Payload: one ExportMetricsServiceRequest as an SDK's periodic reader sends it: a resource
// with 8 attributes (service, k8s, host), one scope, 50 sums and gauges × 20 data points
// with 3 attributes each = 1000 number data points (OTLP/HTTP protobuf, 4 connections).
// In one run:
//   floor        decode (protobufjs generated code) + a minimal point per data point (name, value,
//                point attributes as tags) + line protocol + gzip(3), one loop, no HTTP
//   reader       the metrics workers' byte-level reader (inputs/opentelemetry/metric-lines.ts) on one
//                thread: protobuf bytes → line protocol, then gzip(3), one loop, no HTTP
//   in-process   the opentelemetry input's handler (decode, map with resource/scope tags, queue) + encode + gzip
//   end-to-end   the real Agent in its own process (bench/traces/agent-server.mjs) → metric queue →
//                dataway sink (gzip) → a counting HTTP sink here; points/s at the sink, agent CPU, peak RSS
// Figures: median of --runs.
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { Pool } from 'undici';
import { countingSink, loopRate, measureWindow, startAgent } from '../traces/measure.mjs';
import { encodeV1 } from '../../dist/agent/delivery/sinks/encode.js';
import { fakeContext } from '../../dist/test/helpers/fake-context.js';
import { OtelInput } from '../../dist/inputs/opentelemetry/input.js';
import { schema } from '../../dist/inputs/opentelemetry/config.js';
import { MetricLineWriter } from '../../dist/inputs/opentelemetry/metric-lines.js';
import { LineBuf } from '../../dist/agent/model/linebuf.js';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const RUNS = Number(arg('runs', 3));
const SECONDS = Number(arg('seconds', 4));
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const fmt = (n) => Math.round(n).toLocaleString('en-US');
const MAX_BODY = 1 << 20;

const Req = createRequire(import.meta.url)('otlp-proto-root/build/src/generated/root.js').opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;
const s = (key, v) => ({ key, value: { stringValue: v } });
const T = 1_732_000_000_000_000_000n;
const metrics = [];
for (let m = 0; m < 50; m++) {
  const dataPoints = [];
  for (let p = 0; p < 20; p++) dataPoints.push({ attributes: [s('http.route', `/api/v1/item/${p}`), s('http.request.method', p % 2 ? 'GET' : 'POST'), s('http.response.status_code', p % 5 ? '200' : '500')], startTimeUnixNano: String(T - 60_000_000_000n), timeUnixNano: String(T + BigInt(p)), ...(m % 2 ? { asDouble: p * 1.25 + m } : { asInt: String(p * 100 + m) }) });
  metrics.push(m % 2 ? { name: `app.gauge.${m}`, unit: 'ms', gauge: { dataPoints } } : { name: `app.requests.${m}`, unit: '{request}', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints } });
}
const request = { resourceMetrics: [{ resource: { attributes: [s('service.name', 'checkout'), s('service.version', '1.4.2'), s('service.instance.id', '8c6bd0e4-7d3b-4b8c'), s('k8s.pod.name', 'checkout-7d9f8b-abcde'), s('k8s.namespace.name', 'shop'), s('k8s.node.name', 'node-1'), s('host.name', 'checkout-7d9f8b-abcde'), s('telemetry.sdk.language', 'nodejs')] }, scopeMetrics: [{ scope: { name: 'checkout-meter', version: '1.0.0' }, metrics }] }] };
const BODY = Buffer.from(Req.encode(Req.fromObject(request)).finish());
const PER_REQUEST = 1000;

function encodeAndGzip(points) {
  let n = 0;
  for (const b of encodeV1(points, 0n, MAX_BODY)) n += zlib.gzipSync(b.data, { level: 3 }).length;
  return n;
}

/** The floor: decode, a point per data point with only its own attributes as tags, encode, gzip. */
function floorOnce() {
  const points = [];
  for (const rm of Req.decode(BODY).resourceMetrics) {
    for (const sm of rm.scopeMetrics) {
      for (const m of sm.metrics) {
        for (const dp of (m.sum ?? m.gauge).dataPoints) {
          const tags = {};
          for (const a of dp.attributes) tags[a.key] = a.value.stringValue;
          const v = dp.asInt != null ? BigInt(dp.asInt.toString()) : dp.asDouble;
          points.push({ category: 'metric', name: 'otel_service', tags, fields: { [m.name]: v }, time: (BigInt(dp.timeUnixNano.high >>> 0) << 32n) | BigInt(dp.timeUnixNano.low >>> 0) });
        }
      }
    }
  }
  return encodeAndGzip(points);
}

/** The byte-level reader as a metrics worker runs it, then gzip as the sink would. */
const reader = new MetricLineWriter();
const readerOut = new LineBuf(1 << 20);
const readerReq = { route: '/otel/v1/metrics', contentType: 'application/x-protobuf', headers: {}, body: BODY };
const CORE_TAGS = { host: 'node-1' };
function readerOnce() {
  readerOut.reset();
  if (reader.write(readerReq, readerOut, CORE_TAGS, 1n) === undefined || readerOut.ends.length !== PER_REQUEST) throw new Error('the reader declined the bench request');
  return zlib.gzipSync(readerOut.data.subarray(0, readerOut.off), { level: 3 }).length;
}

async function inProcess() {
  const ctx = fakeContext('opentelemetry');
  const input = new OtelInput({ ...schema.defaultValue(), grpc: { ...schema.defaultValue().grpc, addr: '' } }, ctx);
  await input.start();
  const h = ctx.routes.get('POST /otel/v1/metrics');
  return async () => {
    ctx.points.length = 0;
    const r = await h({ method: 'POST', path: '/otel/v1/metrics', query: {}, headers: { 'content-type': 'application/x-protobuf' }, body: BODY, remoteAddress: '' });
    if (r.status >= 300 || ctx.points.length !== PER_REQUEST) throw new Error(`status ${r.status}, ${ctx.points.length} points`);
    return encodeAndGzip(ctx.points);
  };
}

async function endToEnd(sink, dist) {
  const execArgv = process.env.PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PROFILE_DIR}`] : [];
  const agent = await startAgent(sink, 'v1', { execArgv, env: dist ? { ...process.env, AGENT_DIST: dist } : process.env });
  const pool = new Pool(agent.ready.url, { connections: 4, pipelining: 1 });
  const m = await measureWindow(agent, sink, SECONDS, async () => {
    const r = await pool.request({ method: 'POST', path: '/otel/v1/metrics', headers: { 'content-type': 'application/x-protobuf' }, body: BODY });
    await r.body.dump();
    return r.statusCode;
  });
  await pool.close();
  await agent.stop();
  return m;
}

const sink = await countingSink('metric');
console.log(`bench/otel-metrics: ${PER_REQUEST} number data points a request (${BODY.length} bytes protobuf), ${RUNS} runs × ${SECONDS}s end to end, node ${process.version}`);
console.log('Data points per CPU-second (wall data points/s in brackets).');
console.log('| path | floor | byte-level reader (one thread) | telekit in-process (main thread) | telekit end-to-end | end-to-end agent CPU (cores) | agent peak RSS MiB | 503s |');
console.log('|---|---|---|---|---|---|---|---|');
const AB = arg('ab', '');
const fl = [], rd = [], inp = [], e2e = [], base = [];
const run = await inProcess();
for (let i = 0; i < RUNS; i++) {
  fl.push(await loopRate(floorOnce, PER_REQUEST));
  rd.push(await loopRate(readerOnce, PER_REQUEST));
  inp.push(await loopRate(run, PER_REQUEST));
  if (AB && i % 2 === 1) base.push(await endToEnd(sink, AB));
  e2e.push(await endToEnd(sink));
  if (AB && i % 2 === 0) base.push(await endToEnd(sink, AB));
}
const cell = (xs) => `${fmt(median(xs.map((x) => x.cpu)))} (${fmt(median(xs.map((x) => x.wall)))})`;
const row = (label, runs) => {
  const m = runs.sort((a, b) => a.perCpuSec - b.perCpuSec)[runs.length >> 1];
  console.log(`| ${label} | ${cell(fl)} | ${cell(rd)} | ${cell(inp)} | **${fmt(m.perCpuSec)}** (${fmt(m.rate)}) | ${m.cpuPerSec.toFixed(2)} | ${Math.max(...runs.map((x) => x.peakRssMB)).toFixed(0)} | ${m.rejected} |`);
};
row('OTLP/HTTP protobuf, sums and gauges', e2e);
if (AB) row(`the same, end to end with ${AB}`, base);
sink.server.close();
