#!/usr/bin/env node
// RUM points/s end to end: an agent (this process) with [[inputs.rum]] and
// enrichment on (client address from X-Forwarded-For, location from a
// GeoLite2-City-shaped mmdb, app-id and measurement checks), fed SDK-shaped
// line-protocol batches from many client addresses by a load generator in a
// child process that is also the dataway; points/s counted at the dataway.
// In the same run: the rum route with the address cache off (a lookup per
// request); the same bodies to the generic /v1/write/logging route (the peer:
// HTTP, decode, queue, encode, send without the rum checks and tags); and the
// floor: a bare node:http server in this process that reads each body and
// answers 200 (the per-request HTTP cost of this runtime, nothing forwarded);
// and the agent's own HTTP layer with a route that only answers 200.
// The load generator's CPU per point is reported next to the server's (it must
// not be the bottleneck), and the server's main thread's share (the HTTP server,
// the handler and the queue run there; gzip and V8's helpers do not): on this
// 2-core box the main thread is what limits points/s. Then the location lookup
// alone (cache miss and hit).
// Usage: npm run build && node bench/rum/run.mjs   (SECONDS=8 RUNS=3; CLIENT=request: the older load generator, peer.mjs)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { fork, execFileSync } from 'node:child_process';
import { pino } from 'pino';
import { body } from './bodies.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const ROOT = path.resolve(here, '..', '..');
// DIST=<folder>: another build (e.g. a copy of dist/ at the base commit, kept inside the worktree for node_modules)
const DIST = path.resolve(ROOT, process.env.DIST ?? 'dist');
const { Agent } = await import(path.join(DIST, 'agent/runtime/agent.js'));
const { inputs } = await import(path.join(DIST, 'inputs/index.js'));
const { GeoLocator } = await import(path.join(DIST, 'inputs/rum/geo.js'));
// the fast path's count of tags taken over from the previous line (builds before it have none)
const { prefixStats } = await import(path.join(DIST, 'inputs/rum/fastpath.js'));
// BASE_DIST=<folder>: one more phase, the rum route served by that build (e.g. the base commit), in the same command
const base = process.env.BASE_DIST
  ? { Agent: (await import(path.join(path.resolve(ROOT, process.env.BASE_DIST), 'agent/runtime/agent.js'))).Agent, inputs: (await import(path.join(path.resolve(ROOT, process.env.BASE_DIST), 'inputs/index.js'))).inputs }
  : undefined;

const SECONDS = Number(process.env.SECONDS ?? 8);
const RUNS = Number(process.env.RUNS ?? 3);
const WARMUP_MS = 2000;
const IPS = 20_000;
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 16);
// The SDK cuts a batch at 50 messages or 16 KiB (batchMessagesLimit, batchBytesLimit): ~20 of these lines.
const POINTS_PER_BODY = 20;

// The database: GeoLite2-City-shaped (50,000 networks, records with 8 languages), else the tiny test one.
let DB = path.join(os.tmpdir(), 'telekit-rum-bench.mmdb');
if (!fs.existsSync(DB)) {
  try {
    execFileSync('perl', [path.join(here, 'make-bench-mmdb.pl'), DB, '50000'], { stdio: 'ignore' });
  } catch {
    DB = path.join(ROOT, 'inputs/rum/testdata/geo-test.mmdb');
    console.log('(libmaxmind-db-writer-perl missing: using the tiny test database; lookups are cheaper than with a real one)');
  }
}
const ips = Array.from({ length: IPS }, (_, i) => `${1 + (Math.floor(i / 65536) % 200)}.${Math.floor(i / 256) % 256}.${i % 256}.${1 + (i % 250)}`);

const bodies = Array.from({ length: 64 }, (_, i) => body(i, POINTS_PER_BODY));

