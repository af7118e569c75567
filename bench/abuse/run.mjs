// bench/abuse/run.mjs: the agent under abuse (issue 16), with the DaemonSet's defaults.
//
// Starts the built agent (dist/, `npm run build` first) as a child process with the env and
// ConfigMap of deploy/base (dataway, listen addresses and node identity replaced by loopback
// ones), one fresh agent per case, and runs in turn:
//   slow-bodies   16, then 250 connections each POSTing /v1/write/logging with Content-Length
//                 32 MiB, writing ~31 MiB and stalling (held 15 s)
//   statsd        a StatsD cardinality flood over UDP: 2 M unique names and tag values of every
//                 metric type (c g ms h d s) in 20 s, then 25 s for the memory to come back
//   large-writes  a 33 MB /v1/write/metric body (3,800 points × 1,000 tags), one, then three at once
//   shutdown      a dataway that takes connections and never answers: small writes for 3 s,
//                 SIGTERM, time to exit; then a restart with a good dataway on the same data dir:
//                 every point answered 200 must arrive
// For each: the agent's peak RSS (VmHWM from /proc/<pid>/status, and sampled VmRSS), /v1/ping
// latency (polled every ~20 ms by a separate probe process), whether the probe's small writes
// were accepted, and the targets: RSS < 400 MiB, ping < 100 ms, small writes accepted, SIGTERM
// exit within ENV_SHUTDOWN_TIMEOUT + 2 s, nothing acknowledged lost. Loopback only; bounded in
// time (~3 minutes for all) and count.
//
//   node bench/abuse/run.mjs                 # every case
//   node bench/abuse/run.mjs statsd          # one case (or several, by name)
//   node bench/abuse/run.mjs --json          # also print the results as JSON
//   ABUSE_ENV_INPUT_STATSD_MAX_SERIES=50000 node bench/abuse/run.mjs statsd   # ENV_* overrides for the agent
//   ABUSE_NODE_ARGS='--trace-gc --cpu-prof --cpu-prof-dir=/tmp/prof' node bench/abuse/run.mjs statsd   # node flags for the agent (its output: agent.log in the data dir, kept with ABUSE_KEEP_DATA=1)
//   ABUSE_KEEP_DATA=1 ABUSE_NODE_ARGS="--import $PWD/bench/abuse/loop-delay.mjs" node bench/abuse/run.mjs statsd   # the agent's own event-loop delay, in its agent.log
import { fork, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { loadAll } from 'js-yaml';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
// ABUSE_AGENT_ROOT: another build to measure (e.g. a worktree of the base commit), for a before/after in one session
const BIN = path.join(process.env.ABUSE_AGENT_ROOT ?? ROOT, 'bin/telekit.js');
const MiB = 2 ** 20;
const TARGET = { rssMiB: 400, pingMs: 100, shutdownMarginMs: 2000 };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

if (!fs.existsSync(path.join(ROOT, 'dist/cli/main.js'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}

// ---- the DaemonSet's defaults ---------------------------------------------------------------

function daemonsetDefaults() {
  const docs = loadAll(fs.readFileSync(path.join(ROOT, 'deploy/base/daemonset.yaml'), 'utf8'));
  const ds = docs.find((d) => d?.kind === 'DaemonSet');
  const c = ds.spec.template.spec.containers[0];
  const env = {};
  for (const e of c.env) if (e.value !== undefined) env[e.name] = e.value;
  const cm = loadAll(fs.readFileSync(path.join(ROOT, 'deploy/base/configmap.yaml'), 'utf8')).find((d) => d?.kind === 'ConfigMap');
  return { env, conf: cm.data, memoryLimit: c.resources.limits.memory };
}

async function freePort(type = 'tcp') {
  for (;;) {
    const port = await new Promise((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
    });
    if (type === 'tcp') return port;
    const ok = await new Promise((resolve) => {
      const u = dgram.createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    if (ok) return port;
  }
}

// ---- a dataway ------------------------------------------------------------------------------

/** Answers 200 to everything (mode 'ok', optionally recording `seq` fields of one measurement), or takes connections and never answers ('hang'). */
async function dataway(mode, record) {
  const seqs = new Set();
  let server;
  if (mode === 'hang') {
    const socks = new Set();
    server = net.createServer((s) => {
      socks.add(s);
      s.on('data', () => undefined);
      s.on('error', () => undefined);
      s.on('close', () => socks.delete(s));
    });
    server.closeAll = () => socks.forEach((s) => s.destroy());
  } else {
    server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => record && chunks.push(c));
      req.on('end', () => {
        if (record && chunks.length > 0) {
          let body = Buffer.concat(chunks);
          if (req.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(body);
          for (const m of body.toString().matchAll(new RegExp(`^${record}[, ].*?seq=(\\d+)i`, 'gm'))) seqs.add(Number(m[1]));
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    server.keepAliveTimeout = 60_000;
    server.closeAll = () => server.closeAllConnections();
  }
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}?token=tkn_abuse`,
    seqs,
    close: () => {
      server.closeAll();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

// ---- the agent ------------------------------------------------------------------------------

async function startAgent({ datawayUrl, dataDir }) {
  const { env: dsEnv, conf } = daemonsetDefaults();
  const confDir = fs.mkdtempSync(path.join(os.tmpdir(), 'telekit-abuse-conf-'));
  for (const [k, text] of Object.entries(conf)) {
    const name = k.replace(/\.conf$/, '');
    fs.mkdirSync(path.join(confDir, name), { recursive: true });
    fs.writeFileSync(path.join(confDir, name, k), text);
  }
  dataDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'telekit-abuse-data-'));
  const httpPort = await freePort();
  const statsdPort = await freePort('udp');
  const env = {
    ...dsEnv,
    // loopback stand-ins for what the pod gets from Kubernetes
    ENV_DATAWAY: datawayUrl,
    ENV_HTTP_LISTEN: `127.0.0.1:${httpPort}`,
    ENV_INPUT_STATSD_SERVICE_ADDRESS: `127.0.0.1:${statsdPort}`,
    ENV_K8S_NODE_NAME: 'abuse-node',
    ENV_K8S_NODE_IP: '127.0.0.1',
    ENV_LOG_LEVEL: 'warn',
    PATH: process.env.PATH ?? '',
  };
  // experiments: ABUSE_ENV_X=v in the harness's environment sets ENV_X=v for the agent
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith('ABUSE_ENV_')) env[k.slice('ABUSE_'.length)] = v;
  delete env.HOST_PROC; // the pod's /rootfs mounts: here the host's own /proc and /sys
  delete env.HOST_SYS;
  const logFile = path.join(dataDir, 'agent.log');
  const out = fs.openSync(logFile, 'a');
  const proc = spawn(process.execPath, [...(process.env.ABUSE_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? []), BIN, 'run', '--conf-dir', confDir, '--data-dir', dataDir], { cwd: ROOT, env, stdio: ['ignore', out, out] });
  const exited = new Promise((r) => proc.on('exit', (code, signal) => r({ code, signal, at: performance.now() })));
  const base = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      if ((await fetch(`${base}/v1/ping`)).ok) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`agent did not start:\n${fs.readFileSync(logFile, 'utf8')}`);
    await sleep(50);
  }
  const status = (field) => {
    try {
      const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${proc.pid}/status`, 'utf8'));
      return m ? Number(m[1]) / 1024 : undefined;
    } catch {
      return undefined;
    }
  };
  // sampled VmRSS, for the shape over time (VmHWM gives the true peak)
  const samples = [];
  const sampler = setInterval(() => {
    const v = status('VmRSS');
    if (v !== undefined) samples.push({ t: performance.now(), mib: v });
  }, 100);
  return {
    proc,
    base,
    statsdPort,
    dataDir,
    exited,
    shutdownTimeoutMs: parseDuration(env.ENV_SHUTDOWN_TIMEOUT ?? '10s'),
    rss: () => status('VmRSS'),
    hwm: () => status('VmHWM'),
    samples,
    async stop() {
      clearInterval(sampler);
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(t);
      }
      fs.rmSync(confDir, { recursive: true, force: true });
    },
  };
}

function parseDuration(s) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s.trim());
  return m ? Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000 }[m[2] ?? 's']) : 10_000;
}

