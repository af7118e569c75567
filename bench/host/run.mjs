#!/usr/bin/env node
// Host inputs: CPU cost of one collection per input, against a floor (only
// reading the same /proc files) and a peer (Prometheus node_exporter 1.5 with
// the equivalent collectors, CPU per scrape). Run: npm run build && node bench/host/run.mjs
import fs from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { hostPaths } from '../../dist/agent/services/host/paths.js';
import { encodeLine } from '../../dist/agent/model/lineproto.js';
import { CpuCollector } from '../../dist/inputs/cpu/index.js';
import { MemCollector } from '../../dist/inputs/mem/index.js';
import { SwapCollector } from '../../dist/inputs/swap/index.js';
import { DiskCollector } from '../../dist/inputs/disk/index.js';
import { DiskioCollector } from '../../dist/inputs/diskio/index.js';
import { NetCollector } from '../../dist/inputs/net/index.js';
import { SystemCollector } from '../../dist/inputs/system/index.js';
import { validate } from '../../dist/agent/config/schema.js';
import { schema as cpuS } from '../../dist/inputs/cpu/config.js';
import { schema as diskS } from '../../dist/inputs/disk/config.js';
import { schema as diskioS } from '../../dist/inputs/diskio/config.js';
import { schema as netS } from '../../dist/inputs/net/config.js';

const N = Number(process.env.N ?? 300);
const cfg = (s, raw = {}) => validate(s, raw).value;
const p = hostPaths('');
const collectors = {
  cpu: new CpuCollector(cfg(cpuS, { percpu: true }), p),
  mem: new MemCollector(p),
  swap: new SwapCollector(p),
  disk: new DiskCollector(cfg(diskS), p, () => {}),
  diskio: new DiskioCollector(cfg(diskioS), p),
  net: new NetCollector(cfg(netS), p),
  system: new SystemCollector(p),
};
const FILES = ['stat', 'meminfo', 'vmstat', 'diskstats', 'net/dev', 'net/snmp', 'loadavg', 'uptime', 'sys/fs/file-nr', 'self/mountinfo'];

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const cpuUs = () => { const u = process.cpuUsage(); return u.user + u.system; };

async function perCall(fn) {
  for (let i = 0; i < 20; i++) await fn(); // warm up, prime rates
  const samples = [];
  for (let r = 0; r < 5; r++) {
    const c0 = cpuUs();
    for (let i = 0; i < N / 5; i++) await fn();
    samples.push((cpuUs() - c0) / (N / 5));
  }
  return median(samples);
}

const results = {};
let total = 0;
for (const [name, c] of Object.entries(collectors)) {
  const us = await perCall(async () => { for (const pt of await c.collect()) encodeLine(pt); });
  results[name] = us;
  total += us;
}
const floor = await perCall(() => Promise.all(FILES.map((f) => fs.readFile(`/proc/${f}`, 'utf8'))));

// peer: node_exporter with the collectors that cover the same data
const port = 39100 + Math.floor(Math.random() * 500);
const ne = spawn('prometheus-node-exporter', [
  `--web.listen-address=127.0.0.1:${port}`, '--collector.disable-defaults',
  ...['cpu', 'meminfo', 'vmstat', 'filesystem', 'diskstats', 'netdev', 'netstat', 'loadavg', 'filefd', 'conntrack', 'uname', 'time'].map((c) => `--collector.${c}`),
], { stdio: 'ignore' });
const ticks = () => { const f = readFileSync(`/proc/${ne.pid}/stat`, 'utf8').split(') ')[1].split(' '); return Number(f[11]) + Number(f[12]); };
let peer;
try {
  for (let i = 0; i < 50; i++) { try { await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(); break; } catch { await sleep(100); } }
  for (let i = 0; i < 20; i++) await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const samples = [];
  for (let r = 0; r < 5; r++) {
    const t0 = ticks();
    for (let i = 0; i < N / 5; i++) await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    samples.push(((ticks() - t0) * 10_000) / (N / 5)); // 100 Hz ticks → µs
  }
  peer = median(samples);
} finally {
  ne.kill();
}

const fmt = (us) => `${(us / 1000).toFixed(3)} ms`;
for (const [k, v] of Object.entries(results)) console.log(`${k.padEnd(8)} ${fmt(v)} CPU per collection (+ line-protocol encoding)`);
console.log(`all 7    ${fmt(total)} CPU per interval`);
console.log(`floor    ${fmt(floor)} CPU: only reading the ${FILES.length} /proc files`);
console.log(`peer     ${fmt(peer)} CPU of node_exporter per scrape (12 equivalent collectors)`);
