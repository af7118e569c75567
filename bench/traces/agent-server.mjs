// telekit (compiled, dist/) in its own process for bench/traces: the real
// Agent with the ddtrace and zipkin inputs, sending to the bench's sink.
// Reports { url, grpcPort } when ready, then CPU and peak RSS on request.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { fileURLToPath, pathToFileURL } from 'node:url';

// AGENT_DIST=<a dist/ directory> runs another build (run.mjs --ab: a baseline in the same run;
// an older build's agent.js sits at agent/agent.js).
const dist = process.env.AGENT_DIST ?? fileURLToPath(new URL('../../dist/', import.meta.url));
const at = (...rels) => pathToFileURL(rels.map((r) => path.join(dist, r)).find((p) => fs.existsSync(p))).href;
const { Agent } = await import(at('agent/runtime/agent.js', 'agent/agent.js'));
const { inputs } = await import(at('inputs/index.js'));

const [dataway, encoding] = process.argv.slice(2);
const confDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-traces-conf-'));
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-traces-data-'));
fs.mkdirSync(path.join(confDir, 'ddtrace'));
fs.mkdirSync(path.join(confDir, 'zipkin'));
// BENCH_TRACE_CONF: lines added to both trace inputs' configuration, e.g. BENCH_TRACE_CONF='workers = 1'
const extra = process.env.BENCH_TRACE_CONF ? `${process.env.BENCH_TRACE_CONF}\n` : '';
fs.writeFileSync(path.join(confDir, 'ddtrace/ddtrace.conf'), `[[inputs.ddtrace]]\n${extra}`);
fs.writeFileSync(path.join(confDir, 'zipkin/zipkin.conf'), `[[inputs.zipkin]]\n${extra}`);
// the opentelemetry input (when this build has it), its gRPC server on a free port
const grpcPort = await new Promise((r) => {
  const srv = net.createServer().listen(0, '127.0.0.1', () => {
    const p = srv.address().port;
    srv.close(() => r(p));
  });
});
if (inputs.some((d) => d.name === 'opentelemetry')) fs.writeFileSync(path.join(confDir, 'otel.conf'), `[[inputs.opentelemetry]]\n[inputs.opentelemetry.grpc]\naddr = "127.0.0.1:${grpcPort}"\n`);
const env = { ENV_DATAWAY: dataway, ENV_HTTP_LISTEN: '127.0.0.1:0', ENV_HOSTNAME: 'bench-node', ENV_DATAWAY_CONTENT_ENCODING: encoding ?? 'v1', ENV_IO_FLUSH_INTERVAL: '1s' };
// Extra agent settings for experiments, e.g. BENCH_AGENT_ENV='{"ENV_IO_QUEUE_CAPACITY":"10000"}'
Object.assign(env, JSON.parse(process.env.BENCH_AGENT_ENV ?? '{}'));
// the threads that exist before the agent starts (main, V8's platform threads, libuv's pool once used); threads
// started later are the agent's (trace workers, and libuv's pool if nothing used it before)
const taskCpu = () => {
  // per thread: utime + stime in clock ticks (fields 14, 15 of /proc/self/task/<tid>/stat); Linux only
  const out = {};
  try {
    for (const t of fs.readdirSync('/proc/self/task')) {
      const st = fs.readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      out[t] = Number(f[11]) + Number(f[12]);
    }
  } catch {
    // not Linux: no per-thread figures
  }
  return out;
};
await new Promise((r) => fs.readFile(process.argv[1], r)); // libuv's pool exists from here on
const early = Object.keys(taskCpu());
const agent = await Agent.start({ confDir, dataDir, env, log: pino({ level: 'warn' }), watch: false, registry: inputs });
let peakRss = 0;
let atPeak; // process.memoryUsage() at the highest sampled RSS: where the peak's bytes were
// rss() alone each time (memoryUsage() walks the heap's spaces: ~3 % of the main thread at 20 a second)
setInterval(() => {
  if (process.memoryUsage.rss() <= peakRss) return;
  const m = process.memoryUsage();
  if (m.rss <= peakRss) return;
  peakRss = m.rss;
  atPeak = m;
  if (!process.env.BENCH_DIAG) return;
  // BENCH_DIAG: also the tracing queue's bytes and points, the process's anonymous and file-backed RSS, and when (ms)
  m.queuedBytes = agent.sender?.queuedBytes?.('tracing');
  m.queuedPoints = agent.sender?.queued?.('tracing');
  m.atMs = Math.round(performance.now() - t0);
  try {
    const r = fs.readFileSync('/proc/self/smaps_rollup', 'utf8');
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(r)?.[1] ?? 0) * 1024;
    m.anon = kb('Anonymous');
    m.file = kb('Rss') - kb('Anonymous');
  } catch {
    // not Linux
  }
}, 50).unref();
const t0 = performance.now();
// BENCH_DIAG=<file>: one JSON line per agent run appended to it: RSS every 50 ms, the main isolate's GCs by kind, and
// `counts`, whatever counters a patched copy of dist (AGENT_DIST) kept in globalThis.__D (session 11 counted batch buffers so)
const series = [];
const gcs = {};
if (process.env.BENCH_DIAG) {
  const { PerformanceObserver, constants } = await import('node:perf_hooks');
  const kinds = { [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor', [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major', [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental', [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak' };
  new PerformanceObserver((l) => {
    for (const e of l.getEntries()) {
      const k = kinds[e.detail?.kind] ?? 'other';
      gcs[k] = (gcs[k] ?? 0) + 1;
    }
  }).observe({ entryTypes: ['gc'] });
  setInterval(() => series.push([Math.round(performance.now() - t0), Math.round(process.memoryUsage.rss() / 2 ** 20)]), 50).unref();
}
/** VmHWM of /proc/self/status in bytes (0 where there is none). */
const hwm = () => {
  try {
    return Number(/^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
};
process.on('message', async (m) => {
  // peak: the kernel's high-water mark of this process's memory (VmHWM) or the 50 ms samples, whichever is higher. Not
  // ru_maxrss: Linux carries it over execve from the forked copy of the parent, so it read the bench process's RSS
  // whenever that was the higher (327 MiB "peaks" after the in-process loops, session 11)
  if (m.type === 'stats') process.send({ type: 'stats', cpu: process.cpuUsage(), rss: process.memoryUsage().rss, peakRss: Math.max(peakRss, hwm()), atPeak, threads: taskCpu(), early, pid: process.pid });
  if (m.type === 'stop') {
    if (process.env.BENCH_DIAG) fs.appendFileSync(process.env.BENCH_DIAG, `${JSON.stringify({ dist, gcs, atPeak, counts: globalThis.__D, series })}\n`);
    await agent.stop();
    fs.rmSync(confDir, { recursive: true, force: true });
    fs.rmSync(dataDir, { recursive: true, force: true });
    process.exitCode = 0;
    process.disconnect();
    setTimeout(() => process.exit(0), 200).unref();
  }
});
process.send({ type: 'ready', url: agent.httpUrl, grpcPort });
