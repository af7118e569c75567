#!/usr/bin/env node
// Bounded soak: the built agent (`node bin/telekit.js run`, a child process) with every input at once
// (statsd over UDP, ddtrace and zipkin over HTTP, /v1/write, container log tailing, a prom target, the host
// inputs) under steady load, while the dataway flaps (503 for FLAP_DOWN s of every FLAP_PERIOD s).
// Reports points in / out / lost per source, duplicates, drops from /metrics, and the agent's peak RSS.
//
//   npm run build && node bench/soak/run.mjs            # SOAK_SECONDS=60 by default
//   SOAK_SECONDS=180 node bench/soak/run.mjs
//   SOAK_ENCODING=v2 node bench/soak/run.mjs           # protobuf bodies
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { pack } from 'msgpackr';
import { decodeLines } from '../../dist/agent/model/lineproto.js';
import { decodePBPoints } from '../../dist/agent/model/pbpoint.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const SECONDS = Number(process.env.SOAK_SECONDS ?? 60);
const FLAP_PERIOD = Number(process.env.FLAP_PERIOD ?? 10);
const FLAP_DOWN = Number(process.env.FLAP_DOWN ?? 4);
const RATE = { write: 2000, logs: 1000, statsd: 1000, ddtrace: 200, zipkin: 200 }; // per second
const tmp = (p) => fs.mkdtempSync(path.join(os.tmpdir(), p));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- the dataway: decodes everything, keeps unique ids per source ----
const out = { write: new Set(), logs: new Set(), ddtrace: new Set(), zipkin: new Set(), statsdSum: 0, prom: 0, host: 0, dup: 0, requests: 0, refused: 0 };
let down = false;
function record(category, p) {
  const add = (set, id) => (set.has(id) ? out.dup++ : set.add(id));
  if (p.name === 'soak_write') add(out.write, Number(p.fields.seq));
  else if (category === 'logging' && typeof p.fields.message === 'string' && p.fields.message.startsWith('soak-log-')) add(out.logs, p.fields.message);
  else if (p.name === 'ddtrace') add(out.ddtrace, String(p.fields.span_id));
  else if (p.name === 'zipkin') add(out.zipkin, String(p.fields.span_id));
  else if (p.name === 'soak' && typeof p.fields.count === 'number') out.statsdSum += p.fields.count;
  else if (p.name === 'soak' && typeof p.fields.count === 'bigint') out.statsdSum += Number(p.fields.count);
  else if (p.tags.source === 'soakprom' || p.name.startsWith('soakprom')) out.prom++;
  else if (category === 'metric' || category === 'object') out.host++;
}
const dataway = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    out.requests++;
    if (down) {
      out.refused++;
      return res.writeHead(503).end('{}');
    }
    const category = /\/v1\/write\/([a-z_]+)/.exec(req.url)?.[1] ?? '';
    try {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(body);
      const pts = String(req.headers['content-type']).startsWith('application/protobuf') ? decodePBPoints(body) : decodeLines(body.toString('utf8'));
      for (const p of pts) record(category, p);
      res.writeHead(200).end('{}');
    } catch (e) {
      console.error('dataway could not decode a body:', e.message);
      res.writeHead(400).end('{}');
    }
  });
});
await new Promise((r) => dataway.listen(0, '127.0.0.1', r));
const datawayUrl = `http://127.0.0.1:${dataway.address().port}?token=tkn_soak`;

// ---- a prom target ----
const prom = http.createServer((_req, res) => {
  let s = '# TYPE soakprom_requests_total counter\n';
  for (let i = 0; i < 50; i++) s += `soakprom_requests_total{path="/p${i}"} ${Date.now() % 100000}\n`;
  s += '# TYPE soakprom_latency histogram\n';
  for (const le of ['0.1', '0.5', '1', '+Inf']) s += `soakprom_latency_bucket{le="${le}"} 10\n`;
  s += 'soakprom_latency_sum 3\nsoakprom_latency_count 10\n';
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(s);
});
await new Promise((r) => prom.listen(0, '127.0.0.1', r));

