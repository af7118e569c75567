// The fixed costs on the agent's main thread that no trace code can remove: node:http taking a trace body in and
// answering, handing it to a worker and back, gzip's JS side and node:http posting the result, each measured alone in a
// server process (main thread CPU from /proc/thread-self, so V8's and libuv's threads are not counted), per span of the
// bench's 500-span ddtrace body.
//   node bench/traces/http-floor.mjs [--seconds 3] [--runs 3]
import { fork } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import zlib from 'node:zlib';
import { Worker } from 'node:worker_threads';
import { Pool } from 'undici';
import { ddtraceBody, SPANS_PER_REQUEST } from './payloads.mjs';
import { LineBuf } from '../../dist/agent/model/linebuf.js';
import { TraceProcessor } from '../../dist/agent/services/trace/processor.js';
import { schema } from '../../dist/inputs/ddtrace/config.js';
import { DdLineWriter } from '../../dist/inputs/ddtrace/lines.js';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const SECONDS = Number(arg('seconds', 3));
const RUNS = Number(arg('runs', 3));
const mainTicks = () => {
  const st = fs.readFileSync('/proc/thread-self/stat', 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
};

if (process.argv[2] === 'serve') {
  // the server process: `mode` says how much of the agent's path it does per request
  const mode = process.argv[3];
  // the lines the agent's ddtrace workers write for the bench body
  const out = new LineBuf(1 << 20);
  new DdLineWriter(schema.defaultValue(), new TraceProcessor('ddtrace', schema.defaultValue())).write({ route: '/v0.4/traces', contentType: 'application/msgpack', headers: {}, body: ddtraceBody() }, out, { host: 'bench-node' }, 1_700_000_000_000_000_000n);
  const lines = Buffer.from(out.data.subarray(0, out.off));
  const worker = mode === 'http' ? undefined : new Worker(`const { parentPort, workerData: lines } = require('node:worker_threads');
    parentPort.on('message', (m) => { if (m.spare) return; const out = new Uint8Array(${lines.length}); out.set(lines); parentPort.postMessage({ id: m.id, data: out, ends: new Uint32Array(${SPANS_PER_REQUEST}) }, [out.buffer]); });`, { eval: true, workerData: lines });
  const waiting = new Map();
  let next = 1;
  worker?.on('message', (m) => { waiting.get(m.id)(m); waiting.delete(m.id); });
  const sink = http.createServer((req, res) => { req.resume(); req.on('end', () => res.writeHead(200).end('{}')); });
  await new Promise((r) => sink.listen(0, '127.0.0.1', r));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  let pending = 0;
  const post = (gz) => new Promise((r) => {
    const req = http.request({ agent, host: '127.0.0.1', port: sink.address().port, method: 'POST', path: '/v1/write/tracing', headers: { 'content-type': 'text/plain', 'content-encoding': 'gzip', 'content-length': String(gz.length) } }, (res) => { res.resume(); res.on('end', r); });
    req.end(gz);
  });
  const batch = Buffer.allocUnsafe(lines.length * 2);
  const server = http.createServer((req, res) => {
    const body = Buffer.allocUnsafe(Number(req.headers['content-length']));
    let got = 0;
    req.on('data', (c) => { c.copy(body, got); got += c.length; });
    req.on('end', async () => {
      if (worker) {
        const id = next++;
        const r = await new Promise((done) => { waiting.set(id, done); worker.postMessage({ id, route: '/v0.4/traces', contentType: 'application/msgpack', headers: {}, body }, [body.buffer]); });
        // the sender's copy into its batch, and the buffer given back
        r.data.length > 0 && batch.set(r.data, (pending % 2) * lines.length);
        worker.postMessage({ spare: r.data.buffer }, [r.data.buffer]);
        if (mode !== 'handoff' && ++pending % 2 === 0) {
          // a batch of 1,000 lines: gzip (level 3) and POST, as the dataway sink does
          const gz = await new Promise((ok) => zlib.gzip(batch, { level: 3, chunkSize: 256 << 10 }, (e, d) => ok(d)));
          if (mode === 'all') await post(gz);
        }
      }
      const json = JSON.stringify({ rate_by_service: { 'service:,env:': 1 } });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(json)) }).end(json);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  process.on('message', (m) => {
    if (m === 'ticks') process.send({ ticks: mainTicks() });
    if (m === 'stop') process.exit(0);
  });
  process.send({ port: server.address().port });
} else {
  const body = ddtraceBody();
  const modes = { http: 'node:http in (read a 253 KB body into one allocation, answer 200 with JSON)', handoff: '+ hand-off (transfer to a worker, its lines back, copied into a batch, the buffer returned)', gzip: '+ gzip level 3 of each 1,000-line batch (zlib.gzip, its JS side; the compression runs in libuv\'s pool)', all: '+ POST of each gzip body (node:http client, keep-alive)' };
  const res = {};
  for (let run = 0; run < RUNS; run++) {
    for (const mode of Object.keys(modes)) {
      const child = fork(new URL(import.meta.url).pathname, ['serve', mode], { stdio: 'inherit' });
      const { port } = await new Promise((r) => child.once('message', r));
      const ticks = () => new Promise((r) => { child.once('message', (m) => r(m.ticks)); child.send('ticks'); });
      const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 4 });
      let n = 0;
      let stop = false;
      const loop = async () => {
        while (!stop) {
          const r = await pool.request({ method: 'POST', path: '/v0.4/traces', headers: { 'content-type': 'application/msgpack' }, body });
          await r.body.dump();
          n++;
        }
      };
      const loops = [loop(), loop(), loop(), loop()];
      await new Promise((r) => setTimeout(r, 1000));
      const t0 = await ticks();
      const n0 = n;
      await new Promise((r) => setTimeout(r, SECONDS * 1000));
      const t1 = await ticks();
      const reqs = n - n0;
      stop = true;
      await Promise.all(loops);
      await pool.close();
      child.send('stop');
      (res[mode] ??= []).push(((t1 - t0) / 100 / (reqs * SPANS_PER_REQUEST)) * 1e6);
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  console.log(`main-thread CPU µs a span (${SPANS_PER_REQUEST} spans a request), median of ${RUNS} runs (each run: ${SECONDS} s, 4 connections)`);
  for (const [mode, label] of Object.entries(modes)) console.log(`| ${label} | ${median(res[mode]).toFixed(2)} | ${res[mode].map((x) => x.toFixed(2)).join(', ')} |`);
}
