/**
 * Reads the processes of the host's /proc, one collection at a time.
 *
 * Cost is what matters on a busy node (1,000+ processes every 30 s), so the
 * files are read synchronously into one reused buffer (an async read costs
 * several times the CPU of the read itself), in slices of {@link SLICE}
 * processes between which the event loop runs. Per collection a process costs
 * stat, then (when old enough) status, io and an fd count; cmdline and cgroup
 * are read once per process (pid + start time): by `min_run_time` (10 min) a
 * process has long since rewritten its title and joined its cgroup.
 *
 * A process may exit between any two reads, and some files are unreadable
 * (another user's io, hidepid): such processes are skipped and counted by
 * reason, a missing optional file only drops its fields. Nothing here throws
 * on a process's files.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { HostPaths } from '../../agent/services/host/paths.js';
import {
  containerIdFromCgroup,
  parseCmdline,
  parsePasswd,
  parsePidIo,
  parsePidStat,
  parsePidStatus,
  parseTcpListen,
  socketInode,
  type PidIo,
  type PidStat,
  type PidStatus,
} from './parse.js';

/** USER_HZ: the unit of /proc/<pid>/stat times; 100 on every Linux architecture in use. */
export const HZ = 100;
/** Processes read between two turns of the event loop. */
const SLICE = 128;
/** procfs's f_type (statfs). */
const PROC_SUPER_MAGIC = 0x9fa0;
/** Per-process facts not seen for this long are forgotten. */
const FORGET_MS = 30 * 60_000;
/** Files kept open per process (stat, status, io) and re-read with pread at offset 0. */
const KEPT = ['stat', 'status', 'io'] as const;
type KeptFile = 0 | 1 | 2;

/**
 * How many descriptors may stay open for re-reading: a quarter of the agent's
 * soft RLIMIT_NOFILE (its own /proc/self/limits), at most 3 per process for 4,000 processes.
 */
function keptFdBudget(): number {
  try {
    const m = /Max open files\s+(\d+|unlimited)/.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    const soft = !m || m[1] === 'unlimited' ? 1 << 20 : Number(m[1]);
    return Math.min(12_000, Math.floor(soft / 4));
  } catch {
    return 0;
  }
}

export type SkipReason = 'exited' | 'unreadable' | 'malformed';
/** Files whose absence only drops fields. */
export type PartialFile = 'io' | 'fd' | 'cwd' | 'net';

export interface ProcInfo {
  pid: number;
  /** The process name: `comm`, completed from the command line when the kernel cut it at 15 bytes. */
  name: string;
  /** Arguments joined by spaces ("" for kernel threads). */
  cmdline: string;
  /** Whether /proc/<pid>/cmdline could be read at all. */
  hasCmdline: boolean;
  containerId: string;
  username: string;
  stat: PidStat;
  status: PidStatus;
  io: PidIo | undefined;
  openFiles: number | undefined;
  /** Start time, ms since the epoch. */
  startMs: number;
  /** Percent of one CPU over the interval (or since start for a process younger than the interval). */
  cpuUsage: number;
  /** Only read for objects. */
  cwd?: string | undefined;
  /** Only read when listen ports are asked for: the LISTEN ports of its sockets (tcp, then tcp6 order). */
  listenPorts?: number[] | undefined;
}

export interface ScanOptions {
  minRunTimeMs: number;
  /** Name filter (metrics only); undefined = all. */
  match?: ((name: string) => boolean) | undefined;
  onlyContainer: boolean;
  /** Skip processes without a command line (DataKit's metrics do). */
  needCmdline: boolean;
  cwd: boolean;
  listenPorts: boolean;
}

export interface ScanResult {
  procs: ProcInfo[];
  memTotal: number;
  skipped: Record<SkipReason, number>;
  partial: Record<PartialFile, number>;
}

interface Static {
  cmdline: string;
  /** The first argument (for {@link fullName}). */
  arg0: string;
  hasCmdline: boolean;
  containerId: string;
  seen: number;
}

/** CPU ticks per process key at one instant: what the next collection's usage is measured against. */
export class CpuSamples {
  at = 0;
  ticks = new Map<string, number>();
}

class FileError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

const yieldLoop = () => new Promise<void>((r) => setImmediate(r));

