import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fieldNumber as n } from '../../agent/services/host/fields.js';
import { hostPaths } from '../../agent/services/host/paths.js';
import { fakeRoot } from '../../agent/services/host/fake-root.js';
import type { Point } from '../../agent/model/point.js';
import { fakeContext, validConfig } from '../../test/helpers/fake-context.js';
import { waitFor } from '../../test/helpers/wait.js';
import { schema, type HostProcessesConfig } from './config.js';
import { host_processes, ProcessesCollector } from './index.js';
import { addedTags, metricLine, objectLine } from './lines.js';
import { messagePlan, metricPoint, objectPoint } from './points.js';
import { decodeLines, encodeLine } from '../../agent/model/lineproto.js';
import { LineBuf } from '../../agent/model/linebuf.js';
import { nowNs } from '../../agent/model/point.js';
import type { HostPaths } from '../../agent/services/host/paths.js';
import { loadInputs } from '../../agent/config/load.js';
import { containerIdFromCgroup, parsePasswd, parsePidStat, parsePidStatus, parseTcpListen } from './parse.js';
import { fullName, type ProcInfo } from './proc.js';
import { CpuSamples, ProcReader } from './reader.js';

const config = (raw: object): HostProcessesConfig => validConfig(schema, raw);

const readers: ProcReader[] = [];
afterAll(() => readers.forEach((r) => r.close())); // the descriptors they keep open

function collector(kind: 'object' | 'metric', raw: object, paths = hostPaths('')) {
  const ctx = fakeContext('host_processes');
  const reader = new ProcReader(paths);
  readers.push(reader);
  return { ctx, c: new ProcessesCollector(kind, config(raw), reader, ctx) };
}

const passwdName = (uid: number) => parsePasswd(fs.readFileSync('/etc/passwd', 'utf8')).get(uid) ?? 'nobody';

describe('host_processes on the real /proc', () => {
  // A child with its own name (comm comes from the path it was executed by: a symlink to node),
  // its own working directory and a TCP port it listens on.
  let dir: string;
  let child: ChildProcess;
  let port: number;
  const marker = `tkmark${process.pid}`;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'telekit-procs-'));
    fs.symlinkSync(process.execPath, path.join(dir, 'tkprobe'));
    child = spawn(path.join(dir, 'tkprobe'), ['-e', `require('net').createServer().listen(0,'127.0.0.1',function(){console.log(this.address().port)})`, marker], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    port = await new Promise<number>((resolve, reject) => {
      child.stdout!.once('data', (b: Buffer) => resolve(Number(b.toString().trim())));
      child.once('exit', () => reject(new Error('probe exited')));
    });
  });

  afterAll(() => {
    child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const mine = (pts: Point[]) => pts.find((p) => p.fields.pid !== undefined && n(p.fields.pid) === child.pid);

  it('sends the child as an object with its pid, name, cmdline, user, cwd and listen port; nothing once it exits', async () => {
    const { ctx, c } = collector('object', { min_run_time: '0s', enable_listen_ports: true });
    const p = mine(await c.collect());
    expect(p, 'the child among the objects').toBeDefined();
    expect(p!.category).toBe('object');
    expect(p!.name).toBe('host_processes');
    expect(p!.tags).toMatchObject({ name: `test-host_${child.pid}`, process_name: 'tkprobe', username: passwdName(process.getuid!()) });
    expect(['sleep', 'running']).toContain(p!.tags.state);
    expect(p!.tags.container_id).toBeUndefined();
    expect(p!.fields.cmdline).toBe(`${path.join(dir, 'tkprobe')} -e ${child.spawnargs[2]} ${marker}`);
    expect(p!.fields.work_directory).toBe(fs.realpathSync(dir));
    expect(JSON.parse(p!.fields.listen_ports as string)).toContain(port);
    expect(p!.fields.state_zombie).toBe(false);
    expect(n(p!.fields.rss)).toBeGreaterThan(1 << 20);
    expect(n(p!.fields.vms)).toBeGreaterThan(n(p!.fields.rss));
    expect(n(p!.fields.threads)).toBeGreaterThan(1);
    expect(n(p!.fields.open_files)).toBeGreaterThan(2);
    expect(n(p!.fields.start_time)).toBeLessThanOrEqual(Date.now());
    expect(n(p!.fields.start_time)).toBeGreaterThan(Date.now() - 60_000);
    expect(p!.fields.cpu_usage as number).toBeGreaterThanOrEqual(0);
    const msg = JSON.parse(p!.fields.message as string);
    expect(msg).toMatchObject({ pid: child.pid, process_name: 'tkprobe', name: `test-host_${child.pid}` });
    expect(msg.memory.rss).toBe(n(p!.fields.rss));
    expect(Object.keys(msg)).toEqual(Object.keys(msg).sort());
    expect(ctx.errors).toEqual([]);

    child.kill('SIGKILL');
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
    const pid = child.pid!;
    const keptFor = (p: number) =>
      fs.readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(`/proc/${p}/`);
        } catch {
          return false;
        }
      });
    expect(keptFor(pid).length).toBeGreaterThan(0); // stat, status (and io) stay open between collections
    await waitFor(async () => !mine(await c.collect()), { what: 'the exited child to disappear' });
    expect(keptFor(pid)).toEqual([]); // ... and are closed once the process is gone
  });
});