const peer = fork(path.join(here, 'peer.mjs'), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const ask = (msg, type) => new Promise((r) => { const h = (m) => { if (m.type === type) { peer.off('message', h); r(m); } }; peer.on('message', h); peer.send(msg); });
const { url: datawayUrl } = await new Promise((r) => peer.once('message', r));

/** The floor: a bare node:http server in this process that reads each body and answers 200 `{}` (no routing, no checks, nothing forwarded). */
async function bareServer() {
  let requests = 0;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      Buffer.concat(chunks);
      requests++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    httpUrl: `http://127.0.0.1:${server.address().port}`,
    points: () => requests * POINTS_PER_BODY,
    stop: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** The agent's HTTP layer alone: an agent with a route that reads the body and answers 200 `{}` (admission, CORS, budget, metrics; no RUM work, nothing queued). */
async function agentNoop(build) {
  const a = await agentServer(65_536, build);
  let requests = 0;
  a.route(['POST'], '/noop', () => (requests++, { status: 200, body: {} }));
  return { ...a, points: () => requests * POINTS_PER_BODY };
}

async function agentServer(cacheSize, build = { Agent, inputs }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'telekit-rum-bench-'));
  const confDir = path.join(dir, 'conf.d');
  fs.mkdirSync(path.join(confDir, 'rum'), { recursive: true });
  fs.writeFileSync(path.join(confDir, 'rum', 'rum.conf'), `[[inputs.rum]]\nipdb_path = ${JSON.stringify(DB)}\nip_cache_size = ${cacheSize}\n`);
  const agent = await build.Agent.start({
    confDir, dataDir: path.join(dir, 'data'), watch: false, registry: build.inputs, log: pino({ level: 'silent' }),
    env: { ENV_DATAWAY: datawayUrl, ENV_HTTP_LISTEN: '127.0.0.1:0', ENV_HOSTNAME: 'bench', ENV_DEFAULT_ENABLED_INPUTS: '-', ENV_MEMORY_LIMIT_MB: '0' },
  });
  return {
    httpUrl: agent.httpUrl,
    route: (...args) => agent.server.route(...args),
    points: undefined, // counted at the dataway
    stop: async () => { await agent.stop(); fs.rmSync(dir, { recursive: true, force: true }); },
  };
}

/** The main thread's CPU time in µs (Linux /proc, 10 ms ticks; undefined elsewhere): the HTTP server, the handler and the queue run there, gzip and GC helpers do not. */
function mainThreadUs() {
  try {
    const f = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1e6) / 100;
  } catch {
    return undefined;
  }
}

async function phase(label, routePath, cacheSize) {
  const target = cacheSize === 'bare' ? await bareServer() : cacheSize === 'noop' ? await agentNoop() : cacheSize === 'noop-base' ? await agentNoop(base) : cacheSize === 'base' ? await agentServer(65_536, base) : await agentServer(cacheSize);
  const count = async () => {
    const m = await ask({ type: 'count' }, 'count');
    return { points: target.points ? target.points() : m.counted, clientUs: m.cpuUs };
  };
  const cpu0 = process.cpuUsage();
  const done = ask({ type: 'load', url: target.httpUrl, path: routePath, bodies: bodies.map((b) => b.toString()), ips, connections: CONNECTIONS, pointsPerBody: POINTS_PER_BODY }, 'stopped');
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const c0 = await count();
  const t0 = Date.now();
  const u0 = process.cpuUsage(cpu0);
  const m0 = mainThreadUs();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const c1 = await count();
  const u1 = process.cpuUsage(cpu0);
  const m1 = mainThreadUs();
  const secs = (Date.now() - t0) / 1000;
  peer.send({ type: 'stop' });
  const { sent } = await done;
  await target.stop();
  const points = c1.points - c0.points;
  const rate = points / secs;
  const agentUs = u1.user + u1.system - u0.user - u0.system;
  return {
    label,
    rate,
    cpuPerPoint: (agentUs / points) * 1000, // ns of server CPU (all threads: HTTP, checks, gzip, POST) per point
    mainPerPoint: m0 === undefined ? NaN : ((m1 - m0) / points) * 1000, // ns of the main thread's CPU (Linux: /proc) per point
    clientPerPoint: ((c1.clientUs - c0.clientUs) / points) * 1000, // ns of load generator (+ dataway) CPU per point
    serverCores: agentUs / 1e6 / secs,
    refused: sent.refused,
    rss: process.memoryUsage().rss,
  };
}