export class ProcReader {
  private buf = Buffer.allocUnsafe(16 * 1024);
  private statics = new Map<string, Static>();
  private passwd: { mtimeMs: number; users: Map<number, string> } | undefined;
  private btime: number | undefined;
  private readonly procfs: boolean;
  /** Descriptors of stat/status/io per pid, re-read each collection: one pread instead of open, read and close. */
  private kept = new Map<number, { fds: [number | undefined, number | undefined, number | undefined]; mark: number }>();
  private nKept = 0;
  private keptBudget = keptFdBudget();
  private mark = 0;
  /** Scans run one at a time (the object and metric loops share the reader and its descriptors). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly paths: HostPaths) {
    let procfs = false;
    try {
      procfs = fs.statfsSync(paths.proc).type === PROC_SUPER_MAGIC;
    } catch {
      /* not there yet: reads fail and are counted */
    }
    this.procfs = procfs;
  }

  /** Reads a whole small file, growing the shared buffer if needed. Throws a FileError with the errno code. */
  private read(file: string, enc: 'latin1' | 'utf8'): string {
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (e) {
      throw new FileError((e as NodeJS.ErrnoException).code ?? 'EIO');
    }
    try {
      let n = 0;
      for (;;) {
        const r = fs.readSync(fd, this.buf, n, this.buf.length - n, null);
        if (r === 0) break;
        n += r;
        if (n === this.buf.length) {
          if (n >= 4 << 20) break; // a command line is at most a few MiB
          const b = Buffer.allocUnsafe(this.buf.length * 2);
          this.buf.copy(b, 0, 0, n);
          this.buf = b;
        }
      }
      return this.buf.toString(enc, 0, n);
    } catch (e) {
      throw new FileError((e as NodeJS.ErrnoException).code ?? 'EIO');
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Reads a whole file from an open descriptor, from offset 0 (procfs regenerates the text). */
  private pread(fd: number, enc: 'latin1' | 'utf8'): string {
    let n = 0;
    for (;;) {
      const r = fs.readSync(fd, this.buf, n, this.buf.length - n, n);
      if (r === 0) break;
      n += r;
      if (n === this.buf.length) {
        const b = Buffer.allocUnsafe(this.buf.length * 2);
        this.buf.copy(b, 0, 0, n);
        this.buf = b;
      }
    }
    return this.buf.toString(enc, 0, n);
  }

  /**
   * Reads /proc/<pid>/<stat|status|io> through a descriptor kept open across
   * collections. A descriptor of a process that has exited fails (ESRCH), also
   * when its pid was reused: it is closed and the path opened again.
   */
  private readKept(pid: number, which: KeptFile, enc: 'latin1' | 'utf8'): string {
    const file = `${this.paths.proc}/${pid}/${KEPT[which]}`;
    let e = this.kept.get(pid);
    if (!e) {
      e = { fds: [undefined, undefined, undefined], mark: this.mark };
      this.kept.set(pid, e);
    }
    e.mark = this.mark;
    const old = e.fds[which];
    if (old !== undefined) {
      try {
        return this.pread(old, enc);
      } catch {
        e.fds[which] = undefined;
        this.nKept--;
        fs.closeSync(old);
      }
    }
    if (this.nKept >= this.keptBudget) return this.read(file, enc);
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      if (code === 'EMFILE' || code === 'ENFILE') {
        this.keptBudget = 0; // out of descriptors: stop keeping any
        this.closeKept(() => true);
      }
      throw new FileError(code);
    }
    e.fds[which] = fd;
    this.nKept++;
    try {
      return this.pread(fd, enc);
    } catch (err) {
      e.fds[which] = undefined;
      this.nKept--;
      fs.closeSync(fd);
      throw new FileError((err as NodeJS.ErrnoException).code ?? 'EIO');
    }
  }

  private closeKept(which: (mark: number) => boolean): void {
    for (const [pid, e] of this.kept) {
      if (!which(e.mark)) continue;
      for (const fd of e.fds) {
        if (fd === undefined) continue;
        fs.closeSync(fd);
        this.nKept--;
      }
      this.kept.delete(pid);
    }
  }

  /** Closes every kept descriptor (the input stops). */
  close(): void {
    this.closeKept(() => true);
  }

  private tryRead(file: string, enc: 'latin1' | 'utf8'): string | undefined {
    try {
      return this.read(file, enc);
    } catch {
      return undefined;
    }
  }

  /** Boot time in seconds since the epoch (read once). */
  bootTime(): number {
    if (this.btime === undefined) {
      const m = /\nbtime (\d+)/.exec('\n' + (this.tryRead(path.join(this.paths.proc, 'stat'), 'latin1') ?? ''));
      if (!m) return 0; // try again next time
      this.btime = Number(m[1]);
    }
    return this.btime;
  }

  private memTotal(): number {
    const m = /MemTotal:\s+(\d+)/.exec(this.tryRead(path.join(this.paths.proc, 'meminfo'), 'latin1') ?? '');
    return m ? Number(m[1]) * 1024 : 0;
  }

  /** The host's users, from its passwd (HOST_ETC, else HOST_ROOT's /etc; re-read when it changes). */
  private users(): Map<number, string> {
    const file = path.join(this.paths.etc, 'passwd');
    let mtimeMs = -1;
    try {
      mtimeMs = fs.statSync(file).mtimeMs;
    } catch {
      /* no passwd: every user is unknown */
    }
    if (!this.passwd || this.passwd.mtimeMs !== mtimeMs) {
      this.passwd = { mtimeMs, users: parsePasswd(mtimeMs < 0 ? '' : (this.tryRead(file, 'utf8') ?? '')) };
    }
    return this.passwd.users;
  }

  /** The numeric entries of /proc. */
  pids(): number[] {
    const out: number[] = [];
    for (const n of fs.readdirSync(this.paths.proc)) {
      const c = n.charCodeAt(0);
      if (c >= 49 && c <= 57) {
        const pid = Number(n);
        if (Number.isInteger(pid)) out.push(pid);
      }
    }
    return out;
  }

  private statOf(pid: number): PidStat | SkipReason {
    let text: string;
    try {
      text = this.readKept(pid, 0, 'utf8');
    } catch (e) {
      return e instanceof FileError && (e.code === 'EACCES' || e.code === 'EPERM') ? 'unreadable' : 'exited';
    }
    return parsePidStat(text) ?? 'malformed';
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Reads only the CPU ticks of every process (a baseline for the first collection's usage). */
  sampleCpu(into: CpuSamples): Promise<void> {
    return this.exclusive(() => this.sampleCpuNow(into));
  }

  private async sampleCpuNow(into: CpuSamples): Promise<void> {
    into.at = Date.now();
    into.ticks = new Map();
    const mark = ++this.mark;
    const pids = this.pids();
    for (let i = 0; i < pids.length; i++) {
      if (i > 0 && i % SLICE === 0) await yieldLoop();
      const st = this.statOf(pids[i]!);
      if (typeof st !== 'string') into.ticks.set(`${pids[i]}:${st.starttime}`, st.utime + st.stime);
    }
    this.closeKept((m) => m !== mark);
  }

  private fdCount(pid: number): number | undefined {
    const dir = `${this.paths.proc}/${pid}/fd`;
    try {
      if (this.procfs) {
        // Linux ≥ 6.2 reports the number of open fds as the size of /proc/<pid>/fd.
        const size = fs.statSync(dir).size;
        if (size > 0) return size;
      }
      return fs.readdirSync(dir).length;
    } catch {
      return undefined;
    }
  }

  private staticOf(pid: number, st: PidStat, now: number): Static | undefined {
    const key = `${pid}:${st.starttime}`;
    let s = this.statics.get(key);
    if (!s) {
      const base = `${this.paths.proc}/${pid}/`;
      let args: string[] | undefined;
      try {
        args = parseCmdline(this.read(base + 'cmdline', 'utf8'));
      } catch (e) {
        if (e instanceof FileError && (e.code === 'ENOENT' || e.code === 'ESRCH')) return undefined;
      }
      s = {
        cmdline: args?.join(' ') ?? '',
        arg0: args?.[0] ?? '',
        hasCmdline: args !== undefined,
        containerId: containerIdFromCgroup(this.tryRead(base + 'cgroup', 'latin1') ?? ''),
        seen: now,
      };
      this.statics.set(key, s);
    }
    s.seen = now;
    return s;
  }

  /** Reads every process that passes the options' filters. `cpu` holds the previous collection's ticks and is replaced. */
  scan(o: ScanOptions, cpu: CpuSamples): Promise<ScanResult> {
    return this.exclusive(() => this.scanNow(o, cpu));
  }

  private async scanNow(o: ScanOptions, cpu: CpuSamples): Promise<ScanResult> {
    const skipped: Record<SkipReason, number> = { exited: 0, unreadable: 0, malformed: 0 };
    const partial: Record<PartialFile, number> = { io: 0, fd: 0, cwd: 0, net: 0 };
    const now = Date.now();
    const btimeMs = this.bootTime() * 1000;
    const users = this.users();
    const memTotal = this.memTotal();
    const prev = cpu.ticks;
    const prevAt = cpu.at;
    const next = new Map<string, number>();
    const procs: ProcInfo[] = [];
    const mark = ++this.mark;
    const nets = o.listenPorts ? new Map<string, Map<number, { port: number; order: number }>>() : undefined;
    const pids = this.pids();
    for (let i = 0; i < pids.length; i++) {
      if (i > 0 && i % SLICE === 0) await yieldLoop();
      const pid = pids[i]!;
      const st = this.statOf(pid);
      if (typeof st === 'string') {
        skipped[st]++;
        continue;
      }
      const startMs = btimeMs + (st.starttime * 1000) / HZ;
      if (now - startMs <= o.minRunTimeMs) continue;
      const s = this.staticOf(pid, st, now);
      if (!s) {
        skipped.exited++;
        continue;
      }
      if (o.onlyContainer && s.containerId === '') continue;
      if (o.needCmdline && s.cmdline === '') continue;
      const name = fullName(st.comm, s.arg0);
      if (o.match && !o.match(name)) continue;
      const base = `${this.paths.proc}/${pid}/`;
      let status: PidStatus | undefined;
      try {
        status = parsePidStatus(this.readKept(pid, 1, 'latin1'));
      } catch (e) {
        skipped[e instanceof FileError && (e.code === 'EACCES' || e.code === 'EPERM') ? 'unreadable' : 'exited']++;
        continue;
      }
      if (!status) {
        skipped.malformed++;
        continue;
      }
      let ioText: string | undefined;
      try {
        ioText = this.readKept(pid, 2, 'latin1');
      } catch {
        /* another user's process without CAP_SYS_PTRACE: no io fields */
      }
      const io = ioText === undefined ? undefined : parsePidIo(ioText);
      if (!io) partial.io++;
      // with listen ports the fd listing is read anyway: count it there
      const listing = nets ? this.fdList(pid) : undefined;
      const openFiles = listing ? listing.length : this.fdCount(pid);
      if (openFiles === undefined) partial.fd++;

      const key = `${pid}:${st.starttime}`;
      const ticks = st.utime + st.stime;
      next.set(key, ticks);
      const before = prev.get(key);
      let cpuUsage: number;
      if (before !== undefined && now > prevAt && ticks >= before) cpuUsage = (100 * 1000 * (ticks - before)) / HZ / (now - prevAt);
      else cpuUsage = now > startMs ? (100 * 1000 * ticks) / HZ / (now - startMs) : 0; // started within the interval
      const info: ProcInfo = {
        pid,
        name,
        cmdline: s.cmdline,
        hasCmdline: s.hasCmdline,
        containerId: s.containerId,
        username: users.get(status.uid) ?? 'nobody',
        stat: st,
        status,
        io,
        openFiles,
        startMs: Math.round(startMs),
        cpuUsage,
      };
      if (o.cwd) {
        try {
          info.cwd = fs.readlinkSync(base + 'cwd');
        } catch {
          partial.cwd++;
        }
      }
      if (nets) {
        info.listenPorts = listing && this.listenPorts(pid, listing, nets);
        if (info.listenPorts === undefined) partial.net++;
      }
      procs.push(info);
    }
    cpu.ticks = next;
    cpu.at = now;
    this.closeKept((m) => m !== mark); // processes gone from /proc
    for (const [k, s] of this.statics) if (now - s.seen > FORGET_MS) this.statics.delete(k);
    return { procs, memTotal, skipped, partial };
  }

  /**
   * The LISTEN ports of the process's sockets: its fds' socket inodes looked
   * up in the TCP tables of its network namespace (read once per namespace
   * and collection).
   */
  private fdList(pid: number): string[] | undefined {
    try {
      return fs.readdirSync(`${this.paths.proc}/${pid}/fd`);
    } catch {
      return undefined;
    }
  }

  private listenPorts(pid: number, fds: readonly string[], nets: Map<string, Map<number, { port: number; order: number }>>): number[] {
    const base = `${this.paths.proc}/${pid}/`;
    let ns: string;
    try {
      ns = fs.readlinkSync(base + 'ns/net');
    } catch {
      ns = `pid:${pid}`; // no namespace link (synthetic /proc): this process's own tables
    }
    let table = nets.get(ns);
    if (!table) {
      table = new Map();
      let order = 0;
      for (const f of ['tcp', 'tcp6']) {
        for (const l of parseTcpListen(this.tryRead(base + 'net/' + f, 'latin1') ?? '')) table.set(l.inode, { port: l.port, order: order++ });
      }
      nets.set(ns, table);
    }
    if (table.size === 0) return [];
    const found: { port: number; order: number }[] = [];
    for (const fd of fds) {
      let link: string;
      try {
        link = fs.readlinkSync(base + 'fd/' + fd);
      } catch {
        continue; // closed meanwhile
      }
      const inode = socketInode(link);
      const l = inode === undefined ? undefined : table.get(inode);
      if (l) found.push(l);
    }
    return found.sort((a, b) => a.order - b.order).map((l) => l.port);
  }
}

/**
 * The kernel cuts `comm` at 15 bytes; like gopsutil, a cut name is completed
 * from the command line's first argument when that one's base name starts with it.
 */
export function fullName(comm: string, arg0: string): string {
  if (comm.length < 15 || arg0 === '') return comm;
  const b = arg0.slice(arg0.lastIndexOf('/') + 1);
  return b.startsWith(comm) ? b : comm;
}
