#!/usr/bin/env node
// host_processes: CPU per collection (scan + points + line protocol) on
//  - this machine's real /proc with N_PROCS real processes added (`sleep` children of one shell,
//    killed at the end): procfs, so the fd count is the size of /proc/<pid>/fd (Linux >= 6.2);
//  - a synthetic /proc of N_PROCS processes as regular files: not procfs, so the fd count is a
//    listing of the fd directory (the path on older kernels);
//  - this machine's real /proc as it is;
// as lines (the agent's path where every sink takes line protocol, the default v1 dataway), and as points once;
// each beside Debian's prometheus-process-exporter reading the same tree in the same run (CPU per
// scrape from its /proc/<pid>/stat), and beside floors: only the reads a metric collection makes, from Node,
// and the object's (plus the readlink of cwd), and (proc-floor.c, when `cc` is there) the metric's and the object's syscalls from C, without Node.
// Run: npm run build && node bench/host/processes.mjs   (ROUNDS=5 N=20; N_PROCS=1000; PORT_BASE=19400: the peer listens on one of the 100 ports from there)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { hostPaths } from '../../dist/agent/services/host/paths.js';
import { encodeLine } from '../../dist/agent/model/lineproto.js';
import { LineBuf } from '../../dist/agent/model/linebuf.js';
import { validate } from '../../dist/agent/config/schema.js';
import { schema } from '../../dist/inputs/host_processes/config.js';
import { ProcessesCollector } from '../../dist/inputs/host_processes/index.js';
import { ProcReader } from '../../dist/inputs/host_processes/reader.js';
import { fakeContext } from '../../dist/test/helpers/fake-context.js';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const N = Number(process.env.N ?? 20);
const N_PROCS = Number(process.env.N_PROCS ?? 1000);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const cpuUs = () => { const u = process.cpuUsage(); return u.user + u.system; };

/** A /proc with N_PROCS processes shaped like a node's: containerised java/nginx/pause, fds, a listening socket each. */
function syntheticProc() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'telekit-bench-procs-'));
  const w = (rel, text) => { const p = path.join(root, rel); fs.mkdirSync(path.dirname(p), { recursive: true }); fs.writeFileSync(p, text); };
  const btime = Math.floor(Date.now() / 1000) - 86400;
  w('proc/stat', `cpu  1 2 3 4\nbtime ${btime}\n`);
  w('proc/meminfo', 'MemTotal:       16384000 kB\n');
  w('etc/passwd', 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/:/usr/sbin/nologin\napp:x:1000:1000::/home/app:/bin/sh\n');
  const names = ['java', 'nginx: worker process', 'pause', 'kube-controller', 'containerd-shim'];
  let tcp = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
  for (let i = 0; i < N_PROCS; i++) {
    const pid = 1000 + i;
    const d = `proc/${pid}/`;
    const id = pid.toString(16).padStart(64, 'c');
    w(d + 'stat', `${pid} (${names[i % names.length].slice(0, 15)}) S 1 ${pid} ${pid} 0 -1 4194560 ${i * 7} 0 3 0 ${i * 13} ${i * 3} 0 0 20 0 ${1 + (i % 30)} 0 ${1000 + i} 2147483648 51200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n`);
    w(d + 'status', `Name:\tx\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t${pid}\nNgid:\t0\nPid:\t${pid}\nPPid:\t1\nTracerPid:\t0\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\nFDSize:\t64\nGroups:\t\nVmPeak:\t 2097152 kB\nVmSize:\t 2097152 kB\nVmLck:\t       0 kB\nVmPin:\t       0 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  204800 kB\nRssAnon:\t  200000 kB\nRssFile:\t    4800 kB\nRssShmem:\t       0 kB\nVmData:\t  500000 kB\nVmStk:\t     132 kB\nVmExe:\t      12 kB\nVmLib:\t   20000 kB\nVmPTE:\t     600 kB\nVmSwap:\t       0 kB\nHugetlbPages:\t       0 kB\nThreads:\t30\nSigQ:\t0/63000\nSigPnd:\t0000000000000000\nCapEff:\t0000000000000000\nvoluntary_ctxt_switches:\t${i * 11}\nnonvoluntary_ctxt_switches:\t${i}\n`);
    w(d + 'io', `rchar: ${i}\nwchar: ${i}\nsyscr: ${i}\nsyscw: ${i}\nread_bytes: ${i * 4096}\nwrite_bytes: ${i * 4096}\ncancelled_write_bytes: 0\n`);
    w(d + 'cmdline', `/usr/bin/${names[i % names.length].split(':')[0]}\0-Dapp.instance=${i}\0--config\0/etc/app/config.yaml\0`);
    w(d + 'comm', `${names[i % names.length].slice(0, 15)}\n`); // read by the peer
    w(d + 'limits', 'Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1048576              1048576              files     \n');
    w(d + 'cgroup', `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${i}.slice/cri-containerd-${id}.scope\n`);
    fs.mkdirSync(path.join(root, d, 'fd'), { recursive: true });
    for (let f = 0; f < 8; f++) fs.symlinkSync(f === 5 ? `socket:[${100000 + i}]` : '/dev/null', path.join(root, d, 'fd', String(f)));
    fs.symlinkSync('/app', path.join(root, d, 'cwd'));
    tcp += `   ${i}: 00000000:${(8000 + (i % 1000)).toString(16).toUpperCase()} 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 ${100000 + i} 1 0 100 0 0 10 0\n`;
  }
  // one network namespace shared by every process, as on a node without pods' own namespaces
  w('tcp-table', tcp);
  for (let i = 0; i < N_PROCS; i++) {
    const d = path.join(root, `proc/${1000 + i}`);
    fs.mkdirSync(path.join(d, 'net'));
    fs.mkdirSync(path.join(d, 'ns'));
    fs.symlinkSync(path.join(root, 'tcp-table'), path.join(d, 'net', 'tcp'));
    fs.symlinkSync('net:[4026531840]', path.join(d, 'ns', 'net'));
  }
  return root;
}