describe('host_processes and a process that rewrites its title (as nginx and postgres do)', () => {
  let dir: string;
  let child: ChildProcess;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'telekit-procs-'));
    fs.symlinkSync(process.execPath, path.join(dir, 'tktitle'));
    const script = `process.stdin.once('data',()=>{process.title='tkretitled: worker';console.log('renamed')});setInterval(()=>{},1000);console.log('up')`;
    child = spawn(path.join(dir, 'tktitle'), ['-e', script, 'padding-so-the-new-title-fits'], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise((resolve, reject) => {
      child.stdout!.once('data', resolve);
      child.once('exit', () => reject(new Error('child exited')));
    });
  });
  afterAll(() => {
    child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const mine = (pts: Point[]) => pts.find((p) => p.fields.pid !== undefined && n(p.fields.pid) === child.pid);
  const mineMetric = (pts: Point[]) => pts.find((p) => p.tags.pid === String(child.pid));

  it('sends the new title as cmdline (and name, the kernel having cut comm) from the next collection on, in objects and metrics', async () => {
    const objects = collector('object', { min_run_time: '0s' }).c;
    const metrics = collector('metric', { min_run_time: '0s', open_metric: true }).c;
    const before = mine(await objects.collect());
    expect(before!.fields.cmdline).toBe(`${path.join(dir, 'tktitle')} -e ${child.spawnargs[2]} padding-so-the-new-title-fits`);
    expect(before!.tags.process_name).toBe('tktitle');
    expect(mineMetric(await metrics.collect())!.tags.cmdline).toBe(before!.fields.cmdline);

    child.stdin!.write('go\n');
    await waitFor(() => fs.readFileSync(`/proc/${child.pid}/cmdline`, 'latin1').startsWith('tkretitled: worker\0'), { what: 'the child to rewrite its title' });
    const after = mine(await objects.collect());
    // gopsutil's Cmdline: the NULs left behind the shorter title are not arguments
    expect(after!.fields.cmdline).toBe('tkretitled: worker');
    expect(JSON.parse(after!.fields.message as string).cmdline).toBe('tkretitled: worker');
    expect(after!.tags.process_name).toBe('tkretitled: worker'); // comm is "tkretitled: wor" (15 bytes), completed from the title
    const m = mineMetric(await metrics.collect());
    expect(m!.tags).toMatchObject({ cmdline: 'tkretitled: worker', process_name: 'tkretitled: worker' });
  });
});