function startProbe(base) {
  const p = fork(path.join(ROOT, 'bench/abuse/probe.mjs'), [base], { stdio: 'ignore' });
  return {
    stop: () =>
      new Promise((resolve) => {
        p.once('message', (m) => resolve(m));
        p.send('stop');
      }),
  };
}

const pct = (sorted, p) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]);

/** Runs `abuse` against a fresh agent with the probe polling; returns the measurements. */
async function measured(name, abuse, opts = {}) {
  const dw = await dataway('ok');
  const agent = await startAgent({ datawayUrl: dw.url });
  await sleep(1000); // past the start-up allocations
  const before = agent.rss();
  const probe = startProbe(agent.base);
  await sleep(300);
  let note = '';
  try {
    note = (await abuse(agent)) ?? '';
  } finally {
    var probed = await probe.stop();
  }
  const hwm = agent.hwm();
  const sampledMax = Math.max(...agent.samples.map((s) => s.mib));
  let after;
  if (opts.settleMs) {
    await sleep(opts.settleMs);
    after = agent.rss();
  }
  await agent.stop();
  await dw.close();
  if (process.env.ABUSE_KEEP_DATA) console.log(`${name}: agent data dir kept: ${agent.dataDir}`);
  else fs.rmSync(agent.dataDir, { recursive: true, force: true });
  const pings = probed.pings.slice().sort((a, b) => a - b);
  const w = probed.writes;
  return {
    case: name,
    rssBeforeMiB: round(before),
    peakRssMiB: round(Math.max(hwm ?? 0, sampledMax)),
    rssAfterMiB: after === undefined ? undefined : round(after),
    pings: pings.length,
    pingP50: round(pct(pings, 50)),
    pingP99: round(pct(pings, 99)),
    pingMax: round(pings[pings.length - 1]),
    writesOk: w.ok,
    writesRefused: w.refused,
    writesFailed: w.failed,
    writeStatuses: w.statuses,
    note,
  };
}

