// Container log tailing throughput: telekit (tailing stage alone, and the whole
// agent to a local counting dataway) against rsyslog's imfile (Debian package)
// reading the same CRI files to a local file.
//
//   npm run build && node bench/logs/run.mjs [--mib 256] [--files 4] [--runs 3] [--no-peer]
//   node bench/logs/run.mjs --nginx [--mib 128] [--stages regex,tail,agent,raw,e2e-floor]: nginx access and error lines through DataKit's built-in
//     nginx.p (Pipeline), beside a floor: one precompiled RegExp doing the same match over the same lines,
//     and the same lines through the agent without the script (the raw path), and an end-to-end floor: that
//     agent without a script running the floor's RegExp over each message where it writes the raw line
//   (PROFILE_DIR=/tmp/x writes a CPU profile of each telekit child process; BENCH_AGENT_ENV='{"ENV_…":"…"}' adds agent settings;
//   node flags given to this script apply to the children: `MALLOC_MMAP_THRESHOLD_=131072 node --max-semi-space-size=2 bench/logs/run.mjs`
//   measures in the DaemonSet's budgets)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import zlib from 'node:zlib';
import { spawn, execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { validate } from '../../dist/agent/config/schema.js';
import { schema } from '../../dist/inputs/container/config.js';
import { createContainerLogs } from '../../dist/inputs/container/logs/logs.js';
import { Agent } from '../../dist/agent/runtime/agent.js';
import { inputs } from '../../dist/inputs/index.js';
import { nginxLine } from './nginx-lines.mjs';

const { values: args } = parseArgs({
  options: {
    mib: { type: 'string', default: '256' },
    files: { type: 'string', default: '4' },
    runs: { type: 'string', default: '3' },
    'no-peer': { type: 'boolean' },
    'no-agent': { type: 'boolean' },
    child: { type: 'string' },
    root: { type: 'string' },
    lines: { type: 'string' },
    nginx: { type: 'boolean' },
    stages: { type: 'string' },
  },
});
const NGINX = Boolean(args.nginx);
const NGINX_P = new URL('../../inputs/container/testdata/nginx.p', import.meta.url).pathname;
const MIB = Number(args.mib);
const FILES = Number(args.files);
const RUNS = Number(args.runs);

const work = args.child ? path.dirname(args.root) : fs.mkdtempSync(path.join(os.tmpdir(), 'bench-logs-'));
const root = args.child ? args.root : path.join(work, 'pods');
const pipelineDir = path.join(path.dirname(root), 'pipeline');

// ---- data: CRI lines, messages of 40..400 bytes, a level word in some ----
function generate() {
  let lines = 0;
  let bytes = 0;
  const perFile = Math.floor((MIB * 1024 * 1024) / FILES);
  const words = ['INFO', 'WARN', 'ERROR', 'DEBUG', 'request', 'served', 'user=42', 'path=/api/v1/items', 'latency_ms=12', 'ok'];
  let seed = 12345;
  const rnd = (n) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
  for (let f = 0; f < FILES; f++) {
    const dir = path.join(root, `bench_pod-${f}_uid-${f}`, NGINX ? 'nginx' : 'app');
    fs.mkdirSync(dir, { recursive: true });
    const fd = fs.openSync(path.join(dir, '0.log'), 'w');
    let written = 0;
    const t0 = Date.parse('2024-05-01T10:00:00Z');
    while (written < perFile) {
      let chunk = '';
      for (let i = 0; i < 2000; i++) {
        let msg;
        if (NGINX) msg = nginxLine(rnd, lines, t0);
        else {
          const len = 40 + rnd(360);
          msg = words[rnd(4)];
          while (msg.length < len) msg += ' ' + words[rnd(words.length)];
        }
        const ts = new Date(t0 + lines).toISOString().replace('Z', '123456Z');
        chunk += `${ts} ${rnd(10) ? 'stdout' : 'stderr'} F ${msg}\n`;
        lines++;
      }
      const b = Buffer.from(chunk);
      fs.writeSync(fd, b);
      written += b.length;
      bytes += b.length;
    }
    fs.closeSync(fd);
  }
  if (NGINX) {
    fs.mkdirSync(pipelineDir, { recursive: true });
    fs.copyFileSync(NGINX_P, path.join(pipelineDir, 'nginx.p'));
  }
  return { lines, bytes };
}

async function pipelines() {
  if (!NGINX) return undefined;
  const { ScriptStore } = await import('../../dist/agent/services/pipeline/store.js');
  const workers = Number(JSON.parse(process.env.BENCH_AGENT_ENV ?? '{}').ENV_PIPELINE_WORKERS ?? 0);
  const store = new ScriptStore({ dir: pipelineDir, log: pino({ level: 'silent' }), watch: false, workers });
  store.load();
  if (store.errors().length > 0) throw new Error(store.errors().map((e) => e.message).join('\n'));
  return store;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const cfg = (dataDir) => {
  const r = validate(schema, { enable_container_metric: false, enable_pod_metric: false, enable_k8s_metric: false, pod_logs_dir: root, docker_logs_dir: path.join(work, 'none'), logging_file_from_beginning: true, ...(NGINX ? { logging_auto_multiline_detection: false } : {}) });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.value;
};

// ---- telekit, tailing stage: a counting accumulator that acknowledges at once ----
async function telekitTail(total) {
  const dataDir = fs.mkdtempSync(path.join(work, 'data-'));
  let n = 0;
  let done;
  const finished = new Promise((r) => (done = r));
  // Takes lines as the agent's core does (the direct mode: records encoded as line protocol
  // straight from the read buffers), counts them and acknowledges at once.
  const acc = {
    add: (p) => (n += p.length),
    async addWait(p, o) {
      n += p.length;
      o?.onAck?.();
      if (n >= total) done();
    },
    tagsToAdd: () => ({ host: 'bench' }),
    takesLines: () => true,
    async addLinesWait(_c, _data, ends, o) {
      n += ends.length;
      o?.onAck?.();
      if (n >= total) done();
    },
    overloaded: () => false,
    error: (k, e) => console.error('error', k, e),
  };
  const ctx = { name: 'container', instance: 0, acc, log: pino({ level: 'silent' }), http: { route: () => () => {} }, host: { hostname: 'b', ip: '127.0.0.1', nodeName: 'b' }, dataDir, k8s: undefined, pipelines: await pipelines(), metrics: new Registry(), signal: new AbortController().signal };
  const t0 = performance.now();
  const input = createContainerLogs(cfg(dataDir), ctx);
  await input.start();
  await finished;
  const ms = performance.now() - t0;
  await input.stop();
  return { ms, peakRss: process.resourceUsage().maxRSS * 1024 };
}

// CPU seconds of this process's threads before the agent stops (its workers end with it): the main thread,
// then the others, most first (Node names none of them: the script workers are the busiest, then libuv's pool,
// where gzip runs, and V8's helpers)
function threadCpu() {
  const tick = 100; // USER_HZ
  let main = 0;
  const others = [];
  for (const t of fs.readdirSync('/proc/self/task')) {
    let stat;
    try {
      stat = fs.readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
    } catch {
      continue;
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const s = (Number(f[11]) + Number(f[12])) / tick;
    if (Number(t) === process.pid) main = s;
    else others.push(s);
  }
  return { main, others: others.sort((a, b) => b - a).filter((x) => x >= 0.05) };
}

// ---- telekit, whole agent: to a local dataway that counts X-Points ----
async function telekitAgent(total, script = NGINX, regexPerLine = false) {
  // the end-to-end floor: the agent without a script, the floor's RegExp run over each message on the
  // reading thread where the raw path writes it (its captures are not sent: the raw line is)
  let matched = 0;
  if (regexPerLine) {
    const { LogLines } = await import('../../dist/inputs/container/logs/lines.js');
    const write = LogLines.prototype.write;
    LogLines.prototype.write = function (stream, msg, start, end, lines, filepath) {
      if (ACCESS.exec(msg.toString('utf8', start, end)) !== null) matched++;
      return write.call(this, stream, msg, start, end, lines, filepath);
    };
  }
  let n = 0;
  let wire = 0;
  let first;
  let done;
  const finished = new Promise((r) => (done = r));
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url.startsWith('/v1/write/logging')) {
        const k = Number(req.headers['x-points'] ?? 0);
        if (n === 0 && k > 0) first = { t: performance.now(), n: k };
        n += k;
        wire += Number(req.headers['content-length'] ?? 0);
      }
      res.writeHead(200).end('{}');
      if (n >= total) done();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const confDir = fs.mkdtempSync(path.join(work, 'conf-'));
  fs.mkdirSync(path.join(confDir, 'container'));
  fs.writeFileSync(path.join(confDir, 'container', 'container.conf'), `[inputs.container]\nenable_container_metric = false\nenable_pod_metric = false\nenable_k8s_metric = false\npod_logs_dir = ${JSON.stringify(root)}\ndocker_logs_dir = "/nonexistent"\nlogging_file_from_beginning = true\n${NGINX ? 'logging_auto_multiline_detection = false\n' : ''}`);
  const dataDir = fs.mkdtempSync(path.join(work, 'data-'));
  // without the script: an empty pipeline directory (the default one, beside conf.d, is where nginx.p is)
  const env = { ...(NGINX ? { ENV_PIPELINE_DIR: script ? pipelineDir : fs.mkdtempSync(path.join(work, 'no-pipeline-')) } : {}), ENV_IO_FLUSH_INTERVAL: '100ms', ENV_DATAWAY: `http://127.0.0.1:${server.address().port}?token=tkn_bench`, ENV_HTTP_LISTEN: '127.0.0.1:0', ENV_HOSTNAME: 'bench', ENV_DEFAULT_ENABLED_INPUTS: '-', ...JSON.parse(process.env.BENCH_AGENT_ENV ?? '{}') };
  const t0 = performance.now();
  const agent = await Agent.start({ confDir, dataDir, env, log: pino({ level: 'silent' }), watch: false, registry: inputs });
  await finished;
  const t1 = performance.now();
  const threads = threadCpu();
  await agent.stop();
  server.close();
  // steady: from the first body at the sink to the last, without the agent's start-up
  if (regexPerLine && matched !== total) throw new Error(`end-to-end floor: ${matched} of ${total} lines matched`);
  const cpu = process.cpuUsage();
  return { cpuS: (cpu.user + cpu.system) / 1e6, threads, wire, ms: t1 - t0, startMs: first.t - t0, steadyLinesPerSec: (total - first.n) / ((t1 - first.t) / 1000), peakRss: process.resourceUsage().maxRSS * 1024 };
}

// ---- peer: rsyslogd imfile → omfile ----
async function rsyslog(total) {
  const dir = fs.mkdtempSync(path.join(work, 'rsyslog-'));
  const out = path.join(dir, 'out.log');
  fs.mkdirSync(path.join(dir, 'work'));
  const conf = path.join(dir, 'rsyslog.conf');
  fs.writeFileSync(
    conf,
    `global(workDirectory="${dir}/work" maxMessageSize="64k")
module(load="imfile")
input(type="imfile" File="${root}/*/*/0.log" Tag="k8s" freshStartTail="off" reopenOnTruncate="on")
template(name="raw" type="string" string="%msg%\\n")
main_queue(queue.type="FixedArray" queue.size="100000" queue.dequeueBatchSize="4096")
action(type="omfile" file="${out}" template="raw" asyncWriting="on" ioBufferSize="256k" flushOnTXEnd="off")
`,
  );
  const t0 = performance.now();
  const p = spawn('/usr/sbin/rsyslogd', ['-n', '-f', conf, '-i', path.join(dir, 'pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr.on('data', (d) => (err += d));
  let count = 0;
  let pos = 0;
  const buf = Buffer.alloc(1 << 20);
  let ms;
  for (;;) {
    await new Promise((r) => setTimeout(r, 20));
    if (p.exitCode !== null) throw new Error(`rsyslogd exited: ${err}`);
    let fd;
    try {
      fd = fs.openSync(out, 'r');
    } catch {
      continue;
    }
    for (;;) {
      const k = fs.readSync(fd, buf, 0, buf.length, pos);
      if (k <= 0) break;
      pos += k;
      for (let i = buf.indexOf(10, 0); i >= 0 && i < k; i = buf.indexOf(10, i + 1)) count++;
    }
    fs.closeSync(fd);
    if (count >= total) {
      ms = performance.now() - t0;
      break;
    }
  }
  p.kill('SIGTERM');
  await new Promise((r) => p.once('exit', r));
  return { ms };
}

// ---- floor for --nginx: the same files, split into lines, the CRI head skipped, and one precompiled
// RegExp per line doing nginx.p's match (access or error), with its captures — no tags, no points, no output
const ACCESS = /^(\S+) (\S+) (\S+) \[(\d{1,2}\/\w+\/\d{4}:\d{2}:\d{2}:\d{2} [+-]?\d+)\] "(.*?) (.*) HTTP\/([\d.]+)" ([+-]?\d+) ([+-]?\d+) "(\S+)" "(.*)"|^(\d{2,4}[./]\d{1,2}[./]\d{1,2} \d{1,2}:\d{2}:\d{2}) \[(\w+)\] (.*)$/;
function regexFloor(total) {
  const t0 = performance.now();
  const buf = Buffer.allocUnsafe(256 * 1024);
  let n = 0;
  let matched = 0;
  for (const pd of fs.readdirSync(root)) {
    const fd = fs.openSync(path.join(root, pd, 'nginx', '0.log'), 'r');
    let carry = Buffer.alloc(0);
    for (let pos = 0, k; (k = fs.readSync(fd, buf, 0, buf.length, pos)) > 0; pos += k) {
      const data = carry.length ? Buffer.concat([carry, buf.subarray(0, k)]) : buf.subarray(0, k);
      let s = 0;
      for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, s)) {
        // CRI: <time> <stream> <tag> <message>
        const a = data.indexOf(32, s);
        const b = data.indexOf(32, a + 1);
        const c = data.indexOf(32, b + 1);
        if (ACCESS.exec(data.toString('utf8', c + 1, i)) !== null) matched++;
        n++;
        s = i + 1;
      }
      carry = Buffer.from(data.subarray(s));
    }
    fs.closeSync(fd);
  }
  if (n !== total || matched !== total) throw new Error(`floor: ${matched}/${n} of ${total} lines matched`);
  return { ms: performance.now() - t0, peakRss: process.resourceUsage().maxRSS * 1024 };
}

// Each telekit run is a fresh child process (its own heap, RSS and JIT state).
if (args.child) {
  const total = Number(args.lines);
  const r = args.child === 'tail' ? await telekitTail(total) : args.child === 'regex' ? regexFloor(total) : args.child === 'raw' ? await telekitAgent(total, false) : args.child === 'e2e-floor' ? await telekitAgent(total, false, true) : await telekitAgent(total);
  process.stdout.write(JSON.stringify({ ...r, peakRss: Math.max(r.peakRss ?? 0, process.resourceUsage().maxRSS * 1024) }));
  process.exit(0);
}
function inChild(stage, total) {
  const prof = process.env.PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PROFILE_DIR}`] : [];
  // the parent's node flags too (`node --max-semi-space-size=2 bench/logs/run.mjs`: the DaemonSet's budgets); Node does not pass them on
  const out = execFileSync(process.execPath, [...process.execArgv, ...prof, new URL(import.meta.url).pathname, '--child', stage, '--root', root, '--lines', String(total), ...(NGINX ? ['--nginx'] : [])], { maxBuffer: 1 << 20 });
  return JSON.parse(out.toString());
}

const { lines, bytes } = generate();
const mib = bytes / 1024 / 1024;
console.log(`data: ${FILES} CRI files, ${mib.toFixed(0)} MiB, ${lines} lines (avg ${(bytes / lines).toFixed(0)} B/line); ${os.cpus().length} CPUs, node ${process.version}`);
const report = (name, runs) => {
  const ms = median(runs.map((r) => r.ms));
  const extra = runs[0].peakRss ? `, peak RSS ${(Math.max(...runs.map((r) => r.peakRss)) / 1024 / 1024).toFixed(0)} MiB` : '';
  // the run of median process CPU: its threads
  const mid = runs.find((r) => r.cpuS === median(runs.map((x) => x.cpuS)));
  const threads = mid?.threads ? ` (main thread ${mid.threads.main.toFixed(2)}; others ${mid.threads.others.map((x) => x.toFixed(2)).join(', ')})` : '';
  const cpu = runs[0].cpuS ? `, process CPU ${median(runs.map((r) => r.cpuS)).toFixed(2)} s${threads}` : '';
  // the gzipped bodies' bytes (content-length), against the files' bytes: what a lower gzip level costs on the wire
  const wire = runs[0].wire ? `; on the wire ${(median(runs.map((r) => r.wire)) / 1048576).toFixed(1)} MiB (the files' bytes / ${(bytes / median(runs.map((r) => r.wire))).toFixed(1)})` : '';
  const steady = runs[0].steadyLinesPerSec ? `${cpu}; steady state (first body at the sink → last) ${(median(runs.map((r) => r.steadyLinesPerSec)) * (bytes / lines) / 1048576).toFixed(1)} MiB/s, start-up ${median(runs.map((r) => r.startMs)).toFixed(0)} ms${wire}` : '';
  console.log(`${name.padEnd(34)} median ${(ms / 1000).toFixed(2)} s  ${(mib / (ms / 1000)).toFixed(1)} MiB/s  ${Math.round(lines / (ms / 1000))} lines/s  (runs: ${runs.map((r) => (r.ms / 1000).toFixed(2)).join(', ')} s${extra})${steady}`);
  return mib / (ms / 1000);
};
// Floor: read the same files in 256 KiB chunks and count newlines (no parsing, no points).
function floor() {
  const t0 = performance.now();
  const buf = Buffer.allocUnsafe(256 * 1024);
  let nl = 0;
  for (const pd of fs.readdirSync(root)) {
    const fd = fs.openSync(path.join(root, pd, 'app', '0.log'), 'r');
    for (let pos = 0, k; (k = fs.readSync(fd, buf, 0, buf.length, pos)) > 0; pos += k) for (let i = buf.indexOf(10); i >= 0 && i < k; i = buf.indexOf(10, i + 1)) nl++;
    fs.closeSync(fd);
  }
  if (nl !== lines) throw new Error('floor miscounted');
  return { ms: performance.now() - t0 };
}

const results = {};
if (NGINX) {
  // one child per stage and run, alternating, so load on the shared box hits them alike
  const runs = { regex: [], tail: [], agent: [], raw: [], 'e2e-floor': [] };
  const agentStage = (st) => st === 'agent' || st === 'raw' || st === 'e2e-floor';
  // --stages agent,e2e-floor: only those (an A/B of two builds runs one stage of each in turn)
  const only = args.stages?.split(',');
  for (let i = 0; i < RUNS; i++) for (const st of Object.keys(runs)) if ((!agentStage(st) || !args['no-agent']) && (only === undefined || only.includes(st))) runs[st].push(inChild(st, lines));
  const floorMib = runs.regex.length ? report('floor: 1 precompiled RegExp/line', runs.regex) : undefined;
  const tailMib = runs.tail.length ? report('tailing + nginx.p → count', runs.tail) : undefined;
  const agentMib = runs.agent.length ? report('agent + nginx.p → local dataway', runs.agent) : undefined;
  // the same lines through the same agent without the script (the raw path)
  const rawMib = runs.raw.length ? report('agent, no script → local dataway', runs.raw) : undefined;
  // the end-to-end floor: the same agent, no script, the floor's RegExp per line where the raw line is written
  const e2eMib = runs['e2e-floor'].length ? report('e2e floor: agent + 1 RegExp/line', runs['e2e-floor']) : undefined;
  if (floorMib && tailMib) console.log(`ratio tailing+nginx.p/floor ${(tailMib / floorMib).toFixed(2)}x${agentMib && rawMib ? `, agent+nginx.p/floor ${(agentMib / floorMib).toFixed(2)}x, agent+nginx.p/agent raw ${(agentMib / rawMib).toFixed(2)}x, agent raw/floor ${(rawMib / floorMib).toFixed(2)}x` : ''}`);
  if (e2eMib && agentMib) console.log(`ratio agent+nginx.p/e2e floor ${(agentMib / e2eMib).toFixed(2)}x${floorMib ? `, e2e floor/floor ${(e2eMib / floorMib).toFixed(2)}x` : ''}`);
  fs.rmSync(work, { recursive: true, force: true });
  process.exit(0);
}
report('floor: read + split lines', Array.from({ length: RUNS }, floor));
const tail = [];
for (let i = 0; i < RUNS; i++) tail.push(inChild('tail', lines));
results.tail = report('telekit tailing + encoding → count', tail);
if (!args['no-agent']) {
  const ag = [];
  for (let i = 0; i < RUNS; i++) ag.push(inChild('agent', lines));
  results.agent = report('telekit agent → local dataway', ag);
}
if (!args['no-peer']) {
  const version = execFileSync('/usr/sbin/rsyslogd', ['-v']).toString().split('\n')[0];
  const peer = [];
  for (let i = 0; i < RUNS; i++) peer.push(await rsyslog(lines));
  results.peer = report(`rsyslog imfile → omfile`, peer);
  console.log(`peer: ${version}`);
  console.log(`ratio tailing/peer ${(results.tail / results.peer).toFixed(2)}x${results.agent ? `, agent/peer ${(results.agent / results.peer).toFixed(2)}x` : ''}`);
}
fs.rmSync(work, { recursive: true, force: true });
