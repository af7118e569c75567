// Why trace workers give their lines back in shared memory: once any ArrayBuffer of an isolate has been detached (a
// postMessage transfer detaches it on the sending side), V8's detaching protector is gone and optimised code checks every
// typed-array and DataView access for a detached buffer. The zipkin fast path (inputs/zipkin/lines.ts) in a worker thread,
// one thread, with and without one ArrayBuffer detached in that isolate first; CPU a span, medians of 5 rounds.
//   npm run build && node bench/traces/detach-micro.mjs
import { Worker } from 'node:worker_threads';

const script = `
import { parentPort, workerData } from 'node:worker_threads';
const dist = workerData.dist;
const { LineBuf } = await import(dist + 'agent/model/linebuf.js');
const { TraceProcessor } = await import(dist + 'agent/services/trace/processor.js');
const { schema } = await import(dist + 'inputs/zipkin/config.js');
const { ZipkinLineWriter } = await import(dist + 'inputs/zipkin/lines.js');
const { zipkinBody, SPANS_PER_REQUEST } = await import(workerData.payloads);
if (workerData.detach) {
  const ab = new ArrayBuffer(8);
  structuredClone(ab, { transfer: [ab] });
}
const cfg = schema.defaultValue();
const w = new ZipkinLineWriter(cfg, new TraceProcessor('zipkin', cfg));
const out = new LineBuf(1 << 20);
const req = { route: '/api/v2/spans', contentType: 'application/json', headers: {}, body: zipkinBody() };
const f = () => { out.reset(); w.write(req, out, { host: 'node-1' }, 1n); };
const xs = [];
for (let r = 0; r < 5; r++) {
  for (let i = 0; i < 20; i++) f();
  const c0 = process.cpuUsage();
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 300) { f(); n++; }
  const c = process.cpuUsage(c0);
  xs.push((c.user + c.system) / (n * SPANS_PER_REQUEST));
}
parentPort.postMessage(xs.sort((a, b) => a - b)[2]);
`;
const workerData = { dist: new URL('../../dist/', import.meta.url).href, payloads: new URL('./payloads.mjs', import.meta.url).href };
console.log('| round | no buffer detached | one buffer detached |\n|---|---|---|');
for (let round = 1; round <= 3; round++) {
  const r = [];
  for (const detach of [false, true]) {
    const wk = new Worker(script, { eval: true, workerData: { ...workerData, detach } });
    r.push(await new Promise((res) => wk.once('message', res)));
    await wk.terminate();
  }
  console.log(`| ${round} | ${r[0].toFixed(2)} µs | ${r[1].toFixed(2)} µs |`);
}
