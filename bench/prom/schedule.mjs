/**
 * Scrape scheduling of many targets on one core: telekit (the whole agent, in
 * this process, shipping to a discarding dataway) against vmagent from Debian's
 * victoria-metrics package (GOMAXPROCS=1, remote write to the same discarding
 * sink) scraping the same targets, one after the other in the same run.
 * Targets are served by a child process; only the scraper's CPU is counted.
 *
 *   npm run build && node bench/prom/schedule.mjs [targets=1000] [interval_s=5] [measure_s=15]
 *
 * The agent runs in this process, so node flags given here are its flags. This box has no cgroup
 * limit (V8: 16 MiB semi-spaces, a ~4 GiB heap); what Node and the agent derive from the DaemonSet's
 * 384 MiB limit is reproduced by
 *   ENV_MEMORY_LIMIT_MB=307 MALLOC_MMAP_THRESHOLD_=131072 node --max-semi-space-size=2 --max-old-space-size=192 bench/prom/schedule.mjs ...
 * (ENV_* variables of this process are passed to the agent; --max-semi-space-size=2 is deploy/base's NODE_OPTIONS,
 * MALLOC_MMAP_THRESHOLD_ the image's glibc setting, Dockerfile).
 *
 * Memory, in MiB: RSS at the end of the window and peak RSS (sampled every 100 ms
 * from the warm-up to the end of the window) of the scraping process. telekit's
 * agent runs in this process (the targets are a child process), so its figures
 * include this script's few MiB; the "input alone" row runs after the agent in
 * the same process, so its RSS is not its own and is not printed.
 */
import { fork, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Agent } from '../../dist/agent/runtime/agent.js';
import { inputs } from '../../dist/inputs/index.js';

const N = Number(process.argv[2] ?? 1000);
const INTERVAL = Number(process.argv[3] ?? 5);
const MEASURE = Number(process.argv[4] ?? 15);
const WARM = 2 * INTERVAL + 1;
const here = path.dirname(new URL(import.meta.url).pathname);
const bodyFile = path.join(here, 'node-exporter.txt');
const samplesPerBody = fs.readFileSync(bodyFile, 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).length;

// the targets run with node's defaults, not with the flags given to this process (the agent's)
const targets = fork(path.join(here, 'targets.mjs'), [bodyFile], { execArgv: [] });
const port = await new Promise((r) => targets.once('message', (m) => r(m.port)));
const counts = () => new Promise((r) => { targets.once('message', (m) => r(m.counts)); targets.send('counts'); });
const sleep = (s) => new Promise((r) => setTimeout(r, s * 1000));
const urls = Array.from({ length: N }, (_, i) => `http://127.0.0.1:${port}/t/${i}`);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prom-bench-'));

/** CPU_PROFILE=file.cpuprofile: a CPU profile of the agent's measurement window (summarise with bench/prom/profile-summary.mjs). */
async function profiled(file, during) {
  if (process.env.ALLOC_PROFILE) return allocProfiled(process.env.ALLOC_PROFILE, during);
  if (!file) return during();
  const { Session } = await import('node:inspector/promises');
  const s = new Session();
  s.connect();
  await s.post('Profiler.enable');
  await s.post('Profiler.setSamplingInterval', { interval: 200 });
  await s.post('Profiler.start');
  await during();
  const { profile } = await s.post('Profiler.stop');
  fs.writeFileSync(file, JSON.stringify(profile));
  s.disconnect();
}

/**
 * ALLOC_PROFILE=file.heapprofile: V8's sampling heap profile of the agent's measurement window, every allocation
 * (also those a scavenge or a mark-compact collected; ALLOC_PROMOTED=1: only those that outlived the young generation, whether a mark-compact
 * collected them later or not; ALLOC_SURVIVORS=1: only those still alive at the end), by the
 * function that allocated it (summarise with bench/prom/alloc-summary.mjs; the interval is one sample per 16 KiB).
 */