const round = (x) => (x === undefined || Number.isNaN(x) ? x : Math.round(x * 10) / 10);

// ---- the cases ------------------------------------------------------------------------------

/** `n` connections each sending POST /v1/write/logging with Content-Length 32 MiB, ~31 MiB of body, then nothing; held `holdMs`. */
async function slowBodies(agent, n, holdMs) {
  const { port } = new URL(agent.base);
  const chunk = Buffer.alloc(MiB, 'a');
  const socks = [];
  let written = 0;
  let closedEarly = 0;
  const one = () =>
    new Promise((resolve) => {
      const s = net.connect(Number(port), '127.0.0.1');
      socks.push(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        closedEarly++;
        resolve();
      });
      s.once('connect', async () => {
        s.write(`POST /v1/write/logging HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: ${32 * MiB}\r\n\r\n`);
        for (let i = 0; i < 31 && !s.destroyed; i++) {
          written += chunk.length;
          if (!s.write(chunk)) {
            await new Promise((r) => {
              const done = () => {
                s.off('drain', done);
                s.off('close', done);
                r();
              };
              s.on('drain', done);
              s.on('close', done);
            });
          }
        }
        resolve(); // now stalled: the last MiB never comes
      });
    });
  const t0 = performance.now();
  await Promise.race([Promise.all(Array.from({ length: n }, one)), sleep(holdMs)]);
  const sentMs = performance.now() - t0;
  await sleep(Math.max(0, holdMs - sentMs));
  const open = socks.filter((s) => !s.destroyed).length;
  for (const s of socks) s.destroy();
  return `${n} connections, ${(written / MiB).toFixed(0)} MiB written in ${(sentMs / 1000).toFixed(1)} s, ${open} still open after ${holdMs / 1000} s (${closedEarly} closed by the agent)`;
}