describe('host_processes filters', () => {
  let child: ChildProcess;
  let dir: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'telekit-procs-'));
    fs.symlinkSync(process.execPath, path.join(dir, 'tkfilter'));
    child = spawn(path.join(dir, 'tkfilter'), ['-e', 'setInterval(()=>{},1000)'], { stdio: 'ignore' });
    await waitFor(() => fs.existsSync(`/proc/${child.pid}/cmdline`) && fs.readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').includes('setInterval'));
  });
  afterAll(() => {
    child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('process_name selects the metrics, not the objects', async () => {
    const m = await collector('metric', { min_run_time: '0s', process_name: ['^tkfil'] }).c.collect();
    expect(m.map((p) => p.tags.pid)).toEqual([String(child.pid)]);
    expect(m[0]!.category).toBe('metric');
    expect(m[0]!.tags).toMatchObject({ process_name: 'tkfilter', username: passwdName(process.getuid!()) });
    expect(m[0]!.tags.cmdline).toContain('setInterval');
    for (const f of ['cpu_usage', 'mem_used_percent', 'rss', 'vms', 'threads', 'open_files', 'voluntary_ctxt_switches', 'nonvoluntary_ctxt_switches', 'page_minor_faults']) {
      expect(m[0]!.fields[f], f).toBeDefined();
    }
    const o = await collector('object', { min_run_time: '0s', process_name: ['^tkfil'] }).c.collect();
    expect(o.length).toBeGreaterThan(1);
    expect(o.some((p) => p.tags.process_name === 'tkfilter')).toBe(true);
  });

  it('min_run_time leaves out younger processes', async () => {
    const o = await collector('object', { min_run_time: '10m' }).c.collect();
    expect(o.some((p) => n(p.fields.pid) === child.pid)).toBe(false);
    for (const p of o) expect(n(p.fields.started_duration)).toBeGreaterThanOrEqual(600);
    const uptime = os.uptime();
    // the default: only processes older than 10 minutes; this machine has some unless it just booted
    if (uptime > 700) expect(o.length).toBeGreaterThan(0);
    const all = await collector('object', { min_run_time: '0s' }).c.collect();
    expect(all.some((p) => n(p.fields.pid) === child.pid)).toBe(true);
  });
});

/** A synthetic /proc: one normal process in a container, odd and broken entries around it. */
function syntheticRoot() {
  const btime = Math.floor(Date.now() / 1000) - 7200;
  const stat = (pid: number, comm: string, ticks: number, start = 100) =>
    `${pid} (${comm}) S 1 ${pid} ${pid} 0 -1 4194560 500 20 3 1 ${ticks} 10 0 0 20 0 4 0 ${start} 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 7 0 0\n`;
  const status = (uid: number) =>
    `Name:\tx\nState:\tS (sleeping)\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\nVmSize:\t  102400 kB\nVmHWM:\t 12000 kB\nVmRSS:\t   10240 kB\nVmData:\t 100 kB\nVmStk:\t 132 kB\nThreads:\t4\nvoluntary_ctxt_switches:\t77\nnonvoluntary_ctxt_switches:\t5\n`;
  const id = 'a'.repeat(64);
  const r = fakeRoot({
    'proc/stat': `cpu  1 2 3 4\nbtime ${btime}\n`,
    'proc/meminfo': 'MemTotal:       1024000 kB\n',
    'etc/passwd': 'root:x:0:0:root:/root:/bin/bash\nalice:x:1234:1234::/home/alice:/bin/sh\n',
    // a normal process, in a container, listening on 8080 (0x1F90) via fd 3
    'proc/10/stat': stat(10, 'java', 360_000),
    'proc/10/status': status(1234),
    'proc/10/io': 'rchar: 1\nwchar: 2\nsyscr: 3\nsyscw: 4\nread_bytes: 5\nwrite_bytes: 6\ncancelled_write_bytes: 0\n',
    'proc/10/cmdline': 'java\0-jar\0app.jar\0',
    'proc/10/cgroup': `0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-${id}.scope\n`,
    'proc/10/net/tcp': '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1234        0 5555 1 0 100 0 0 10 0\n   1: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 7777 1 0 100 0 0 10 0\n',
    'proc/10/fd/0': '',
    // a name with spaces and parentheses; no io file (another user's), unknown uid
    'proc/11/stat': stat(11, 'a) (b c', 50),
    'proc/11/status': status(4321),
    'proc/11/cmdline': '',
    'proc/11/cgroup': '0::/user.slice\n',
    // exited between its stat and its status
    'proc/12/stat': stat(12, 'gone', 1),
    'proc/12/cmdline': 'gone\0',
    // truncated stat line
    'proc/13/stat': '13 (trunc) S 1 2 3',
    // young (started now): filtered by min_run_time
    'proc/14/stat': stat(14, 'young', 1, 7200 * 100 - 10),
    'proc/14/status': status(0),
    'proc/14/cmdline': 'young\0',
  });
  fs.rmSync(path.join(r.root, 'proc/10/fd/0'));
  fs.symlinkSync('socket:[5555]', path.join(r.root, 'proc/10/fd/3'));
  fs.symlinkSync('/dev/null', path.join(r.root, 'proc/10/fd/1'));
  fs.symlinkSync('/srv/app', path.join(r.root, 'proc/10/cwd'));
  fs.mkdirSync(path.join(r.root, 'proc/11/fd'));
  return { r, id, btime, stat };
}

