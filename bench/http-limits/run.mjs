#!/usr/bin/env node
// Issue 16, cases 2 and 4, measured on the built agent (a child process, DaemonSet defaults):
//  - slow bodies: 16 connections POST /v1/write/logging with Content-Length 33554432, send 31 MiB each
//    and stall, while /v1/ping and small writes go on;
//  - one large write: /v1/write/metric of 3,800 points × 1,000 tags (~33 MB), then three at once.
// Reports /v1/ping latency (p50, max) during each phase against the idle floor measured in the same
// run, small writes accepted, and the agent's peak RSS (VmHWM) and RSS after each phase.
//
//   npm run build && node bench/http-limits/run.mjs
//   AGENT=/path/to/other/bin/telekit.js node bench/http-limits/run.mjs    # the same load on another build
//   AGENT_STDOUT=1 AGENT_NODE_ARGS=--trace-gc node bench/http-limits/run.mjs   # node flags for the agent, its stdout shown
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const AGENT = process.env.AGENT ?? path.join(ROOT, 'bin/telekit.js');
const SLOW_SECONDS = Number(process.env.SLOW_SECONDS ?? 8);
const tmp = (p) => fs.mkdtempSync(path.join(os.tmpdir(), p));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MiB = 2 ** 20;

// A dataway that accepts and discards.
const dataway = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200).end('{}'));
});
await new Promise((r) => dataway.listen(0, '127.0.0.1', r));
const port = await new Promise((r) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => r(p));
  });
});
const base = `http://127.0.0.1:${port}`;
const agent = spawn(process.execPath, ['--import', path.join(ROOT, 'bench/http-limits/lag.mjs'), ...(process.env.AGENT_NODE_ARGS ?? '').split(' ').filter(Boolean), AGENT, 'run', '--conf-dir', tmp('hl-conf-'), '--data-dir', tmp('hl-data-')], {
  env: { ...process.env, ENV_DATAWAY: `http://127.0.0.1:${dataway.address().port}?token=tkn_bench`, ENV_HTTP_LISTEN: `127.0.0.1:${port}`, ENV_DEFAULT_ENABLED_INPUTS: '-', ENV_LOG_LEVEL: 'warn' },
  stdio: ['ignore', process.env.AGENT_STDOUT ? 'inherit' : 'ignore', 'pipe'],
});
// The agent's worst event-loop delay since the phase began (lag.mjs), besides the pings seen from here.
let lagMax = 0;
let errTail = '';
agent.stderr.on('data', (c) => {
  errTail += c.toString();
  const lines = errTail.split('\n');
  errTail = lines.pop();
  for (const l of lines) {
    const m = /^telekit-lag ([\d.]+)$/.exec(l);
    if (m) lagMax = Math.max(lagMax, Number(m[1]));
    else process.stderr.write(l + '\n');
  }
});
for (let i = 0; i < 200; i++) {
  if (await fetch(`${base}/v1/ping`).then((r) => r.ok, () => false)) break;
  await sleep(50);
}

const status = () => fs.readFileSync(`/proc/${agent.pid}/status`, 'utf8');
const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status())?.[1] ?? 0) / 1024;
let peakRss = 0;
const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, kb('VmHWM'))), 100);

async function ping() {
  const t0 = performance.now();
  const r = await fetch(`${base}/v1/ping`, { signal: AbortSignal.timeout(30_000) }).catch(() => undefined);
  await r?.text();
  return r?.ok ? performance.now() - t0 : Infinity;
}
/** Pings (and small writes) every 50 ms until `done()`. */
async function probe(done) {
  const lat = [];
  const small = { ok: 0, sent: 0 };
  while (!done()) {
    small.sent++;
    const w = fetch(`${base}/v1/write/metric`, { method: 'POST', body: `small v=${small.sent}\n`, signal: AbortSignal.timeout(30_000) }).then(
      (r) => (r.status === 200 ? small.ok++ : undefined),
      () => undefined,
    );
    lat.push(await ping());
    await w;
    await sleep(50);
  }
  const lag = lagMax;
  lagMax = 0;
  return { lat, small, lag };
}
const pct = (a, p) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(a.length * p))];
const fmt = (x) => (x === Infinity ? 'timeout' : `${x.toFixed(1)} ms`);
const rows = [];
function row(phase, r, extra = '') {
  rows.push({ phase, 'ping p50': fmt(pct(r.lat, 0.5)), 'ping max': fmt(Math.max(...r.lat)), 'agent loop lag max': fmt(r.lag), pings: r.lat.length, small: `${r.small.ok}/${r.small.sent}`, rss: `${kb('VmRSS').toFixed(0)} MiB`, extra });
}

// ---- idle floor ----
await sleep(1500); // past the startup (module loading) in the lag figures
lagMax = 0;
{
  const t0 = Date.now();
  row('idle (floor)', await probe(() => Date.now() - t0 > 2000));
}

// ---- slow bodies ----
{
  const socks = [];
  const answers = [];
  for (let i = 0; i < 16; i++) {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    let head = '';
    s.on('data', (c) => {
      if (head === '') answers.push(Number(/^HTTP\/1\.1 (\d+)/.exec(c.toString('latin1'))?.[1] ?? 0));
      head += c.toString('latin1');
    });
    s.write(`POST /v1/write/logging HTTP/1.1\r\nHost: x\r\nContent-Length: ${32 * MiB}\r\n\r\n`);
    // 31 MiB, written as the socket drains (a refused request's socket is closed by the agent)
    (async () => {
      const chunk = Buffer.alloc(MiB, 'x');
      for (let k = 0; k < 31 && !s.destroyed; k++) if (!s.write(chunk)) await new Promise((r) => s.once('drain', r).once('close', r));
    })();
    socks.push(s);
  }
  const t0 = Date.now();
  const r = await probe(() => Date.now() - t0 > SLOW_SECONDS * 1000);
  const open = socks.filter((s) => !s.destroyed).length;
  const codes = answers.reduce((m, c) => ((m[c] = (m[c] ?? 0) + 1), m), {});
  row(`16 slow bodies (${SLOW_SECONDS} s)`, r, `answers ${JSON.stringify(codes)}, ${open} still open`);
  for (const s of socks) s.destroy();
  await sleep(500);
}

// ---- large writes ----
function bigBody() {
  // 3,800 points × 1,000 tags, just under 32 MiB (the default body limit)
  const tags = Array.from({ length: 1000 }, (_, k) => `t${k}=${k}`).join(',');
  let s = '';
  for (let i = 0; i < 3800; i++) s += `big,p=${i},${tags} v=${i}\n`;
  return Buffer.from(s);
}
const body = bigBody();
for (const n of [1, 3]) {
  let pending = n;
  const codes = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    fetch(`${base}/v1/write/metric`, { method: 'POST', body, signal: AbortSignal.timeout(120_000) }).then(
      (r) => (codes.push(r.status), pending--),
      () => (codes.push(0), pending--),
    );
  }
  const r = await probe(() => pending === 0);
  row(`${n} × ${(body.length / 1e6).toFixed(1)} MB write`, r, `answers ${codes.join(',')} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  await sleep(1000);
}

clearInterval(rssTimer);
peakRss = Math.max(peakRss, kb('VmHWM'));
agent.kill('SIGTERM');
await new Promise((r) => agent.once('exit', r));
dataway.close();
console.log(`agent: ${path.relative(ROOT, AGENT) || AGENT}; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} on ${os.cpus().length} CPUs`);
console.table(rows);
console.log(`peak RSS (VmHWM): ${peakRss.toFixed(0)} MiB`);