/** 2 M unique series over UDP in 20 s, every metric type in turn, 20 lines per packet. */
async function statsdFlood(agent, total = 2_000_000, ms = 20_000) {
  const sock = dgram.createSocket('udp4');
  const types = ['c', 'g', 'ms', 'h', 'd', 's'];
  const perTick = Math.ceil(total / (ms / 10));
  let sent = 0;
  let packets = 0;
  const t0 = performance.now();
  let inflight = 0;
  while (sent < total) {
    const due = Math.min(total, Math.ceil(((performance.now() - t0) / ms) * total) + perTick);
    while (sent < due) {
      let pkt = '';
      for (let j = 0; j < 20 && sent < due; j++, sent++) {
        const t = types[sent % 6];
        const v = t === 's' ? `u${sent}` : t === 'c' || t === 'g' ? '1' : '12.5';
        pkt += `abuse.flood_${sent}:${v}|${t}|#tenant:t${sent},env:prod\n`;
      }
      packets++;
      inflight++;
      sock.send(pkt, agent.statsdPort, '127.0.0.1', () => inflight--);
      if (inflight > 2000) await new Promise((r) => setImmediate(r));
    }
    await sleep(10);
  }
  while (inflight > 0) await sleep(5);
  const took = performance.now() - t0;
  sock.close();
  const m = await (await fetch(`${agent.base}/metrics`)).text();
  const dropped = [...m.matchAll(/^telekit_statsd_dropped_total\{reason="([^"]+)"\} (\d+)/gm)].map((x) => `${x[1]} ${x[2]}`).join(', ');
  const metrics = [...m.matchAll(/^telekit_statsd_metrics_total\{type="([^"]+)"\} (\d+)/gm)].reduce((a, x) => a + Number(x[2]), 0);
  return `${sent} lines in ${packets} packets over ${(took / 1000).toFixed(1)} s; aggregated ${metrics}; dropped: ${dropped || 'none'}`;
}

/** A /v1/write/metric body of 3,800 points × 1,000 tags: 33.45 MB, just under the 32 MiB (33.55 MB) default limit. */
function largeBody() {
  const lines = [];
  for (let p = 0; p < 3800; p++) {
    let l = `abuse_large`;
    for (let t = 0; t < 1000; t++) l += `,t${t}=${(p + t) % 1000}`;
    lines.push(`${l} value=${p}i`);
  }
  return Buffer.from(lines.join('\n'));
}

async function largeWrites(agent, at) {
  const body = largeBody();
  const post = async () => {
    const t0 = performance.now();
    try {
      const r = await fetch(`${agent.base}/v1/write/metric`, { method: 'POST', body, signal: AbortSignal.timeout(60_000) });
      const text = await r.text();
      return `${r.status}${r.status === 200 ? '' : ` ${text.slice(0, 80)}`} in ${((performance.now() - t0) / 1000).toFixed(1)} s`;
    } catch (e) {
      return `failed (${e.name}) after ${((performance.now() - t0) / 1000).toFixed(1)} s`;
    }
  };
  const r = await Promise.all(Array.from({ length: at }, post));
  await sleep(2000);
  return `${(body.length / 1e6).toFixed(1)} MB body × ${at}: ${r.join('; ')}`;
}

/** SIGTERM against a dataway that never answers, then a restart with a good one: every 200 must arrive. */
async function shutdownCase() {
  const hang = await dataway('hang');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'telekit-abuse-data-'));
  const a = await startAgent({ datawayUrl: hang.url, dataDir });
  const acked = [];
  let seq = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 3000) {
    let body = '';
    const seqs = [];
    for (let i = 0; i < 50; i++, seq++) {
      body += `abuse_shut,client=c${seq % 7} seq=${seq}i\n`;
      seqs.push(seq);
    }
    const r = await fetch(`${a.base}/v1/write/metric`, { method: 'POST', body });
    await r.arrayBuffer();
    if (r.status === 200) acked.push(...seqs);
    await sleep(20);
  }
  const hwm = a.hwm();
  const t1 = performance.now();
  a.proc.kill('SIGTERM');
  const ex = await a.exited;
  const shutdownMs = ex.at - t1;
  await a.stop();
  await hang.close();
  // restart on the same data dir with a good dataway: the spilled points are replayed
  const good = await dataway('ok', 'abuse_shut');
  const b = await startAgent({ datawayUrl: good.url, dataDir });
  const until = Date.now() + 30_000;
  while (Date.now() < until && acked.some((s) => !good.seqs.has(s))) await sleep(100);
  const missing = acked.filter((s) => !good.seqs.has(s)).length;
  await b.stop();
  await good.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
  return {
    case: 'shutdown',
    peakRssMiB: round(hwm),
    shutdownMs: Math.round(shutdownMs),
    shutdownLimitMs: a.shutdownTimeoutMs + TARGET.shutdownMarginMs,
    exit: ex.code ?? ex.signal,
    acked: acked.length,
    missing,
    note: `${acked.length} points answered 200 while the dataway hung; ${missing} missing after the restart`,
  };
}