describe('host_processes on a synthetic /proc', () => {
  it('reads the fields, skips and counts the broken entries, and never throws', async () => {
    const { r, id, btime } = syntheticRoot();
    try {
      const { ctx, c } = collector('object', { enable_listen_ports: true, tags: {} }, hostPaths(r.root));
      const pts = await c.collect();
      expect(pts.map((p) => n(p.fields.pid)).sort()).toEqual([10, 11]);
      const java = pts.find((p) => n(p.fields.pid) === 10)!;
      expect(java.tags).toEqual({ name: 'test-host_10', process_name: 'java', username: 'alice', state: 'sleep', container_id: id });
      expect(java.fields).toMatchObject({ cmdline: 'java -jar app.jar', work_directory: '/srv/app', listen_ports: '[8080]', state_zombie: false });
      expect(n(java.fields.rss)).toBe(10240 * 1024);
      expect(java.fields.mem_used_percent).toBeCloseTo(1, 5);
      expect(n(java.fields.proc_read_bytes)).toBe(5);
      expect(n(java.fields.proc_syscw)).toBe(4);
      expect(n(java.fields.voluntary_ctxt_switches)).toBe(77);
      expect(n(java.fields.open_files)).toBe(2); // fd/1 and fd/3
      expect(n(java.fields.start_time)).toBe(btime * 1000 + 1000);
      const odd = pts.find((p) => n(p.fields.pid) === 11)!;
      expect(odd.tags).toMatchObject({ process_name: 'a) (b c', username: 'nobody' });
      expect(odd.tags.container_id).toBeUndefined();
      expect(odd.fields.proc_syscr).toBeUndefined();
      expect(odd.fields.listen_ports).toBe('null'); // DataKit's JSON of an empty Go slice
      expect(n(odd.fields.open_files)).toBe(0);
      const text = await ctx.metrics.metrics();
      expect(text).toMatch(/telekit_host_processes_skipped_total\{reason="exited"\} 1/);
      expect(text).toMatch(/telekit_host_processes_skipped_total\{reason="malformed"\} 1/);
      expect(text).toMatch(/telekit_host_processes_partial_total\{file="io"\} 1/);
    } finally {
      r.remove();
    }
  });

  it('writes the message as the sorted JSON of every tag (the core tags included) and field, plus memory and cpu, escaped as Go does', async () => {
    const { r } = syntheticRoot();
    try {
      const { ctx, c } = collector('object', { enable_listen_ports: true }, hostPaths(r.root));
      const add = { host: 'test-host', team: 'a<b>&c', name: 'the process tag wins', proc_syscr: 'when the process has none' };
      Object.assign(ctx.acc, { tagsToAdd: () => add });
      for (let round = 0; round < 3; round++) {
        // again: the next collections reuse each process's cached tags and JSON
        for (const p of await c.collect()) {
          const raw = p.fields.message as string;
          const msg = JSON.parse(raw);
          const expected: Record<string, unknown> = { ...add, ...p.tags };
          for (const [k, v] of Object.entries(p.fields)) if (k !== 'message') expected[k] = typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number' ? v : n(v);
          const { memory, cpu, ...rest } = msg;
          expect(rest).toEqual(expected);
          expect(memory).toEqual({ rss: n(p.fields.rss), vms: n(p.fields.vms), hwm: 12000 * 1024, data: 100 * 1024, stack: 132 * 1024, locked: 0, swap: 0 });
          expect(cpu).toMatchObject({ cpu: 'cpu', user: expect.any(Number), system: 0.1, iowait: 0.07 });
          expect(Object.keys(msg)).toEqual(Object.keys(msg).sort());
          expect(raw).toContain('"team":"a\\u003cb\\u003e\\u0026c"');
        }
        // the next collection sees new counters: the message must too (each process keeps its message's runs)
        const status = fs.readFileSync(path.join(r.root, 'proc/10/status'), 'utf8');
        fs.writeFileSync(path.join(r.root, 'proc/10/status'), status.replace(/voluntary_ctxt_switches:\t\d+/, `voluntary_ctxt_switches:\t${100 + round}`));
      }
    } finally {
      r.remove();
    }
  });

  it('measures cpu_usage over the interval, not since start', async () => {
    const { r, stat } = syntheticRoot();
    try {
      const reader = new ProcReader(hostPaths(r.root));
      readers.push(reader);
      const cpu = new CpuSamples();
      const opts = { minRunTimeMs: 0, onlyContainer: false, needCmdline: false, cwd: false, listenPorts: false };
      const usage = (p: ProcInfo) => ({ pid: p.pid, cpuUsage: p.cpuUsage });
      // the first collection, 10 s ago, read 360_010 ticks; now 2.5 s of CPU more
      const t0 = Date.now() - 10_000;
      expect((await reader.scan({ ...opts, now: t0 }, cpu, usage)).items.find((p) => p.pid === 10)).toBeDefined();
      fs.writeFileSync(path.join(r.root, 'proc/10/stat'), stat(10, 'java', 360_000 + 250));
      const res = await reader.scan({ ...opts, now: t0 + 10_000 }, cpu, usage);
      const java = res.items.find((p) => p.pid === 10)!;
      expect(java.cpuUsage).toBeGreaterThan(24);
      expect(java.cpuUsage).toBeLessThan(25.1);
      // another loop (its own samples) has no previous collection: usage since start
      const other = (await reader.scan(opts, new CpuSamples(), usage)).items.find((p) => p.pid === 10)!;
      expect(other.cpuUsage).toBeGreaterThan(100 * ((360_260 / 100) / (7200 - 1)) * 0.99);
      expect(other.cpuUsage).toBeLessThan(100 * ((360_260 / 100) / (7200 - 1)) * 1.01);
      // only_container_processes keeps the containerised one
      const only = await reader.scan({ ...opts, onlyContainer: true }, new CpuSamples(), usage);
      expect(only.items.map((p) => p.pid)).toEqual([10]);
    } finally {
      r.remove();
    }
  });
});

