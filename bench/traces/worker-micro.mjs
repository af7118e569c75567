// CPU per span of one trace worker (the input's worker script, its generic or fast path) and the
// worker's heap, by young-generation size, on the bench payloads: no HTTP, no queue, no gzip.
//   npm run build && node bench/traces/worker-micro.mjs [ddtrace,zipkin] [6,16,32] [--jobs 400] [--ab <other dist/>]
// (--ab: that build's worker scripts run too, alternating with this one's, each size)
// One worker at a time in this process; jobs posted one after another (2 in flight); CPU is this
// process's (user+system, all threads) while the main thread only posts and recycles, so it is
// the worker's cost plus the transfer both ways. Rounds alternate the sizes; medians of 3 rounds.
import { TraceThreads } from '../../dist/agent/services/trace/offthread.js';
import { pathToFileURL } from 'node:url';
import { schema as ddSchema } from '../../dist/inputs/ddtrace/config.js';
import { schema as zkSchema } from '../../dist/inputs/zipkin/config.js';
import { ddtraceBody, zipkinBody, SPANS_PER_REQUEST } from './payloads.mjs';

const kinds = (process.argv[2] ?? 'ddtrace,zipkin').split(',');
const sizes = (process.argv[3] ?? '6,16,32').split(',').map(Number);
const ji = process.argv.indexOf('--jobs');
const JOBS = ji > 0 ? Number(process.argv[ji + 1]) : 400;
const ai = process.argv.indexOf('--ab');
const builds = [new URL('../../dist/', import.meta.url).pathname, ...(ai > 0 ? [process.argv[ai + 1].replace(/\/?$/, '/')] : [])];
// a build's worker script: its bundled one when the build has it
const scriptOf = async (dist, kind) => {
  const { workerScript } = await import(pathToFileURL(`${dist}agent/services/trace/offthread.js`).href);
  return workerScript(pathToFileURL(`${dist}inputs/${kind}/input.js`).href, 'worker');
};
const setup = {
  ddtrace: { cfg: ddSchema.defaultValue(), body: ddtraceBody(), route: '/v0.4/traces', ct: 'application/msgpack' },
  zipkin: { cfg: zkSchema.defaultValue(), body: zipkinBody(), route: '/api/v2/spans', ct: 'application/json' },
};
const tags = { host: 'bench-node' };
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

async function once(kind, youngMb, dist) {
  const s = setup[kind];
  const script = await scriptOf(dist, kind);
  const t = new TraceThreads(script, { source: kind, opts: s.cfg, config: s.cfg, format: 'lp' }, 1, 4, (e) => { throw e; }, () => {}, 0, youngMb);
  // a body per job that owns its ArrayBuffer, as the HTTP server reads one: run() transfers it (handOver), so it is
  // detached afterwards; the allocation and copy stand for the server's read
  const job = async () => {
    const body = Buffer.allocUnsafeSlow(s.body.length);
    s.body.copy(body);
    const r = await t.run({ route: s.route, contentType: s.ct, headers: {}, body }, tags);
    if (r.kind !== 'ok') throw new Error(JSON.stringify(r));
    t.recycle(r.data);
  };
  for (let i = 0; i < 40; i++) await job(); // warm
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  const lane = async () => { while (next++ < JOBS) await job(); };
  await Promise.all([lane(), lane()]);
  const c = process.cpuUsage(c0);
  const secs = (c.user + c.system) / 1e6;
  await t.close();
  return { perCpuUs: (secs * 1e6) / (JOBS * SPANS_PER_REQUEST), wall: (JOBS * SPANS_PER_REQUEST) / ((performance.now() - t0) / 1000) };
}

console.log(`| input | build | young generation MiB | µs CPU a span (median of 3; each) | spans/s wall |`);
console.log('|---|---|---|---|---|');
for (const kind of kinds) {
  const cases = builds.flatMap((b) => sizes.map((y) => ({ b, y, rs: [] })));
  for (let round = 0; round < 3; round++) for (const c of cases) c.rs.push(await once(kind, c.y, c.b));
  for (const { b, y, rs } of cases) {
    console.log(`| ${kind} | ${b === builds[0] ? 'this' : b} | ${y} | ${median(rs.map((r) => r.perCpuUs)).toFixed(2)} (${rs.map((r) => r.perCpuUs.toFixed(2)).join(', ')}) | ${Math.round(median(rs.map((r) => r.wall)))} |`);
  }
}
