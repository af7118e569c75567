// What bench/traces and bench/otel-metrics share: the in-process rate loop, a counting dataway, and
// the end-to-end window against the real agent in its own process (agent-server.mjs).
import { fork } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';

const here = path.dirname(new URL(import.meta.url).pathname);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** CPU µs of this process per item over ~`ms` of repeated synchronous `fn` (each call handles `perCall` items), after `warm` calls. */
export function cpuPerItem(fn, perCall, ms = 400, warm = 20) {
  for (let i = 0; i < warm; i++) fn();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < ms) {
    fn();
    n++;
  }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / (n * perCall);
}

/** Items per wall second and per CPU-second of this process, over ~1.5 s of repeated `fn` (each call handles `perCall` items). */
export async function loopRate(fn, perCall, ms = 1500) {
  globalThis.gc?.();
  for (let i = 0; i < 5; i++) await fn(); // warm
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < ms) {
    await fn();
    n++;
  }
  const c = process.cpuUsage(c0);
  const items = n * perCall;
  return { wall: items / ((performance.now() - t0) / 1000), cpu: items / ((c.user + c.system) / 1e6) };
}

/** A counting dataway: X-Points of /v1/write/<category>, body discarded. */
export async function countingSink(category) {
  const state = { points: 0, bodies: 0 };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url.startsWith(`/v1/write/${category}`)) {
        state.points += Number(req.headers['x-points'] ?? 0);
        state.bodies++;
      }
      res.writeHead(200).end('{}');
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { server, state, url: `http://127.0.0.1:${server.address().port}?token=tkn_bench` };
}

/** The real agent in its own process (agent-server.mjs), sending to `sink`; resolves once it listens. */
export async function startAgent(sink, encoding, { execArgv = [], env = process.env } = {}) {
  const child = fork(path.join(here, 'agent-server.mjs'), [sink.url, encoding], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv, env });
  const ready = await new Promise((r, j) => {
    child.on('message', (m) => m.type === 'ready' && r(m));
    child.on('exit', (code) => j(new Error(`agent exited (${code}) before it was ready`)));
  });
  const stats = () => new Promise((r) => { child.once('message', r); child.send({ type: 'stats' }); });
  const stop = async () => {
    child.send({ type: 'stop' });
    await new Promise((r) => child.on('exit', r));
  };
  return { ready, stats, stop };
}

/**
 * `loopCount` loops (4 unless told) call `send` (one request; resolves its HTTP status; a refused one backs off 5 ms)
 * against the agent; after 1 s of warm-up, the sink's points and the agent's CPU are counted over
 * `seconds`. Returns the rates and the agent's peak RSS (MiB).
 */
export async function measureWindow(agent, sink, seconds, send, loopCount = 4) {
  let stop = false;
  let rejected = 0;
  const loop = async () => {
    while (!stop) {
      if ((await send()) < 300) continue;
      rejected++;
      await sleep(5);
    }
  };
  const loops = Array.from({ length: loopCount }, loop);
  await sleep(1000); // warm-up
  const p0 = sink.state.points;
  const s0 = await agent.stats();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const p1 = sink.state.points;
  const c1 = process.cpuUsage(c0);
  const s1 = await agent.stats();
  const secs = (performance.now() - t0) / 1000;
  stop = true;
  await Promise.all(loops);
  const cpu = (s1.cpu.user + s1.cpu.system - s0.cpu.user - s0.cpu.system) / 1e6;
  // per thread (clock ticks of 10 ms): main (tid = pid), the threads started before the agent (V8's platform threads,
  // libuv's pool: gzip), and the agent's own (trace workers); in seconds over the window
  const threads = { main: 0, early: 0, late: 0, earlyEach: [], lateEach: [] };
  for (const [tid, t] of Object.entries(s1.threads ?? {})) {
    const d = (t - (s0.threads?.[tid] ?? 0)) / 100;
    if (Number(tid) === s1.pid) threads.main += d;
    else if (s1.early.includes(tid)) (threads.early += d, threads.earlyEach.push(d));
    else (threads.late += d, threads.lateEach.push(d));
  }
  // the bench process (clients and the counting sink): near 1 core, it is what limits the rate
  return { benchCpuPerSec: (c1.user + c1.system) / 1e6 / secs, rate: (p1 - p0) / secs, cpuPerSec: cpu / secs, perCpuSec: (p1 - p0) / cpu, peakRssMB: s1.peakRss / 2 ** 20, atPeak: s1.atPeak, rejected, points: p1 - p0, threads };
}