const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const results = new Map();
let peakRss = 0;
for (let r = 0; r < RUNS; r++) {
  const phases = [
    ['rum, enrichment on (address cache 65,536)', '/v1/write/rum?precision=ms', 65_536],
    ['rum, address cache off (a lookup per request)', '/v1/write/rum?precision=ms', 0],
    ['peer: /v1/write/logging, same bodies', '/v1/write/logging?precision=ms', 65_536],
    ['floor: bare node:http server, reads the body and answers 200', '/v1/write/rum?precision=ms', 'bare'],
    ["the agent's HTTP layer alone: a route that answers 200, nothing queued", '/noop?precision=ms', 'noop'],
    ...(base
      ? [
          [`rum, enrichment on, built from ${process.env.BASE_DIST}`, '/v1/write/rum?precision=ms', 'base'],
          [`the agent's HTTP layer alone, built from ${process.env.BASE_DIST}`, '/noop?precision=ms', 'noop-base'],
        ]
      : []),
  ];
  // ONLY=0 runs the first phase alone (for profiling); ONLY=3,4 those two; ONLY=0,5,5,0 alternates the rum phase with BASE_DIST's
  for (const [label, p, cache] of process.env.ONLY ? process.env.ONLY.split(',').map((i) => phases[Number(i)]) : phases) {
    const x = await phase(label, p, cache);
    peakRss = Math.max(peakRss, x.rss);
    if (!results.has(label)) results.set(label, []);
    results.get(label).push(x);
  }
}
console.log(`${POINTS_PER_BODY} points per body (${bodies[0].length} bytes), ${IPS.toLocaleString('en')} client addresses, ${CONNECTIONS} connections, ${SECONDS} s per phase after ${WARMUP_MS / 1000} s warm-up, ${RUNS} runs; load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log('| server | points/s (median) | runs | server CPU µs/point | of it main thread | points per server CPU-second | server cores busy | client CPU µs/point | 503s |');
console.log('|---|---|---|---|---|---|---|---|---|');
const floorLabel = 'floor: bare node:http server, reads the body and answers 200';
const floor = med((results.get(floorLabel) ?? [...results.values()][0]).map((x) => x.rate));
for (const [label, xs] of results) {
  const m = med(xs.map((x) => x.rate));
  const cpp = med(xs.map((x) => x.cpuPerPoint));
  console.log(`| ${label} | ${Math.round(m).toLocaleString('en')} (${(m / floor).toFixed(2)}× floor) | ${xs.map((x) => Math.round(x.rate / 1000) + 'k').join(', ')} | ${(cpp / 1000).toFixed(1)} | ${(med(xs.map((x) => x.mainPerPoint)) / 1000).toFixed(1)} | ${Math.round(1e9 / cpp).toLocaleString('en')} | ${med(xs.map((x) => x.serverCores)).toFixed(2)} | ${(med(xs.map((x) => x.clientPerPoint)) / 1000).toFixed(1)} | ${xs.reduce((a, x) => a + x.refused, 0)} |`);
}
console.log(`peak RSS of the agent process ${(peakRss / 2 ** 20).toFixed(0)} MiB`);
if (prefixStats) console.log(`fast path: ${((100 * prefixStats.kept) / Math.max(1, prefixStats.kept + prefixStats.scanned)).toFixed(0)}% of the lines' tags taken over from the previous line (compared, not scanned)`);

// The location lookup alone.
peer.send({ type: 'exit' });
if (process.env.ONLY) process.exit(0);
const geo = await GeoLocator.open(DB, '', 0);
const cached = await GeoLocator.open(DB, '', 65_536);
const cpu = () => { const u = process.cpuUsage(); return u.user + u.system; };
function time(fn, n) { const c0 = cpu(); for (let i = 0; i < n; i++) fn(i); return (cpu() - c0) / n; }
for (let i = 0; i < IPS; i++) cached.locate(ips[i]);
const miss = [], hit = [];
for (let r = 0; r < 5; r++) {
  miss.push(time((i) => geo.locate(ips[(i * 7919) % IPS]), 100_000));
  hit.push(time((i) => cached.locate(ips[(i * 7919) % IPS]), 100_000));
}
// a database record seen for the first time (a fresh locator, 1,000 addresses of distinct cities): the record is decoded
const cold = [];
for (let r = 0; r < 5; r++) {
  const fresh = await GeoLocator.open(DB, '', 0);
  cold.push(time((i) => fresh.locate(ips[i]), 1000));
}
const perMiss = med(miss), perHit = med(hit), perCold = med(cold);
console.log(`location lookup: ${perMiss.toFixed(2)} µs per address not in the cache (tree walk; its record decoded before), ${perCold.toFixed(2)} µs when the record is new too (maxmind decode), ${perHit.toFixed(3)} µs per cache hit; per point at ${POINTS_PER_BODY} points per request: ${((perMiss / POINTS_PER_BODY) * 1000).toFixed(0)} ns (miss) / ${((perCold / POINTS_PER_BODY) * 1000).toFixed(0)} ns (new record) / ${((perHit / POINTS_PER_BODY) * 1000).toFixed(0)} ns (hit); database ${path.basename(DB)} ${(fs.statSync(DB).size / 2 ** 20).toFixed(1)} MiB`);