const CASES = {
  'slow-bodies': async () => [
    await measured('slow-bodies ×16', (a) => slowBodies(a, 16, 15_000)),
    await measured('slow-bodies ×250', (a) => slowBodies(a, 250, 15_000)),
  ],
  statsd: async () => [await measured('statsd flood', (a) => statsdFlood(a), { settleMs: 25_000 })],
  'large-writes': async () => [await measured('large write ×1', (a) => largeWrites(a, 1)), await measured('large writes ×3', (a) => largeWrites(a, 3))],
  shutdown: async () => [await shutdownCase()],
};

// ---- main -----------------------------------------------------------------------------------

const args = process.argv.slice(2);
const json = args.includes('--json');
const wanted = args.filter((a) => !a.startsWith('--'));
for (const w of wanted) if (!CASES[w]) throw new Error(`unknown case ${w}; cases: ${Object.keys(CASES).join(', ')}`);
const names = wanted.length > 0 ? wanted : Object.keys(CASES);
const results = [];
console.log(`abuse harness: agent = dist/ with deploy/base's env and ConfigMap (limit ${daemonsetDefaults().memoryLimit}), ${os.cpus().length} CPUs, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
for (const n of names) {
  for (const r of await CASES[n]()) {
    results.push(r);
    const verdict = judge(r);
    r.pass = verdict.every((v) => v.ok);
    console.log(`\n${r.case}: ${r.note}`);
    for (const v of verdict) console.log(`  ${v.ok ? 'PASS' : 'FAIL'}  ${v.what}`);
  }
}

function judge(r) {
  const v = [];
  if (r.peakRssMiB !== undefined) v.push({ ok: r.peakRssMiB < TARGET.rssMiB, what: `peak RSS ${r.peakRssMiB} MiB < ${TARGET.rssMiB} MiB${r.rssBeforeMiB ? ` (before ${r.rssBeforeMiB} MiB${r.rssAfterMiB !== undefined ? `, after ${r.rssAfterMiB} MiB` : ''})` : ''}` });
  if (r.pings !== undefined) v.push({ ok: r.pingMax < TARGET.pingMs, what: `/v1/ping p50 ${r.pingP50} ms, p99 ${r.pingP99} ms, max ${r.pingMax} ms < ${TARGET.pingMs} ms (${r.pings} pings)` });
  if (r.writesOk !== undefined) v.push({ ok: r.writesOk > 0 && r.writesRefused + r.writesFailed === 0, what: `small writes accepted: ${r.writesOk} ok, ${r.writesRefused} refused, ${r.writesFailed} failed ${JSON.stringify(r.writeStatuses)}` });
  if (r.shutdownMs !== undefined) {
    v.push({ ok: r.shutdownMs <= r.shutdownLimitMs, what: `SIGTERM exit in ${r.shutdownMs} ms <= ${r.shutdownLimitMs} ms (exit ${r.exit})` });
    v.push({ ok: r.missing === 0 && r.acked > 0, what: `nothing acknowledged lost: ${r.acked - r.missing}/${r.acked} arrived after the restart` });
  }
  return v;
}

console.log('\n| case | peak RSS MiB | ping p50 / p99 / max ms | small writes ok / refused / failed | shutdown ms | pass |');
console.log('|---|---|---|---|---|---|');
for (const r of results) {
  const ping = r.pings !== undefined ? `${r.pingP50} / ${r.pingP99} / ${r.pingMax}` : '—';
  const writes = r.writesOk !== undefined ? `${r.writesOk} / ${r.writesRefused} / ${r.writesFailed}` : '—';
  const shut = r.shutdownMs !== undefined ? `${r.shutdownMs} (limit ${r.shutdownLimitMs}; lost ${r.missing}/${r.acked})` : '—';
  console.log(`| ${r.case} | ${r.peakRssMiB}${r.rssAfterMiB !== undefined ? ` (after: ${r.rssAfterMiB})` : ''} | ${ping} | ${writes} | ${shut} | ${r.pass ? 'yes' : 'no'} |`);
}
if (json) console.log(JSON.stringify(results, null, 2));
process.exitCode = 0; // a bench reports; the targets are judged above