/** `lines()`: the lines handed to the accumulator since it was last called (objects as lines). */
async function perCollection(c, lines = () => 0) {
  for (let i = 0; i < 3; i++) for (const p of await c.collect()) encodeLine(p); // prime, warm up
  const samples = [];
  let points = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const c0 = cpuUs();
    for (let i = 0; i < N; i++) { const pts = await c.collect(); points = pts.length + lines(); for (const p of pts) encodeLine(p); }
    samples.push((cpuUs() - c0) / N);
  }
  return { us: median(samples), points };
}

/**
 * The floor: the syscalls a metric collection makes, nothing else — the /proc listing, one pread each
 * of stat, status, io and cmdline through kept descriptors, and the fd count: an fstat of a kept fd
 * directory on procfs (`bySize`), else a listing of it; with `cwd`, an object's: and a readlink of its cwd.
 */
function floor(proc, bySize, cwd = false) {
  const pids = fs.readdirSync(proc).filter((n) => /^\d+$/.test(n));
  const buf = Buffer.allocUnsafe(16384);
  const open = (p, f, flags = 'r') => { try { return fs.openSync(`${proc}/${p}/${f}`, flags); } catch { return -1; } };
  const fds = pids.map((p) => [...['stat', 'status', 'io', 'cmdline'].map((f) => open(p, f)), bySize ? open(p, 'fd', fs.constants.O_RDONLY | fs.constants.O_DIRECTORY) : -1]);
  const once = () => {
    fs.readdirSync(proc);
    for (let i = 0; i < pids.length; i++) {
      const f = fds[i];
      for (let k = 0; k < 4; k++) if (f[k] >= 0) try { fs.readSync(f[k], buf, 0, buf.length, 0); } catch { /* exited */ }
      try { if (bySize) { if (f[4] >= 0) fs.fstatSync(f[4]); } else fs.readdirSync(`${proc}/${pids[i]}/fd`); } catch { /* exited */ }
      if (cwd) try { fs.readlinkSync(`${proc}/${pids[i]}/cwd`); } catch { /* exited */ }
    }
  };
  for (let i = 0; i < 3; i++) once();
  const samples = [];
  for (let r = 0; r < ROUNDS; r++) { const c0 = cpuUs(); for (let i = 0; i < N; i++) once(); samples.push((cpuUs() - c0) / N); }
  for (const f of fds.flat()) if (f >= 0) fs.closeSync(f);
  return { us: median(samples), points: 0 };
}