/** The point as the core would write it once it added `add` to the keys the point lacks (running-input.ts). */
function decoratedLine(p: Point, add: Record<string, string>): string {
  const tags: Record<string, string> = { ...p.tags };
  for (const k in add) if (tags[k] === undefined) tags[k] = add[k]!;
  return encodeLine({ ...p, tags })!;
}

/** What a line writer wrote, as text (a small buffer: it must grow as needed). */
function written(write: (w: LineBuf) => void): string {
  const w = new LineBuf(64);
  write(w);
  return w.data.toString('utf8', 0, w.off);
}

describe('host_processes objects and metrics as lines (sinks that take line protocol as it is)', () => {
  // tags the core adds, with every character line protocol and Go's JSON escape
  const add = { host: 'node 1,a=b', team: 'a<b>&c "q" \\ \u2028 é', name: 'the process tag wins' };
  const opts = { minRunTimeMs: 0, onlyContainer: false, needCmdline: false, cwd: true, listenPorts: true };

  /** Every process of `paths` made into its object and metric lines and points in the same scan: each line must be its point's, byte for byte. */
  async function same(paths: HostPaths, rounds: number, o = opts, between: (round: number) => void = () => {}): Promise<number> {
    const reader = new ProcReader(paths);
    readers.push(reader);
    const cpu = new CpuSamples();
    const plan = messagePlan(add);
    const added = addedTags(add);
    let n = 0;
    for (let round = 0; round < rounds; round++) {
      // again: the next collections reuse each process's cached head, escaped JSON and field texts
      const now = Date.now();
      const time = nowNs();
      if (round > 0) between(round);
      const res = await reader.scan(o, cpu, (p, memTotal) => ({
        line: written((w) => objectLine(w, p, 'test-host', memTotal, now, String(time), plan, added)),
        point: objectPoint(p, 'test-host', memTotal, now, time, plan),
        metricLine: written((w) => metricLine(w, p, memTotal, String(time), added)),
        metric: metricPoint(p, memTotal, time),
      }));
      for (const { line, point, metricLine, metric } of res.items) {
        expect(line).toBe(decoratedLine(point, add));
        expect(metricLine).toBe(decoratedLine(metric, add));
      }
      n += res.items.length;
    }
    return n;
  }

  it('are the text the core writes of the points, on the real /proc', async () => {
    expect(await same(hostPaths(''), 3)).toBeGreaterThan(3);
  });

  it('are the text the core writes of the points, with quotes, backslashes, spaces and newlines in names, command lines and directories', async () => {
    const { r } = syntheticRoot();
    try {
      fs.writeFileSync(path.join(r.root, 'proc/10/cmdline'), 'java\0-Dx="a b"\0C:\\tmp\\\0line\nbreak\0<&>\0');
      fs.writeFileSync(path.join(r.root, 'etc/passwd'), 'al"ice, =x:x:1234:1234::/home/alice:/bin/sh\n');
      fs.rmSync(path.join(r.root, 'proc/10/cwd'));
      fs.symlinkSync('/srv/"odd" dir\\x,y=z', path.join(r.root, 'proc/10/cwd'));
      fs.writeFileSync(path.join(r.root, 'proc/11/stat'), fs.readFileSync(path.join(r.root, 'proc/11/stat'), 'utf8').replace('(a) (b c)', '(a"b\\c = d,e)'));
      expect(await same(hostPaths(r.root), 2)).toBe(6); // 10, 11 and the young 14, twice
    } finally {
      r.remove();
    }
  });

  it('are written anew when a value in them changes, and copied while none does', async () => {
    const { r, stat } = syntheticRoot();
    const file = (rel: string) => path.join(r.root, 'proc', rel);
    const edit = (rel: string, from: string | RegExp, to: string) => {
      const before = fs.readFileSync(file(rel), 'utf8');
      expect(before.replace(from, to)).not.toBe(before);
      fs.writeFileSync(file(rel), before.replace(from, to));
    };
    // between two collections, one change each (none: every line is copied but for its time and started_duration)
    const changes = [
      () => {},
      () => fs.writeFileSync(file('10/stat'), stat(10, 'java', 360_700)), // CPU ticks: cpu_usage, the message's cpu
      () => edit('10/status', /VmRSS:.*\n/, 'VmRSS:\t 20480 kB\n'), // rss, mem_used_percent, the message's memory
      () => edit('11/status', /VmHWM:.*\n/, 'VmHWM:\t 99999 kB\n'), // only in the message's memory
      () => edit('10/io', 'syscr: 3', 'syscr: 33'),
      () => edit('10/status', 'voluntary_ctxt_switches:\t77', 'voluntary_ctxt_switches:\t78'),
      () => edit('11/stat', ' 500 20 3 1 ', ' 501 20 4 1 '), // page faults
      () => edit('10/stat', ' 20 0 4 0 ', ' 20 0 5 0 '), // threads
      () => edit('10/stat', ' 17 0 0 0 7 0 0', ' 17 0 0 0 9 0 0'), // block I/O delays: the message's cpu.iowait
      () => edit('11/stat', ') S 1 ', ') Z 1 '), // state (a tag: a new head)
      () => fs.symlinkSync('/dev/null', file('10/fd/7')), // open_files
      () => {
        fs.rmSync(file('10/cwd'));
        fs.symlinkSync('/srv/other "dir"', file('10/cwd'));
      },
      () => fs.writeFileSync(path.join(r.root, 'proc/meminfo'), 'MemTotal:       2048000 kB\n'), // mem_used_percent
      () => fs.writeFileSync(file('10/cmdline'), 'java\0-jar\0other.jar\0'),
      () => {},
    ];
    try {
      expect(await same(hostPaths(r.root), changes.length, { ...opts, listenPorts: false }, (round) => changes[round]!())).toBe(3 * changes.length);
    } finally {
      r.remove();
    }
  });

  it.each(['object', 'metric'] as const)('go to the accumulator as lines where every sink takes line protocol (%s), decoding to the same tags and fields', async (kind) => {
    const { r } = syntheticRoot();
    try {
      const raw = { enable_listen_ports: true, min_run_time: '0s', open_metric: true };
      const lines = collector(kind, raw, hostPaths(r.root));
      const points = collector(kind, raw, hostPaths(r.root));
      let text = '';
      Object.assign(lines.ctx.acc, {
        tagsToAdd: () => add,
        recordFormat: (c: string) => (c === kind ? 'lp' : undefined),
        addLines: (category: string, data: Uint8Array, ends: ArrayLike<number>) => {
          expect(category).toBe(kind);
          text += Buffer.from(data.subarray(0, ends[ends.length - 1])).toString('utf8');
          return ends.length;
        },
      });
      Object.assign(points.ctx.acc, { tagsToAdd: () => add });
      expect(await lines.c.collect()).toEqual([]);
      const pts = await points.c.collect();
      // started_duration and the CPU figures depend on the moment of each collection
      const norm = (d: { tags: Record<string, string>; fields: Record<string, unknown> }) => {
        const { started_duration: _s, cpu_usage: _c, cpu_usage_top: _t, message, ...fields } = d.fields;
        if (message === undefined) return { tags: d.tags, fields };
        const { started_duration: _ms, cpu_usage: _mc, cpu_usage_top: _mt, cpu: _cpu, ...msg } = JSON.parse(message as string);
        return { tags: d.tags, fields, msg };
      };
      const got = decodeLines(text).map(norm);
      expect(got).toHaveLength(kind === 'object' ? 3 : 2); // metrics: only processes with a command line
      expect(got).toEqual(decodeLines(pts.map((p) => decoratedLine(p, add)).join('\n')).map(norm));
    } finally {
      r.remove();
    }
  });
});

