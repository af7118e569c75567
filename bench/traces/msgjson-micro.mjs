// Micro-benchmark: every ddtrace span's `message` JSON written from the msgpack bytes
// (inputs/ddtrace/msgjson.ts spanJsons) vs msgpackr decode + JSON.stringify per span, and
// vs msgpackr decode alone, on bench/traces/payloads.mjs ddtraceBody() (500 spans).
// Same process, variants alternated, CPU time (the box is shared), medians of ROUNDS.
// Usage: npm run build && node bench/traces/msgjson-micro.mjs [rounds]
import { Unpackr } from 'msgpackr';
import { spanJsons } from '../../dist/inputs/ddtrace/msgjson.js';
import { ddtraceBody, SPANS_PER_REQUEST } from './payloads.mjs';

const ROUNDS = Number(process.argv[2] ?? 7);
const SLICE_MS = 150;
const body = ddtraceBody();
const unpackr = new Unpackr({ int64AsType: 'string', mapsAsObjects: true, useRecords: false });

let sink = 0;
const variants = {
  'spanJsons(body)': () => {
    const r = spanJsons(body);
    sink += r.ends[r.ends.length - 1];
  },
  'msgpackr decode + JSON.stringify per span': () => {
    for (const t of unpackr.unpack(body)) for (const s of t) sink += JSON.stringify(s).length;
  },
  'msgpackr decode alone': () => {
    sink += unpackr.unpack(body).length;
  },
};

/** Spans per CPU-second of one variant over one slice. */
function rate(fn) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < SLICE_MS) {
    fn();
    n += SPANS_PER_REQUEST;
  }
  const c = process.cpuUsage(c0);
  return n / ((c.user + c.system) / 1e6);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const r = spanJsons(body);
console.log(`payload ${body.length} B msgpack, ${r.ends.length} spans, ${r.arena.length} B of JSON (${Math.round(r.arena.length / r.ends.length)} B/span)`);
for (const fn of Object.values(variants)) rate(fn); // warm up
const runs = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
for (let i = 0; i < ROUNDS; i++) for (const [k, fn] of Object.entries(variants)) runs[k].push(rate(fn));
const med = Object.fromEntries(Object.entries(runs).map(([k, xs]) => [k, median(xs)]));
for (const [k, v] of Object.entries(med)) console.log(`${k.padEnd(44)} ${Math.round(v).toLocaleString('en').padStart(10)} spans/CPU-s  ${(1e6 / v).toFixed(3)} µs/span`);
const stringifyOnly = 1e6 / med['msgpackr decode + JSON.stringify per span'] - 1e6 / med['msgpackr decode alone'];
console.log(`JSON.stringify alone (difference of medians): ${stringifyOnly.toFixed(3)} µs/span; spanJsons: ${(1e6 / med['spanJsons(body)']).toFixed(3)} µs/span`);
if (sink === 0) console.log('');
