// bench/statsd: the same UDP load sent to telekit's statsd input, to Etsy's
// statsd (npm `statsd`, a counting backend) and to a floor (a bare socket that
// only counts lines), each in its own process, one after the other, same run.
//
//   npm run build && node bench/statsd/run.mjs [--runs 3] [--seconds 2]
//
// Scenarios: a fixed 100k metrics/s with buffered-client packets (32 metrics
// per packet) and with one metric per packet (hot-shots' default), then "max":
// the sender blasts for the duration. For each: metrics received per wall
// second, loss (sent − received), and receiver CPU per million metrics.
// Rates (sent/s, received/s) divide by the time the load ran (the sender's
// measured send time, not the nominal --seconds); "counting after load" is how
// long the receiver's count kept moving once the sender stopped (its backlog,
// up to one 250 ms report late).
import { fork } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';

const here = path.dirname(new URL(import.meta.url).pathname);
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const RUNS = arg('runs', 3);
const SECONDS = arg('seconds', 2);
const REPORT_MS = 250;

const freePort = () =>
  new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });

function packets(perPacket) {
  const out = [];
  let k = 0;
  for (let p = 0; p < 1000; p++) {
    const lines = [];
    for (let i = 0; i < perPacket; i++, k++) lines.push(`bench.svc${k % 10}.endpoint${k % 97}.requests:1|c`);
    out.push(Buffer.from(lines.join('\n')));
  }
  return out;
}

/** Starts one receiver; resolves with { child, counts } once it listens. */
async function startServer(kind, port) {
  let child;
  if (kind === 'telekit') child = fork(path.join(here, 'telekit-server.mjs'), [String(port), String(REPORT_MS)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  else if (kind === 'floor') child = fork(path.join(here, 'floor-server.mjs'), [String(port), String(REPORT_MS)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  else {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etsy-statsd-'));
    const conf = path.join(dir, 'config.js');
    const mgmt = await freePort();
    fs.writeFileSync(
      conf,
      `({ port: ${port}, address: '127.0.0.1', mgmt_address: '127.0.0.1', mgmt_port: ${mgmt}, flushInterval: ${REPORT_MS}, deleteIdleStats: true, backends: [${JSON.stringify(path.join(here, 'etsy-backend.cjs'))}] })`,
    );
    child = fork(path.join(here, '../../node_modules/statsd/stats.js'), [conf], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  }
  const state = { total: 0, cpu: { user: 0, system: 0 }, changedAt: Date.now(), reports: 0, dropped: 0 };
  child.on('message', (m) => {
    if (m.type !== 'count') return;
    if (m.total !== state.total) state.changedAt = Date.now();
    state.total = m.total;
    state.cpu = m.cpu;
    state.reports++;
    if (m.dropped !== undefined) state.dropped = m.dropped;
  });
  // wait for a first report: it proves the server is up (Etsy statsd has no ready
  // signal) and gives the CPU baseline after startup
  while (state.reports === 0) await new Promise((r) => setTimeout(r, 20));
  return { child, state };
}

/** Sends `rate` metrics/s (0 = as fast as possible) for `seconds`; returns metrics sent and the send time. */
async function send(port, pkts, perPacket, rate, seconds) {
  const sock = dgram.createSocket('udp4');
  await new Promise((r) => sock.connect(port, '127.0.0.1', r));
  const start = process.hrtime.bigint();
  const endNs = BigInt(Math.round(seconds * 1e9));
  let sent = 0;
  for (;;) {
    const el = process.hrtime.bigint() - start;
    if (el >= endNs) break;
    const target = rate > 0 ? Math.floor((Number(el) / 1e9) * (rate / perPacket)) : sent + 64;
    while (sent < target) sock.send(pkts[sent++ % pkts.length]);
    await tick();
  }
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  await new Promise((r) => sock.close(r));
  return { metrics: sent * perPacket, ms };
}

async function runOne(kind, scenario) {
  const port = await freePort();
  const { child, state } = await startServer(kind, port);
  const cpu0 = { ...state.cpu };
  const t0 = Date.now();
  const { metrics: sent, ms } = await send(port, scenario.pkts, scenario.perPacket, scenario.rate, SECONDS);
  // wait until everything arrived or the count stopped moving for a while
  while (state.total < sent && Date.now() - state.changedAt < 4 * REPORT_MS) await new Promise((r) => setTimeout(r, 50));
  // rates divide by the time the load ran (the sender's ms); how long the receiver kept counting after it is reported apart
  const drainMs = Math.max(0, state.changedAt - t0 - ms);
  if (kind !== 'etsy') {
    const final = new Promise((r) => child.once('exit', r));
    child.send({ type: 'stop' });
    await final;
  } else {
    child.kill('SIGKILL');
  }
  const cpuMs = (state.cpu.user + state.cpu.system - cpu0.user - cpu0.system) / 1000;
  return { sent, sentPerSec: sent / (ms / 1000), received: state.total, perSec: state.total / (ms / 1000), drainMs, lossPct: (100 * (sent - state.total)) / sent, cpuMsPerM: (cpuMs / Math.max(1, state.total)) * 1e6, dropped: state.dropped };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const scenarios = [
  { name: '100k/s, 32 per packet', rate: 100_000, perPacket: 32, servers: ['telekit', 'etsy'] },
  { name: '100k/s, 1 per packet', rate: 100_000, perPacket: 1, servers: ['telekit', 'etsy', 'floor'] },
  { name: 'max, 32 per packet', rate: 0, perPacket: 32, servers: ['telekit', 'etsy', 'floor'] },
];

console.log(`node ${process.version}, ${os.cpus().length} cpus, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}, ${RUNS} runs x ${SECONDS}s, medians`);
const rows = [];
for (const sc of scenarios) {
  sc.pkts = packets(sc.perPacket);
  const res = Object.fromEntries(sc.servers.map((s) => [s, []]));
  for (let r = 0; r < RUNS; r++) for (const s of sc.servers) res[s].push(await runOne(s, sc));
  for (const s of sc.servers) {
    const xs = res[s];
    rows.push({
      scenario: sc.name,
      server: s,
      'sent/s': Math.round(median(xs.map((x) => x.sentPerSec))),
      'received/s': Math.round(median(xs.map((x) => x.perSec))),
      'counting after load ms': Math.round(median(xs.map((x) => x.drainMs))),
      'loss %': median(xs.map((x) => x.lossPct)).toFixed(3),
      'worst loss %': Math.max(...xs.map((x) => x.lossPct)).toFixed(3),
      'cpu ms per 1M': Math.round(median(xs.map((x) => x.cpuMsPerM))),
      'dropped in process': s === 'telekit' ? Math.max(...xs.map((x) => x.dropped)) : '-',
    });
  }
  const t = rows.find((x) => x.scenario === sc.name && x.server === 'telekit');
  const e = rows.find((x) => x.scenario === sc.name && x.server === 'etsy');
  console.log(`${sc.name}: telekit/etsy received/s ratio ${(t['received/s'] / e['received/s']).toFixed(2)}x, cpu-per-metric ratio ${(e['cpu ms per 1M'] / t['cpu ms per 1M']).toFixed(2)}x`);
}
console.table(rows);