async function allocProfiled(file, during) {
  const { Session } = await import('node:inspector/promises');
  const s = new Session();
  s.connect();
  const major = !process.env.ALLOC_SURVIVORS;
  const minor = major && !process.env.ALLOC_PROMOTED;
  await s.post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: major, includeObjectsCollectedByMinorGC: minor });
  await during();
  const { profile } = await s.post('HeapProfiler.stopSampling');
  fs.writeFileSync(file, JSON.stringify(profile));
  s.disconnect();
}

/** CPU ms (user + system) of each thread of this process, by thread id: [name, ms]. */
function threadCpu() {
  const tick = os.constants?.CLK_TCK ?? 100;
  const m = new Map();
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      const st = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const comm = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')')).replace(/[0-9]+$/, 'N');
      const f = st.slice(st.lastIndexOf(') ') + 2).split(' ');
      m.set(tid, [comm, ((Number(f[11]) + Number(f[12])) * 1000) / tick]);
    } catch {
      // the thread ended
    }
  }
  return m;
}

async function measure(name, ua, cpuNow, own, rssNow, profile) {
  let peak = 0;
  const sample = rssNow ? setInterval(() => (peak = Math.max(peak, rssNow())), 100) : undefined;
  await sleep(WARM);
  const o0 = own ? await own() : 0;
  const c0 = (await counts())[ua] ?? 0;
  const th0 = process.env.THREADS && rssNow && !profile ? threadCpu() : undefined;
  const t0 = cpuNow();
  const w0 = Date.now();
  await profiled(profile, () => sleep(MEASURE));
  const t1 = cpuNow();
  const cpuMs = t1[0] + t1[1] - t0[0] - t0[1];
  const sysMs = t1[1] - t0[1];
  const wall = (Date.now() - w0) / 1000;
  const scrapes = ((await counts())[ua] ?? 0) - c0;
  if (th0 && name.startsWith('telekit')) {
    // THREADS=1: the agent's CPU by thread (its name in /proc), µs per scrape
    const th1 = threadCpu();
    const by = new Map();
    // the main thread, else each other thread by its id (Node names them all `node`)
    for (const [tid, [comm, ms]] of th1) {
      const k = Number(tid) === process.pid ? 'main' : `${comm}:${tid}`;
      by.set(k, (by.get(k) ?? 0) + ms - (th0.get(tid)?.[1] ?? 0));
    }
    console.log(`${name} CPU by thread, µs per scrape: ${[...by].sort((a, b) => b[1] - a[1]).filter(([, ms]) => ms > 0).map(([c, ms]) => `${c} ${((1000 * ms) / Math.max(1, scrapes)).toFixed(0)}`).join(', ')}`);
  }
  if (own) console.log(`${name}: its own scrape counter advanced ${(await own()) - o0} in the window, the targets saw ${scrapes}`);
  const expected = (N / INTERVAL) * wall;
  const rssMiB = rssNow ? rssNow() / 1048576 : undefined;
  clearInterval(sample);
  const peakMiB = rssNow ? Math.max(peak, rssNow()) / 1048576 : undefined;
  return { rssMiB, peakMiB, name, scrapesPerS: scrapes / wall, expectedPerS: expected / wall, cpuPct: (cpuMs / 10 / wall), cpuMsPerScrape: cpuMs / Math.max(1, scrapes), sysMsPerScrape: sysMs / Math.max(1, scrapes), samplesPerS: (scrapes * samplesPerBody) / wall };
}

