// Where the bytes of an idle agent go: the modules it loads, one group at a time
// (heap and RSS after a full GC, each group on top of the ones before, in the order
// the agent loads them), then the agent itself started in this process with the
// seed's node inputs, idle, split as process.memoryUsage() and V8's heap spaces.
//
//   npm run build && node --expose-gc bench/memory/breakdown.mjs [idle_s=10]
//   (INPUTS=... overrides ENV_DEFAULT_ENABLED_INPUTS; node flags apply as given to node;
//    HEAP_SNAPSHOT=file writes the idle agent's heap snapshot)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';

if (!global.gc) throw new Error('run with node --expose-gc');
const IDLE = Number(process.argv[2] ?? 10);
const INPUTS = process.env.INPUTS ?? 'cpu,disk,diskio,mem,swap,system,hostobject,net,container,statsd,ddtrace';
const MiB = 2 ** 20;
const f = (n) => (n / MiB).toFixed(1);
const status = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
const snap = () => {
  global.gc();
  global.gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed, heapTotal: m.heapTotal, external: m.external - m.arrayBuffers, ab: m.arrayBuffers };
};
const dist = new URL('../../dist/', import.meta.url);
const groups = [
  ['logging: pino', ['pino']],
  ['self-metrics: prom-client', ['prom-client']],
  ['HTTP server: fastify', ['fastify']],
  ['config: toml + schema + conf.d loading', ['toml', new URL('agent/config/load.js', dist).href]],
  ['conf.d watch: chokidar', ['chokidar']],
  ['HTTP client: undici (dataway sink, prom, kubelet)', ['undici']],
  ['agent core (runtime, sender, disk buffer, sinks, server)', [new URL('agent/runtime/agent.js', dist).href]],
  ['input registry (every definition: names, schemas)', [new URL('inputs/index.js', dist).href]],
  ['cli', [new URL('cli/main.js', dist).href]],
];
console.log(`node ${process.version}, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}; MiB after a full GC; flags: ${process.execArgv.join(' ')}`);
console.log('| loaded | +RSS | +V8 heap used | +V8 heap reserved | +external (non-ArrayBuffer) | +ArrayBuffers |');
console.log('|---|---|---|---|---|---|');
let prev = snap();
console.log(`| bare node (this script) | ${f(prev.rss)} | ${f(prev.heap)} | ${f(prev.heapTotal)} | ${f(prev.external)} | ${f(prev.ab)} |`);
for (const [name, specs] of groups) {
  for (const s of specs) await import(s);
  const now = snap();
  console.log(`| ${name} | ${f(now.rss - prev.rss)} | ${f(now.heap - prev.heap)} | ${f(now.heapTotal - prev.heapTotal)} | ${f(now.external - prev.external)} | ${f(now.ab - prev.ab)} |`);
  prev = now;
}

// The agent, idle, in this process (file sink, no Kubernetes API).
const { Agent } = await import(new URL('agent/runtime/agent.js', dist).href);
const { inputs } = await import(new URL('inputs/index.js', dist).href);
const { pino } = await import('pino');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mem-breakdown-'));
fs.mkdirSync(path.join(tmp, 'conf.d'));
const agent = await Agent.start({ confDir: path.join(tmp, 'conf.d'), dataDir: path.join(tmp, 'data'), watch: true, registry: inputs, log: pino({ level: 'warn' }), env: { ...process.env, ENV_HTTP_LISTEN: '127.0.0.1:0', ENV_DEFAULT_ENABLED_INPUTS: INPUTS, ENV_DATAWAY: '' } });
await new Promise((r) => setTimeout(r, IDLE * 1000));
const before = process.memoryUsage();
const now = snap();
console.log(`| agent started (${INPUTS}), idle ${IDLE} s | ${f(now.rss - prev.rss)} | ${f(now.heap - prev.heap)} | ${f(now.heapTotal - prev.heapTotal)} | ${f(now.external - prev.external)} | ${f(now.ab - prev.ab)} |`);
console.log(`| **total** | **${f(now.rss)}** | **${f(now.heap)}** | **${f(now.heapTotal)}** | **${f(now.external)}** | **${f(now.ab)}** |`);
console.log(`\nbefore that GC: RSS ${f(before.rss)}, heap used ${f(before.heapUsed)} of ${f(before.heapTotal)} reserved, external ${f(before.external)} (ArrayBuffers ${f(before.arrayBuffers)}); VmHWM ${f(status('VmHWM'))}; threads ${status('Threads') / 1024}; running inputs: ${agent.runningInputs().join(',')}`);
console.log('\nV8 heap spaces after the GC (MiB used / reserved):');
console.log(v8.getHeapSpaceStatistics().map((s) => `${s.space_name} ${f(s.space_used_size)} / ${f(s.space_size)}`).join(', '));
const code = v8.getHeapCodeStatistics();
console.log(`code: bytecode and metadata ${f(code.bytecode_and_metadata_size)}, compiled code ${f(code.code_and_metadata_size)}, external scripts' source ${f(code.external_script_source_size)}`);
const sm = fs.readFileSync('/proc/self/smaps_rollup', 'utf8');
console.log(`smaps: ${['Rss', 'Anonymous', 'Shared_Clean', 'Private_Clean', 'Private_Dirty'].map((k) => `${k} ${f(Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(sm)?.[1] ?? 0) * 1024)}`).join(', ')}`);
// HEAP_SNAPSHOT=file.heapsnapshot: the idle agent's heap (summarise with bench/memory/heap-summary.mjs)
if (process.env.HEAP_SNAPSHOT) v8.writeHeapSnapshot(process.env.HEAP_SNAPSHOT);
await agent.stop();
fs.rmSync(tmp, { recursive: true, force: true });
process.exit(0);
