// bench/abuse/probe.mjs: the legitimate client during an abuse case, in its own process so the
// load generators' event loop does not skew its timings. Polls GET /v1/ping every ~20 ms (one at a
// time, 5 s timeout) and POSTs a small /v1/write/metric every 200 ms; on a "stop" message (IPC) it
// answers with the latencies and the write results.
//
//   fork('bench/abuse/probe.mjs', [baseUrl])
const base = process.argv[2];
const pings = [];
const writes = { ok: 0, refused: 0, failed: 0, statuses: {} };
let running = true;
let seq = 0;

const timed = async (url, init, timeoutMs) => {
  const t0 = performance.now();
  try {
    const r = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    await r.arrayBuffer();
    return { ms: performance.now() - t0, status: r.status };
  } catch {
    return { ms: performance.now() - t0, status: 0 };
  }
};

async function pingLoop() {
  while (running) {
    const r = await timed(`${base}/v1/ping`, {}, 5000);
    pings.push(r.status === 200 ? r.ms : Math.max(r.ms, 5000));
    const wait = 20 - r.ms;
    if (wait > 0) await new Promise((x) => setTimeout(x, wait));
  }
}

async function writeLoop() {
  while (running) {
    const r = await timed(`${base}/v1/write/metric`, { method: 'POST', body: `abuse_probe,client=probe seq=${seq++}i` }, 5000);
    writes.statuses[r.status] = (writes.statuses[r.status] ?? 0) + 1;
    if (r.status === 200) writes.ok++;
    else if (r.status === 0) writes.failed++;
    else writes.refused++;
    await new Promise((x) => setTimeout(x, 200));
  }
}

const loops = Promise.all([pingLoop(), writeLoop()]);
process.on('message', async (m) => {
  if (m !== 'stop') return;
  running = false;
  await loops;
  process.send({ pings, writes }, () => process.exit(0));
});