// ENV_* variables of this process reach the agent (e.g. ENV_MEMORY_LIMIT_MB=307, what the DaemonSet's 384 MiB limit sets)
const agentEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('ENV_')));
const results = [];
{
  // telekit: the whole agent (scheduler, scrape, parse, convert, batch, encode, gzip, send)
  const confDir = path.join(tmp, 'conf.d');
  fs.mkdirSync(path.join(confDir, 'prom'), { recursive: true });
  fs.writeFileSync(path.join(confDir, 'prom', 'bench.conf'), `[[inputs.prom]]\nurls = ${JSON.stringify(urls)}\ninterval = "${INTERVAL}s"\ntimeout = "${INTERVAL}s"\nmax_concurrent_scrapes = 32\n`);
  const agent = await Agent.start({ confDir, dataDir: path.join(tmp, 'data'), watch: false, registry: inputs, log: pino({ level: 'silent' }), env: { ...agentEnv, ENV_DATAWAY: `http://127.0.0.1:${port}?token=tkn_bench`, ENV_HTTP_LISTEN: '127.0.0.1:0', ENV_HOSTNAME: 'bench', ENV_DEFAULT_ENABLED_INPUTS: '-' } });
  const cpu = () => { const u = process.cpuUsage(); return [u.user / 1000, u.system / 1000]; };
  const own = async () => Number(((await (await fetch(`${agent.httpUrl}/metrics`)).text()).match(/^telekit_prom_scrapes_total\{result="ok"\} (\d+)/m) ?? [])[1] ?? 0);
  results.push(await measure('telekit (agent, 1 Node thread)', 'telekit-prom', cpu, process.env.DEBUG ? own : undefined, () => process.memoryUsage().rss, process.env.CPU_PROFILE));
  const self = (await (await fetch(`${agent.httpUrl}/metrics`)).text()).split('\n');
  if (process.env.DEBUG) {
    // the agent's memory at the end of the window, in MiB: process.memoryUsage(), V8's spaces (used / committed), after a full GC when run with --expose-gc
    const v8 = await import('node:v8');
    const m = (o) => Object.entries(o).map(([k, v]) => `${k} ${(v / 1048576).toFixed(1)}`).join(', ');
    console.log(`memoryUsage (MiB): ${m(process.memoryUsage())}`);
    console.log(`V8 spaces (MiB used / committed): ${v8.getHeapSpaceStatistics().filter((s) => s.space_size).map((s) => `${s.space_name} ${(s.space_used_size / 1048576).toFixed(1)} / ${(s.space_size / 1048576).toFixed(1)}`).join(', ')}`);
    // resident memory by mapping: the node binary and libraries (files), malloc's main heap ([heap]), other anonymous mappings (V8's pages, malloc's thread arenas, big buffers)
    const rssBy = () => {
      const by = {};
      let kind = '';
      for (const l of fs.readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
        const h = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(l);
        if (h) kind = h[1] === '' ? 'anonymous' : h[1].startsWith('/') ? 'files' : h[1];
        else if (l.startsWith('Rss:')) by[kind] = (by[kind] ?? 0) + Number(l.split(/\s+/)[1]) / 1024;
      }
      return Object.entries(by).filter(([, v]) => v >= 0.1).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ');
    };
    console.log(`RSS by mapping (MiB): ${rssBy()}`);
    if (global.gc) {
      global.gc();
      global.gc();
      console.log(`after a full GC (MiB): ${m(process.memoryUsage())}; RSS by mapping: ${rssBy()}`);
    }
  }
  // HEAP_SNAPSHOT=file.heapsnapshot: the agent's heap at the end of the window (summarise with bench/memory/heap-summary.mjs)
  if (process.env.HEAP_SNAPSHOT) (await import('node:v8')).writeHeapSnapshot(process.env.HEAP_SNAPSHOT);
  results.at(-1).note = self.filter((l) => /^telekit_prom_(scrapes_skipped|scrape_errors)_total/.test(l)).join(', ') || 'no skipped or failed scrapes';
  if (process.env.DEBUG) console.log(self.filter((l) => /^telekit_(prom|.*drop|.*queue)/.test(l)).join('\n'));
  await agent.stop();
}
if (!process.env.SKIP_ALONE) {
  // the prom input alone (scheduler, GET, parse, lines written), lines dropped: the input's share of the agent's cost
  const { PromInput } = await import('../../dist/inputs/prom/input.js');
  const { validate } = await import('../../dist/agent/config/schema.js');
  const { schema } = await import('../../dist/inputs/prom/config.js');
  const { Registry } = await import('prom-client');
  const config = validate(schema, { urls, interval: `${INTERVAL}s`, timeout: `${INTERVAL}s`, max_concurrent_scrapes: 32 }).value;
  // takes lines as the agent's core does with line-protocol sinks (lines mode), and drops them
  const acc = { add: (p) => (Array.isArray(p) ? p.length : 1), addWait: async () => {}, overloaded: () => false, error: () => {}, takesLines: () => true, tagsToAdd: () => ({ host: 'bench' }), addLines: (_c, _d, ends) => ends.length };
  const ctx = { name: 'prom', instance: 0, acc, log: pino({ level: 'silent' }), http: { route: () => () => {} }, host: { hostname: 'bench', ip: '127.0.0.1', nodeName: '' }, dataDir: tmp, k8s: undefined, metrics: new Registry(), signal: new AbortController().signal };
  const input = new PromInput(config, ctx);
  await input.start();
  const cpu = () => { const u = process.cpuUsage(); return [u.user / 1000, u.system / 1000]; };
  results.push(await measure('telekit prom input alone (lines dropped)', 'telekit-prom', cpu, undefined, undefined));
  await input.stop();
}
if (fs.existsSync('/usr/bin/vmagent') && !process.env.SKIP_VM) {
  const cfg = path.join(tmp, 'scrape.yml');
  fs.writeFileSync(cfg, `global:\n  scrape_interval: ${INTERVAL}s\n  scrape_timeout: ${INTERVAL}s\nscrape_configs:\n  - job_name: bench\n    metrics_path: /\n    static_configs:\n${urls.map((u) => `      - targets: ['${u.replace('http://', '').replace(/\/t\/\d+$/, '')}']\n        labels: {__metrics_path__: '/t/${u.split('/').pop()}'}`).join('\n')}\n`);
  const vm = spawn('/usr/bin/vmagent', [`-promscrape.config=${cfg}`, `-remoteWrite.url=http://127.0.0.1:${port}/api/v1/write`, `-remoteWrite.tmpDataPath=${path.join(tmp, 'vm')}`, '-httpListenAddr=127.0.0.1:0', '-loggerLevel=ERROR'], { env: { ...process.env, GOMAXPROCS: '1' }, stdio: 'ignore' });
  const tick = os.constants?.CLK_TCK ?? 100;
  const cpu = () => { if (vm.exitCode !== null) throw new Error(`vmagent exited with ${vm.exitCode}`); const f = fs.readFileSync(`/proc/${vm.pid}/stat`, 'utf8').split(') ')[1].split(' '); return [(Number(f[11]) * 1000) / tick, (Number(f[12]) * 1000) / tick]; };
  const rss = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${vm.pid}/status`, 'utf8'))[1]) * 1024;
  results.push(await measure('vmagent 1.79 (GOMAXPROCS=1)', 'vm_promscrape', cpu, undefined, rss));
  vm.kill();
  if (vm.exitCode === null) await new Promise((r) => vm.once('exit', r)); // it writes its queue dir until it exits
} else results.push({ name: 'vmagent: not installed (apt-get install victoria-metrics)' });
targets.send('exit');
fs.rmSync(tmp, { recursive: true, force: true });
console.log(`${N} targets, interval ${INTERVAL}s, body ${samplesPerBody} samples (node exporter), measured ${MEASURE}s after ${WARM}s warm-up`);
for (const r of results) {
  if (r.scrapesPerS === undefined) { console.log(r.name); continue; }
  console.log(`${r.name}: ${r.scrapesPerS.toFixed(0)} scrapes/s of ${r.expectedPerS.toFixed(0)} due, ${(r.samplesPerS / 1000).toFixed(0)}k samples/s, CPU ${r.cpuPct.toFixed(1)}% of a core, ${r.cpuMsPerScrape.toFixed(2)} ms CPU/scrape (${r.sysMsPerScrape.toFixed(2)} of it system)${r.rssMiB === undefined ? '' : `, RSS ${r.rssMiB.toFixed(0)} MiB at the end, peak ${r.peakMiB.toFixed(0)} MiB`}${r.note ? ` (${r.note})` : ''}`);
}
const tk = results[0];
const vmr = results.find((r) => r.name.startsWith('vmagent') && r.cpuMsPerScrape !== undefined);
if (tk?.cpuMsPerScrape !== undefined && vmr) console.log(`telekit / vmagent CPU per scrape: ${(tk.cpuMsPerScrape / vmr.cpuMsPerScrape).toFixed(2)}x; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
process.exit(0);
