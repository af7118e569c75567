// Worker-side CPU per span of the zipkin fast path (inputs/zipkin/lines.ts) on the bench payload, in
// one thread (no HTTP, no hand-off, no gzip); --ab <dist/> alternates another build's writer in the
// same process. --dump writes this build's lines to stdout (to compare two builds' bytes).
//   npm run build && node bench/traces/zipkin-lines-micro.mjs [--ab <other dist/>] [--rounds 7] [--dump]
import { writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { cpuPerItem } from './measure.mjs';
import { zipkinBody, SPANS_PER_REQUEST } from './payloads.mjs';

const arg = (name) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const ROUNDS = Number(arg('--rounds') ?? 7);
const builds = [new URL('../../dist/', import.meta.url).pathname, ...(arg('--ab') ? [arg('--ab').replace(/\/?$/, '/')] : [])];
const body = zipkinBody();
const tags = { host: 'node-1', host_ip: '10.0.0.1', cluster: 'prod' };
const req = { route: '/api/v2/spans', contentType: 'application/json', headers: {}, body };
const now = 1_700_000_000_000_000_000n;

async function setup(dist) {
  const imp = (p) => import(pathToFileURL(dist + p).href);
  const { LineBuf } = await imp('agent/model/linebuf.js');
  const { TraceProcessor } = await imp('agent/services/trace/processor.js');
  const { schema } = await imp('inputs/zipkin/config.js');
  const { ZipkinLineWriter } = await imp('inputs/zipkin/lines.js');
  const cfg = schema.defaultValue();
  const w = new ZipkinLineWriter(cfg, new TraceProcessor('zipkin', cfg));
  const out = new LineBuf(1 << 20);
  return () => {
    out.reset();
    if (w.write(req, out, tags, now) === undefined) throw new Error(`${dist}: the fast path declined the bench payload`);
    return out;
  };
}

const fns = await Promise.all(builds.map(setup));
if (process.argv.includes('--dump')) {
  const out = fns[0]();
  for (let o = 0; o < out.off; ) o += writeSync(1, out.data, o, out.off - o);
  process.exit(0);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const results = builds.map(() => []);
for (let round = 0; round < ROUNDS; round++) {
  fns.forEach((fn, b) => results[b].push(cpuPerItem(fn, SPANS_PER_REQUEST)));
}
console.log(`CPU µs a span, zipkin fast path, median of ${ROUNDS} rounds (${SPANS_PER_REQUEST} spans a request, node ${process.version}, load ${(await import('node:os')).loadavg()[0].toFixed(1)})`);
// the minimum as well: on a shared box another process on the sibling hyperthread inflates a round's CPU time
builds.forEach((b, i) => console.log(`${(i === 0 ? 'this' : b).padEnd(40)} median ${median(results[i]).toFixed(3)}  min ${Math.min(...results[i]).toFixed(3)}  (${results[i].map((x) => x.toFixed(2)).join(', ')})`));