/**
 * Where the floor goes, per process: the CPU (user + system) of each syscall a collection makes per
 * process, alone, over every process of `proc` — a pread of each kept file (cmdline included: it is
 * re-read each collection, a process may rewrite its title), the fstat of the kept fd
 * directory, the readlink of cwd (objects only) — and of statm, the smallest file with memory figures
 * (it has no uid, context switches, high-water mark, locked or swap: status stays needed).
 */
function perFile(proc) {
  const pids = fs.readdirSync(proc).filter((n) => /^\d+$/.test(n));
  const buf = Buffer.allocUnsafe(16384);
  const out = [];
  const time = (label, prepare, op) => {
    const h = pids.map(prepare);
    const once = () => { for (let i = 0; i < pids.length; i++) try { op(h[i], pids[i]); } catch { /* exited, or refused */ } };
    once();
    const samples = [];
    for (let r = 0; r < ROUNDS; r++) { const c0 = cpuUs(); for (let i = 0; i < N; i++) once(); samples.push((cpuUs() - c0) / N / pids.length); }
    for (const fd of h) if (typeof fd === 'number' && fd >= 0) fs.closeSync(fd);
    out.push([label, median(samples)]);
  };
  const open = (f, flags = 'r') => (p) => { try { return fs.openSync(`${proc}/${p}/${f}`, flags); } catch { return -1; } };
  for (const f of ['stat', 'status', 'io', 'cmdline', 'statm']) time(`pread ${f}`, open(f), (fd) => fd >= 0 && fs.readSync(fd, buf, 0, buf.length, 0));
  time('fstat of the kept fd directory', open('fd', fs.constants.O_RDONLY | fs.constants.O_DIRECTORY), (fd) => fd >= 0 && fs.fstatSync(fd));
  time('readlink cwd (objects)', () => -1, (_fd, p) => fs.readlinkSync(`${proc}/${p}/cwd`));
  const z = fs.openSync('/dev/zero', 'r');
  time('readSync of 64 bytes of /dev/zero (a syscall from Node)', () => -1, () => fs.readSync(z, buf, 0, 64, null));
  fs.closeSync(z);
  return out;
}

/**
 * The kernel's floor without Node (proc-floor.c, built with `cc` when there is one): the same
 * syscalls over every process of `proc` through kept descriptors, from C. Its rows and per-process
 * figures, or nothing without a C compiler.
 */
function cFloor(proc) {
  const bin = path.join(os.tmpdir(), `telekit-proc-floor-${process.pid}`);
  try {
    execFileSync('cc', ['-O2', '-o', bin, new URL('./proc-floor.c', import.meta.url).pathname], { stdio: 'ignore' });
  } catch {
    return { rows: [], files: [] };
  }
  try {
    const out = execFileSync(bin, [proc, String(ROUNDS), String(N)], { encoding: 'utf8' });
    const val = (re) => Number(re.exec(out)?.[1]);
    return {
      rows: [
        [`C floor on real +${N_PROCS}: the metric's syscalls, no Node`, { us: val(/^metric ([\d.]+)$/m), points: 0 }],
        [`C floor on real +${N_PROCS}: the object's syscalls, no Node`, { us: val(/^object ([\d.]+)$/m), points: 0 }],
      ],
      files: [...out.matchAll(/^per-process (\S+) ([\d.]+)$/gm)].map(([, f, us]) => [`from C: ${f === 'fd' ? 'fstat of the kept fd directory' : f === 'cwd' ? 'readlink cwd' : `pread ${f}`}`, Number(us)]),
    };
  } finally {
    fs.rmSync(bin, { force: true });
  }
}

