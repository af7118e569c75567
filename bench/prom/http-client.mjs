/**
 * CPU per GET of the node exporter body (57 KB) from bench/prom/targets.mjs,
 * 32 in flight over keep-alive connections: undici's request() as the prom
 * input used it before session 6 (composed abort signals, the body as a stream),
 * the input's scrape() (its own HTTP/1.1 client since session 10, http1.ts;
 * undici's dispatch() with a handler before), and a bare keep-alive
 * socket that writes a fixed request and reads a content-length body (a floor).
 *
 *   npm run build && node bench/prom/http-client.mjs [gets=4000]
 */
import { fork } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { Agent, request } from 'undici';
import { makeClient, scrape } from '../../dist/inputs/prom/scrape.js';

const here = path.dirname(new URL(import.meta.url).pathname);
const targets = fork(path.join(here, 'targets.mjs'), [path.join(here, 'node-exporter.txt')]);
const port = await new Promise((r) => targets.once('message', (m) => r(m.port)));
const N = Number(process.argv[2] ?? 4000);
const C = 32;
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
async function run(name, one) {
  for (let i = 0; i < 200; i++) await one(i);
  const c0 = cpu();
  let next = 0;
  await Promise.all(Array.from({ length: C }, async () => {
    while (next < N) await one(next++);
  }));
  console.log(`${name}: ${(((cpu() - c0) / N) * 1000).toFixed(0)} µs CPU per GET`);
}
const url = (i) => `http://127.0.0.1:${port}/t/${i % 100}`;
const headers = { accept: 'text/plain', 'accept-encoding': 'gzip', 'user-agent': 'bench' };
const stop = new AbortController().signal;
setMaxListeners(2 * C, stop); // shared by the 32 GETs in flight (the input gives each target its own)
const agent = new Agent({ connections: C, keepAliveTimeout: 60_000 });
const requestGet = async (i) => {
  const signal = AbortSignal.any([AbortSignal.timeout(5000), stop]);
  const res = await request(new URL(url(i)), { dispatcher: agent, method: 'GET', headers, signal, headersTimeout: 5000, bodyTimeout: 5000 });
  res.body.on('error', () => undefined);
  const chunks = [];
  let size = 0;
  for await (const c of res.body) {
    size += c.length;
    chunks.push(c);
  }
  return (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)).toString('utf8');
};
const client = makeClient(undefined, C);
const reqs = Array.from({ length: 100 }, (_, i) => ({ url: url(i), timeoutMs: 5000, maxBytes: 1 << 26, headers: {} }));
const dispatchGet = async (i) => {
  const r = await scrape(client, reqs[i % 100], stop);
  if (!r.ok) throw new Error(r.message);
};
const pool = [];
const socketGet = (i) =>
  new Promise((resolve) => {
    const s = pool.pop() ?? net.connect(port, '127.0.0.1').setNoDelay(true);
    let need = -1;
    let parts = [];
    let got = 0;
    const onData = (d) => {
      if (need < 0) {
        parts.push(d);
        const b = parts.length === 1 ? parts[0] : Buffer.concat(parts);
        const e = b.indexOf('\r\n\r\n');
        if (e < 0) return;
        need = Number(/content-length: *(\d+)/i.exec(b.toString('latin1', 0, e))[1]);
        parts = [b.subarray(e + 4)];
        got = b.length - e - 4;
      } else {
        parts.push(d);
        got += d.length;
      }
      if (got >= need) {
        s.off('data', onData);
        pool.push(s);
        resolve((parts.length === 1 ? parts[0] : Buffer.concat(parts, got)).toString('utf8'));
      }
    };
    s.on('data', onData);
    s.write(`GET /t/${i % 100} HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/plain\r\naccept-encoding: gzip\r\nuser-agent: bench\r\n\r\n`, 'latin1');
  });
for (let round = 0; round < 2; round++) {
  await run('undici request(), AbortSignal.any(timeout, stop), for await over the body', requestGet);
  await run('prom scrape(): http1.ts (keep-alive sockets, the response head parsed once), one timer', dispatchGet);
  await run('floor: a bare keep-alive socket, fixed request bytes', socketGet);
}
targets.send('exit');
process.exit(0);