// ---- the agent ----
const freePort = () => new Promise((r) => { const s = http.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });
const httpPort = await freePort();
const statsdPort = await freePort();
const confDir = tmp('soak-conf-');
const dataDir = tmp('soak-data-');
const logRoot = tmp('soak-logs-');
const logDir = path.join(logRoot, 'soak_app-0_uid0', 'app');
fs.mkdirSync(logDir, { recursive: true });
const logFile = path.join(logDir, '0.log');
fs.writeFileSync(logFile, '');
const conf = {
  'statsd.conf': `[[inputs.statsd]]\nprotocol = "udp"\nservice_address = "127.0.0.1:${statsdPort}"\ninterval = "1s"\n`,
  'ddtrace.conf': '[[inputs.ddtrace]]\nendpoints = ["/v0.4/traces"]\n',
  'zipkin.conf': '[[inputs.zipkin]]\n',
  'prom.conf': `[[inputs.prom]]\nurls = ["http://127.0.0.1:${prom.address().port}/metrics"]\nsource = "soakprom"\ninterval = "1s"\n`,
  'container.conf': `[inputs.container]\nenable_container_metric = false\nenable_pod_metric = false\nenable_k8s_metric = false\npod_logs_dir = ${JSON.stringify(logRoot)}\ndocker_logs_dir = ${JSON.stringify(path.join(logRoot, '_docker'))}\nlogging_search_interval = "1s"\nlogging_file_from_beginning = true\n`,
};
for (const [f, t] of Object.entries(conf)) fs.writeFileSync(path.join(confDir, f), t);
for (const h of ['cpu', 'mem', 'disk', 'diskio', 'net', 'swap', 'system', 'hostobject']) {
  const src = path.join(ROOT, 'conf.d', h, `${h}.conf`);
  if (fs.existsSync(src)) fs.copyFileSync(src, path.join(confDir, `${h}.conf`));
}
const agent = spawn(process.execPath, [path.join(ROOT, 'bin/telekit.js'), 'run', '--conf-dir', confDir, '--data-dir', dataDir], {
  env: {
    PATH: process.env.PATH,
    ENV_DATAWAY: datawayUrl,
    ENV_HTTP_LISTEN: `127.0.0.1:${httpPort}`,
    ENV_IO_FLUSH_INTERVAL: '1s',
    ENV_DATAWAY_MAX_RETRY_COUNT: '3',
    ENV_DATAWAY_RETRY_DELAY: '200ms',
    ENV_MEMORY_LIMIT_MB: process.env.SOAK_MEMORY_LIMIT_MB ?? '384',
    ENV_LOG_LEVEL: 'warn',
    ENV_HOSTNAME: 'soak',
    // SOAK_ENCODING=v2: protobuf bodies (the queue then holds PBPoints records)
    ...(process.env.SOAK_ENCODING ? { ENV_DATAWAY_CONTENT_ENCODING: process.env.SOAK_ENCODING } : {}),
  },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let agentLog = '';
agent.stdout.on('data', (d) => (agentLog += d));
agent.stderr.on('data', (d) => (agentLog += d));
const base = `http://127.0.0.1:${httpPort}`;
for (let i = 0; ; i++) {
  if (i > 150) throw new Error(`agent did not start:\n${agentLog}`);
  if (await fetch(`${base}/v1/ping`).then((r) => r.ok, () => false)) break;
  await sleep(100);
}

// Inputs start after the server listens: wait for the HTTP inputs' routes, then a moment for the UDP bind.
for (let i = 0; ; i++) {
  if (i > 150) throw new Error(`inputs did not start:\n${agentLog}`);
  const ok = await fetch(`${base}/api/v2/spans`, { method: 'POST', body: '[]', headers: { 'content-type': 'application/json' } }).then((r) => r.status < 300, () => false);
  if (ok) break;
  await sleep(100);
}
await sleep(1000);

// ---- peak RSS of the agent (VmHWM is the kernel's own high-water mark) ----
let peakRss = 0;
const rssTimer = setInterval(() => {
  try {
    const st = fs.readFileSync(`/proc/${agent.pid}/status`, 'utf8');
    peakRss = Math.max(peakRss, Number(/VmHWM:\s+(\d+)/.exec(st)?.[1] ?? 0) * 1024);
  } catch {}
}, 250);

// ---- load ----
const inn = { write: 0, writeRefused: 0, logs: 0, statsd: 0, ddtrace: 0, ddtraceRefused: 0, zipkin: 0, zipkinRefused: 0 };
const udp = dgram.createSocket('udp4');
let seq = 0;
let spanId = 1;
const tick = 100; // ms
const per = (rate) => Math.max(1, Math.round((rate * tick) / 1000));
const started = Date.now();
let stopping = false;
const flap = setInterval(() => {
  const t = ((Date.now() - started) / 1000) % FLAP_PERIOD;
  down = t >= FLAP_PERIOD - FLAP_DOWN;
}, 100);
async function loadTick() {
  // /v1/write
  const n = per(RATE.write);
  const first = seq;
  seq += n;
  let lines = '';
  for (let i = first; i < first + n; i++) lines += `soak_write,lane=${i % 8} seq=${i}i,pad="${'x'.repeat(48)}"\n`;
  const w = fetch(`${base}/v1/write/metric`, { method: 'POST', body: lines }).then((r) => (r.ok ? (inn.write += n) : (inn.writeRefused += n)), () => (inn.writeRefused += n));
  // logs
  const ln = per(RATE.logs);
  let text = '';
  for (let i = 0; i < ln; i++) text += `${new Date().toISOString()} stdout F soak-log-${inn.logs + i} some log text here\n`;
  fs.appendFileSync(logFile, text);
  inn.logs += ln;
  // statsd
  const sn = per(RATE.statsd);
  for (let i = 0; i < sn; i++) udp.send(`soak.count:1|c|#lane:${i % 4}`, statsdPort, '127.0.0.1');
  inn.statsd += sn;
  // ddtrace (msgpack v0.4)
  const dn = per(RATE.ddtrace);
  const now = BigInt(Date.now()) * 1_000_000n;
  const trace = [];
  for (let i = 0; i < dn; i++) trace.push({ service: 'soak', name: 'op', resource: 'GET /x', trace_id: 77, span_id: spanId + i, parent_id: i === 0 ? 0 : spanId, start: Number(now), duration: 1000, error: 0, meta: { k: 'v' }, metrics: { _sampling_priority_v1: 1 }, type: 'web' });
  const firstDd = spanId;
  spanId += dn;
  const d = fetch(`${base}/v0.4/traces`, { method: 'POST', body: pack([trace]), headers: { 'content-type': 'application/msgpack' } }).then((r) => (r.ok ? (inn.ddtrace += dn) : (inn.ddtraceRefused += dn)), () => (inn.ddtraceRefused += dn));
  void firstDd;
  // zipkin v2 JSON
  const zn = per(RATE.zipkin);
  const spans = [];
  const traceId = (Date.now().toString(16) + '0000000000000000').slice(0, 16);
  for (let i = 0; i < zn; i++) spans.push({ traceId, id: (spanId + i).toString(16).padStart(16, '0'), name: 'op', timestamp: Date.now() * 1000, duration: 100, localEndpoint: { serviceName: 'soakz' } });
  spanId += zn;
  const z = fetch(`${base}/api/v2/spans`, { method: 'POST', body: JSON.stringify(spans), headers: { 'content-type': 'application/json' } }).then((r) => (r.ok ? (inn.zipkin += zn) : (inn.zipkinRefused += zn)), () => (inn.zipkinRefused += zn));
  await Promise.all([w, d, z]);
}
while (Date.now() - started < SECONDS * 1000) {
  const t0 = Date.now();
  await loadTick();
  await sleep(Math.max(0, tick - (Date.now() - t0)));
}
const loadSeconds = (Date.now() - started) / 1000;
stopping = true;
clearInterval(flap);
down = false;

// ---- drain: wait until the outputs stop growing (disk buffer replayed) ----
const total = () => out.write.size + out.logs.size + out.ddtrace.size + out.zipkin.size + out.statsdSum;
let last = -1;
for (let still = 0, i = 0; still < 6 && i < 120; i++) {
  await sleep(1000);
  const now = total();
  still = now === last && now > 0 ? still + 1 : 0;
  last = now;
}
const metrics = await (await fetch(`${base}/metrics`)).text();
agent.kill('SIGTERM');
await new Promise((r) => agent.on('exit', r));
clearInterval(rssTimer);
udp.close();
dataway.close();
prom.close();

const metricSum = (name, re = /.*/) =>
  metrics
    .split('\n')
    .filter((l) => l.startsWith(name) && re.test(l))
    .reduce((a, l) => a + Number(l.split(' ').pop()), 0);
const rows = [
  ['/v1/write', inn.write, out.write.size, inn.writeRefused],
  ['container logs', inn.logs, out.logs.size, 0],
  ['ddtrace spans', inn.ddtrace, out.ddtrace.size, inn.ddtraceRefused],
  ['zipkin spans', inn.zipkin, out.zipkin.size, inn.zipkinRefused],
  ['statsd counts (UDP)', inn.statsd, out.statsdSum, 0],
];
console.log(`soak: ${SECONDS}s, dataway down ${FLAP_DOWN}s of every ${FLAP_PERIOD}s, node ${process.version}, ${os.cpus().length} cores`);
console.log('| source | in (accepted) | out (unique at dataway) | lost | refused at input (503/4xx) |');
console.log('|---|---:|---:|---:|---:|');
for (const [n, i, o, r] of rows) console.log(`| ${n} | ${i} | ${o} | ${Math.max(0, i - o)} | ${r} |`);
console.log(`| prom points (out only) | | ${out.prom} | | |`);
console.log(`| host input points (out only) | | ${out.host} | | |`);
console.log(`duplicates at dataway: ${out.dup}; dataway requests ${out.requests}, refused (503) ${out.refused}`);
console.log(`spilled to disk: ${metricSum('telekit_sink_points_total', /result="spilled"/)} points; replayed: ${metricSum('telekit_buffer_replayed_points_total', /result="sent"/)}; corrupt records: ${metricSum('telekit_buffer_corrupt_records_total')}`);
console.log(`dropped (all reasons): ${metricSum('telekit_points_dropped_total')}  ${metrics.split('\n').filter((l) => l.startsWith('telekit_points_dropped_total')).join('; ')}`);
console.log(`agent at the end: heap used ${(metricSum('telekit_nodejs_heap_size_used_bytes') / 2 ** 20).toFixed(0)} MiB, heap total ${(metricSum('telekit_nodejs_heap_size_total_bytes') / 2 ** 20).toFixed(0)} MiB, external ${(metricSum('telekit_nodejs_external_memory_bytes') / 2 ** 20).toFixed(0)} MiB, RSS ${(metricSum('telekit_process_resident_memory_bytes') / 2 ** 20).toFixed(0)} MiB`);
const accepted = inn.write + inn.logs + inn.ddtrace + inn.zipkin + inn.statsd;
console.log(`throughput: ${Math.round(accepted / loadSeconds)} points/s accepted over the ${loadSeconds.toFixed(1)} s of load; agent peak RSS (VmHWM, MiB): ${(peakRss / 2 ** 20).toFixed(0)}; memory guard trips: ${metricSum('telekit_memory_overload_total')}`);
for (const d of [confDir, dataDir, logRoot]) fs.rmSync(d, { recursive: true, force: true });
if (agentLog.includes('"level":50') || agentLog.includes('"level":60')) console.log(`agent errors:\n${agentLog.split('\n').filter((l) => /"level":(50|60)/.test(l)).slice(0, 5).join('\n')}`);
void stopping;