/** N_PROCS real processes: `sleep` children of one shell (its own process group, killed by the caller). */
async function realProcesses() {
  const sh = spawn('sh', ['-c', `i=0; while [ $i -lt ${N_PROCS} ]; do sleep 86400 & i=$((i+1)); done; echo started; wait`], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  const kill = () => { try { process.kill(-sh.pid, 'SIGKILL'); } catch { /* gone */ } };
  process.once('exit', kill);
  await new Promise((resolve, reject) => { sh.stdout.once('data', resolve); sh.once('exit', () => reject(new Error('the shell starting the processes exited'))); });
  return kill;
}

/**
 * CPU per collection of one collector on its own reader (closed afterwards: it keeps descriptors open).
 * `lines`: the accumulator takes line protocol as it is (the agent's path with the default v1 dataway):
 * objects are handed over as lines, copied into a buffer as the sender's queue does.
 */
async function measure(kind, root, raw, lines = false, budget = undefined) {
  const ctx = fakeContext('host_processes');
  let n = 0;
  if (lines) {
    const queue = new LineBuf(8 << 20);
    Object.assign(ctx.acc, {
      tagsToAdd: () => ({}), // as the points' rows: no tag added
      recordFormat: () => 'lp',
      addLines: (_category, data, ends) => {
        if (queue.off > 4 << 20) queue.reset();
        queue.pushLines(data, ends);
        n += ends.length;
        return ends.length;
      },
    });
  }
  const cfg = validate(schema, { min_run_time: '0s', ...raw }).value;
  const reader = new ProcReader(hostPaths(root));
  if (budget !== undefined) reader.files.budget = budget; // the kept-descriptor budget of files.ts (private: the bench's lever)
  try {
    return await perCollection(new ProcessesCollector(kind, cfg, reader, ctx), () => {
      const k = n;
      n = 0;
      return k;
    });
  } finally {
    reader.close();
  }
}

const fmt = (us) => `${(us / 1000).toFixed(2)} ms`;
const root = syntheticProc();
const rows = [];
/** µs of CPU per process of each syscall, on the real +N_PROCS tree. */
const files = [];
const peers = [];
const conf = path.join(os.tmpdir(), `telekit-pe-${process.pid}.yaml`);
fs.writeFileSync(conf, 'process_names:\n  - name: "{{.Comm}}"\n    cmdline:\n    - ".+"\n');

/** CPU per scrape of process-exporter tracking every process (grouped by comm) under `procfs`, on a loopback port. */
async function peer(label, procfs, flags) {
  const port = Number(process.env.PORT_BASE ?? 19400) + Math.floor(Math.random() * 100); // a free range of 100 ports (PORT_BASE)
  const pe = spawn('prometheus-process-exporter', [`-web.listen-address=127.0.0.1:${port}`, `-config.path=${conf}`, `-procfs=${procfs}`, ...flags], { stdio: 'ignore' });
  const ticks = () => { const f = fs.readFileSync(`/proc/${pe.pid}/stat`, 'utf8').split(') ')[1].split(' '); return Number(f[11]) + Number(f[12]); };
  try {
    for (let i = 0; i < 50; i++) { try { await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(); break; } catch { await sleep(100); } }
    for (let i = 0; i < 3; i++) await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const samples = [];
    for (let r = 0; r < ROUNDS; r++) {
      const t0 = ticks();
      for (let i = 0; i < N; i++) await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      samples.push(((ticks() - t0) * 10_000) / N); // 100 Hz ticks → µs
    }
    peers.push([label, median(samples)]);
  } finally {
    pe.kill();
  }
}

const LEAN = ['-threads=false', '-gather-smaps=false'];
const counting = (root) => { const r = new ProcReader(hostPaths(root)); r.close(); return r.fdCounting; };
// 1. this machine's /proc with N_PROCS real processes added
const kill = await realProcesses();
let realN;
let budgetNote = '';
try {
  realN = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)).length;
  const how = counting('');
  for (const [label, kind, raw, lines] of [
    [`real +${N_PROCS}, metric (fd count: ${how})`, 'metric', { open_metric: true }, true],
    [`real +${N_PROCS}, metric as points (v2/OTLP sinks)`, 'metric', { open_metric: true }],
    [`real +${N_PROCS}, object (fd count: ${how})`, 'object', {}, true],
    [`real +${N_PROCS}, object as points (v2/OTLP sinks)`, 'object', {}],
  ]) rows.push([label, await measure(kind, '', raw, lines)]);
  // five descriptors per process, at most a quarter of RLIMIT_NOFILE (and 16,000): past that, files are opened by path
  const budget = new ProcReader(hostPaths('')).files.budget;
  if (budget < realN * 5) {
    budgetNote = `descriptor budget ${budget} (a quarter of this process's RLIMIT_NOFILE) < ${realN} processes × 5: ${Math.ceil(realN - budget / 5)} processes read by path`;
    rows.push([`real +${N_PROCS}, object, budget 16,000 (RLIMIT_NOFILE ≥ 64k)`, await measure('object', '', {}, true, 16_000)]);
  }
  rows.push([`floor on real +${N_PROCS}: only the metric's syscalls`, floor('/proc', how === 'size')]);
  rows.push([`floor on real +${N_PROCS}: only the object's syscalls`, floor('/proc', how === 'size', true)]);
  files.push(...perFile('/proc'));
  const c = cFloor('/proc');
  rows.push(...c.rows);
  files.push(...c.files);
  await peer(`peer on real +${N_PROCS}, lean`, '/proc', LEAN);
} finally {
  kill();
}
// 2. the synthetic tree
try {
  const how = counting(root);
  for (const [label, kind, raw, lines] of [
    [`synthetic, metric (fd count: ${how})`, 'metric', { open_metric: true }, true],
    [`synthetic, object (fd count: ${how})`, 'object', {}, true],
    ['synthetic, object as points (v2/OTLP sinks)', 'object', {}],
    ['synthetic, object + listen_ports', 'object', { enable_listen_ports: true }, true],
  ]) rows.push([label, await measure(kind, root, raw, lines)]);
  rows.push(['floor on synthetic: only the metric\'s syscalls', floor(path.join(root, 'proc'), how === 'size')]);
  rows.push(['floor on synthetic: only the object\'s syscalls', floor(path.join(root, 'proc'), how === 'size', true)]);
  await peer('peer on synthetic, lean', path.join(root, 'proc'), LEAN);
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
// 3. this machine's /proc as it is
for (const [label, kind, raw, lines] of [
  ['real /proc, metric', 'metric', { open_metric: true }, true],
  ['real /proc, object', 'object', {}, true],
]) rows.push([label, await measure(kind, '', raw, lines)]);
await peer('peer on real /proc, lean', '/proc', LEAN);
await peer('peer on real /proc, defaults (threads, smaps)', '/proc', []);
fs.rmSync(conf, { force: true });

const real = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)).length;
console.log(`host_processes, median of ${ROUNDS} rounds × ${N} collections; ${realN} processes with the ${N_PROCS} added, ${N_PROCS} synthetic, ${real} real; load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
if (budgetNote) console.log(budgetNote);
for (const [label, r] of rows) console.log(`${label.padEnd(58)} ${fmt(r.us).padStart(9)} CPU per collection${label.includes('floor') ? '' : ` (${r.points} ${label.includes('points') ? 'points' : 'lines'})`}${label.startsWith('real +') || label.includes('on real +') ? `, ${fmt((r.us * 1000) / realN)} per 1,000 processes` : ''}`);
for (const [label, us] of files) console.log(`  per process: ${label.padEnd(56)} ${us.toFixed(2).padStart(6)} µs CPU`);
for (const [label, us] of peers) console.log(`${label.padEnd(58)} ${fmt(us).padStart(9)} CPU per scrape`);
const us = (prefix) => rows.find(([x]) => x.startsWith(prefix))[1].us;
const pe = (prefix) => peers.find(([x]) => x.startsWith(prefix))[1];
for (const [what, tree, peerLabel] of [[`real +${N_PROCS}`, `real +${N_PROCS}`, `peer on real +${N_PROCS}`], ['synthetic', 'synthetic', 'peer on synthetic'], ['real /proc', 'real /proc', 'peer on real /proc, lean']]) {
  console.log(`ratio telekit/peer (lean), ${what}: metric ${(us(`${tree}, metric`) / pe(peerLabel)).toFixed(2)}, object ${(us(`${tree}, object`) / pe(peerLabel)).toFixed(2)}`);
}