describe('host_processes parsers', () => {
  it('stat: the name between the first ( and the last ), fields after it', () => {
    const s = parsePidStat('42 (a) (b c) R 1 42 42 0 -1 0 7 8 9 10 111 222 0 0 20 0 3 0 555 4096 12 0\n')!;
    expect(s).toMatchObject({ comm: 'a) (b c', state: 'R', minflt: 7, cminflt: 8, majflt: 9, cmajflt: 10, utime: 111, stime: 222, numThreads: 3, starttime: 555, vsize: 4096, rss: 12 });
    expect(parsePidStat('42 (x) S 1 2')).toBeUndefined();
    expect(parsePidStat('42 x S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22')).toBeUndefined();
    expect(parsePidStatus('Name:\tUid: 5\nUid:\t7\t7\t7\t7\n')!.uid).toBe(7);
  });

  it('cgroup: container ids under systemd and cgroupfs drivers, none for host processes', () => {
    const id = 'f'.repeat(64);
    expect(containerIdFromCgroup(`0::/system.slice/docker-${id}.scope\n`)).toBe(id);
    expect(containerIdFromCgroup(`12:memory:/kubepods/burstable/pod1234/${id}\n`)).toBe(id);
    expect(containerIdFromCgroup('0::/user.slice/user-0.slice/session-1.scope\n')).toBe('');
    expect(containerIdFromCgroup('0::/\n')).toBe('');
  });

  it('net/tcp: LISTEN sockets only; passwd; long names', () => {
    const t = 'sl local rem st\n 0: 0100007F:0050 00000000:0000 0A 0:0 0:0 0 0 0 99 1\n 1: 0100007F:0051 0100007F:9999 01 0:0 0:0 0 0 0 98 1\n';
    expect(parseTcpListen(t)).toEqual([{ inode: 99, port: 80 }]);
    expect(parsePasswd('a:x:1:1::/:/bin/sh\nb:x:1:1::/:/bin/sh\nbad\n').get(1)).toBe('a');
    expect(fullName('kube-controller', '/usr/bin/kube-controller-manager')).toBe('kube-controller-manager');
    expect(fullName('kube-controller', '/usr/bin/other')).toBe('kube-controller');
    expect(fullName('java', '/usr/bin/javaXYZ')).toBe('java');
  });
});

