#!/usr/bin/env node
// The rum input's byte fast path alone (inputs/rum/fastpath.ts: checks,
// location and global tags, ?precision=ms times), on bench/rum's SDK-shaped
// bodies: CPU ns per point, no HTTP, no queue, no delivery. With BASE_DIST=<a
// copy of dist/ built from another commit> that build's fastLines runs in the
// same command, alternating with this one.
// Usage: npm run build && node bench/rum/fastpath.mjs   (RUNS=5 N=20000 BASE_DIST=.bench-tmp/dist-base)
import os from 'node:os';
import path from 'node:path';
import { body } from './bodies.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const ROOT = path.resolve(here, '..', '..');
const RUNS = Number(process.env.RUNS ?? 5);
const N = Number(process.env.N ?? 20_000);
const POINTS = 20;
const bodies = Array.from({ length: 64 }, (_, i) => body(i, POINTS));

const ENRICH = Buffer.from(',ip=203.0.113.7,city=City\\ 7,province=Province\\ 7,country=Country\\ 7,isp=ISP\\ 7');
const ENRICH_KEYS = ['ip', 'city', 'province', 'country', 'isp'];
const GLOBALS = new Map([['host', Buffer.from(',host=bench')]]);

async function build(label, dist) {
  const m = await import(path.join(path.resolve(ROOT, dist), 'inputs/rum/fastpath.js'));
  // the options' shape changed with keyTable (session 7); older builds take the key sets directly
  let keys;
  if (m.keyTable) keys = { keys: m.keyTable(ENRICH_KEYS, GLOBALS) };
  else {
    const firstBytes = new Uint8Array(256);
    for (const k of [...ENRICH_KEYS, ...GLOBALS.keys()]) firstBytes[k.charCodeAt(0)] = 1;
    keys = { enrichKeys: new Set(ENRICH_KEYS), globals: GLOBALS, firstBytes };
  }
  const scratch = { buf: undefined };
  const options = () => ({
    precisionZeros: '000000',
    enrich: ENRICH,
    ...keys,
    measurements: new Set(['view', 'resource', 'action', 'long_task', 'error', 'telemetry']),
    checkAppId: (id) => {
      if (!id) throw new Error('no app_id');
    },
    refuseMeasurement: (name) => {
      throw new Error(name);
    },
    onError: () => {},
    sourcemapFor: () => 'zip_not_found', // sourcemaps on, none uploaded: error lines stay bytes
    nowNs: 1_700_000_000_000_000_000n,
    scratch,
  });
  return { label, run: () => {
    for (let i = 0; i < N; i++) if (!m.fastLines(bodies[i & 63], options(), 1_000_000n)) throw new Error(`${label}: a body left the fast path`);
  } };
}

const builds = [await build('this build', process.env.DIST ?? 'dist')];
if (process.env.BASE_DIST) builds.push(await build(process.env.BASE_DIST, process.env.BASE_DIST));
const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const results = new Map(builds.map((b) => [b.label, []]));
for (const b of builds) b.run(); // warm-up
for (let r = 0; r < RUNS; r++) {
  for (const b of builds) {
    const c0 = cpu();
    b.run();
    results.get(b.label).push(((cpu() - c0) * 1000) / (N * POINTS));
  }
}
const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(`fastLines on ${POINTS}-point SDK bodies (${bodies[0].length} bytes), ${N} bodies a run, ${RUNS} runs; load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
const first = med(results.get(builds[0].label));
for (const [label, xs] of results) console.log(`${label}: ${med(xs).toFixed(0)} ns per point (median; runs ${xs.map((x) => x.toFixed(0)).join(', ')})${label === builds[0].label ? '' : `, ${(med(xs) / first).toFixed(2)}× this build`}`);