describe('host_processes configuration', () => {
  it('takes DataKit\'s sample ([[inputs.host_processes]], deprecated options) and its ENV_INPUT_HOST_PROCESSES_* variables', async () => {
    const inputs = [host_processes];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'telekit-hp-conf-'));
    try {
      fs.mkdirSync(path.join(dir, 'host'));
      fs.writeFileSync(
        path.join(dir, 'host', 'host_processes.conf'),
        '[[inputs.host_processes]]\n  process_name = [".*nginx.*"]\n  min_run_time = "10m"\n  open_metric = true\n  enable_listen_ports = false\n  enable_open_files = false\n  only_container_processes = false\n  [inputs.host_processes.tags]\n  team = "sre"\n',
      );
      const r = loadInputs({ confDir: dir, env: {}, registry: inputs, defaultEnabled: [] });
      expect(r.problems).toEqual([]);
      expect(r.instances[0]!.config).toMatchObject({ process_name: ['.*nginx.*'], min_run_time: 600_000, open_metric: true, tags: { team: 'sre' }, object_interval: 300_000, metric_interval: 30_000 });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const env = { ENV_INPUT_HOST_PROCESSES_OPEN_METRIC: 'true', ENV_INPUT_HOST_PROCESSES_PROCESS_NAME: 'nginx,java', ENV_INPUT_HOST_PROCESSES_MIN_RUN_TIME: '1m', ENV_INPUT_HOST_PROCESSES_ENABLE_LISTEN_PORTS: 'true' };
    const e = loadInputs({ env, registry: inputs, defaultEnabled: ['host_processes'] });
    expect(e.problems).toEqual([]);
    expect(e.instances[0]!.config).toMatchObject({ open_metric: true, process_name: ['nginx', 'java'], min_run_time: 60_000, enable_listen_ports: true });
  });
});
