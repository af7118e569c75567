/**
 * Reads the processes of the host's /proc, one collection at a time.
 *
 * Cost is what matters on a busy node (1,000+ processes every 30 s), so the
 * files are read synchronously into one reused buffer (an async read costs
 * several times the CPU of the read itself), in slices of {@link SLICE}
 * processes between which the event loop runs, and parsed where they lie
 * (parse.ts reads bytes). Each process has one record kept across collections
 * ({@link Proc}, by pid, renewed when its start time changes): per collection a
 * process costs one pread each of stat and (when it passes the filters)
 * status and io through descriptors kept open, and an fd count — on procfs of
 * Linux ≥ 6.2 the size of its `fd` directory (an fstat of a kept descriptor),
 * else a listing of it. cmdline and cgroup are read once per process: by
 * `min_run_time` (10 min) a process has long since rewritten its title and
 * joined its cgroup. Objects also read the working directory (it can change).
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
  newPidIo,
  newPidStat,
  newPidStatus,
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
/** The descriptors kept per process: its stat, status and io files, and its fd directory (fstat'ed for the count). */
const STAT = 0;
const STATUS = 1;
const IO = 2;
const FD_DIR = 3;
type Kept = typeof STAT | typeof STATUS | typeof IO | typeof FD_DIR;
const KEPT_NAMES = ['stat', 'status', 'io', 'fd'] as const;
/** A kept slot without a descriptor: not opened (yet), or refused for this process (io and fd of another user's process; retried when the pid is reused). */
const NONE = -1;
const DENIED = -2;

/**
 * How many descriptors may stay open for re-reading: a quarter of the agent's
 * soft RLIMIT_NOFILE (its own /proc/self/limits), at most 4 per process for 4,000 processes.
 */
function keptFdBudget(): number {
  try {
    const m = /Max open files\s+(\d+|unlimited)/.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    const soft = !m || m[1] === 'unlimited' ? 1 << 20 : Number(m[1]);
    return Math.min(16_000, Math.floor(soft / 4));
  } catch {
    return 0;
  }
}

/**
 * Whether the size of a `/proc/<pid>/fd` directory is its number of open
 * descriptors (procfs on Linux ≥ 6.2), checked once on the agent's own: it
 * always has some open, so an older kernel (size 0) or a tree that is not
 * procfs (a test's, a directory's block size) falls back to listing.
 */
function fdCountBySize(proc: string): boolean {
  try {
    if (fs.statfsSync(proc).type !== PROC_SUPER_MAGIC) return false;
    for (const self of [path.join(proc, 'self', 'fd'), '/proc/self/fd']) {
      try {
        const size = fs.statSync(self).size;
        const listed = fs.readdirSync(self).length; // one more while the listing is open
        return size > 0 && Math.abs(size - listed) <= 1;
      } catch {
        /* the next one */
      }
    }
  } catch {
    /* not there yet: reads fail and are counted */
  }
  return false;
}

export type SkipReason = 'exited' | 'unreadable' | 'malformed';
/** Files whose absence only drops fields. */
export type PartialFile = 'io' | 'fd' | 'cwd' | 'net';

/** What a collection knows of a process. A view: valid only inside the scan's callback. */
export interface ProcInfo {
  readonly pid: number;
  /** The process name: `comm`, completed from the command line when the kernel cut it at 15 bytes. */
  readonly name: string;
  /** Arguments joined by spaces ("" for kernel threads). */
  readonly cmdline: string;
  /** Whether /proc/<pid>/cmdline could be read at all. */
  readonly hasCmdline: boolean;
  readonly containerId: string;
  readonly username: string;
  /** Changes whenever name or username does (the pid and start time stay): points.ts keys its per-process caches on it. */
  readonly version: number;
  readonly stat: PidStat;
  readonly status: PidStatus;
  readonly io: PidIo | undefined;
  readonly openFiles: number | undefined;
  /** Start time, ms since the epoch. */
  readonly startMs: number;
  /** Percent of one CPU over the interval (or since start for a process younger than the interval). */
  readonly cpuUsage: number;
  /** Only read for objects. */
  readonly cwd: string | undefined;
  /** Only read when listen ports are asked for: the LISTEN ports of its sockets (tcp, then tcp6 order). */
  readonly listenPorts: number[] | undefined;
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
  /** The collection's time (ms since the epoch); now by default (tests set it). */
  now?: number;
}

export interface ScanResult<T> {
  /** What the scan's callback made of each process that passed the filters. */
  items: T[];
  memTotal: number;
  skipped: Record<SkipReason, number>;
  partial: Record<PartialFile, number>;
}

/** One loop's CPU samples: each process's ticks are kept with the time they were read, per loop (the object and metric loops run at different intervals). */
export class CpuSamples {}

class FileError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

const errCode = (e: unknown) => (e instanceof FileError ? e.code : ((e as NodeJS.ErrnoException).code ?? 'EIO'));
const denied = (code: string) => code === 'EACCES' || code === 'EPERM';

const yieldLoop = () => new Promise<void>((r) => setImmediate(r));

/** A process as the reader keeps it between collections. */
class Proc implements ProcInfo {
  /** stat's start time (ticks after boot) of the process these facts are about; -1 before the first read. */
  start = -1;
  readonly fds: number[] = [NONE, NONE, NONE, NONE];
  /** The scan that last saw the pid in /proc. */
  mark = 0;
  /** cmdline and cgroup were read. */
  loaded = false;
  cmdline = '';
  arg0 = '';
  hasCmdline = false;
  containerId = '';
  comm = '';
  name = '';
  uid = -1;
  users: Map<number, string> | undefined;
  username = 'nobody';
  version = 0;
  /** The last `match` asked and its answer for `name`. */
  matchFn: ((name: string) => boolean) | undefined;
  matched = false;
  readonly stat = newPidStat();
  readonly status = newPidStatus();
  readonly ioRec = newPidIo();
  io: PidIo | undefined;
  openFiles: number | undefined;
  startMs = 0;
  cpuUsage = 0;
  cwd: string | undefined;
  listenPorts: number[] | undefined;
  /** Per CpuSamples slot: the ticks (utime + stime) and when they were read (2 numbers a slot). */
  prev: number[] = [];

  constructor(readonly pid: number) {}
}

export class ProcReader {
  private buf = Buffer.allocUnsafe(16 * 1024);
  private procs = new Map<number, Proc>();
  private passwd: { mtimeMs: number; users: Map<number, string> } | undefined;
  private btime: number | undefined;
  private readonly fdBySize: boolean;
  private nKept = 0;
  private keptBudget = keptFdBudget();
  private mark = 0;
  /** Each loop's CpuSamples → its slot in every Proc's `prev`. */
  private slots = new WeakMap<CpuSamples, number>();
  private nSlots = 0;
  /** Scans run one at a time (the object and metric loops share the reader and its descriptors). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly paths: HostPaths) {
    this.fdBySize = fdCountBySize(paths.proc);
  }

  /** How this reader counts open files: `size` of the fd directory (procfs, Linux ≥ 6.2) or a `listing` of it. */
  get fdCounting(): 'size' | 'listing' {
    return this.fdBySize ? 'size' : 'listing';
  }

  private slot(cpu: CpuSamples): number {
    let s = this.slots.get(cpu);
    if (s === undefined) {
      s = (this.nSlots++) * 2;
      this.slots.set(cpu, s);
    }
    return s;
  }

  /** Reads a whole small file by path into the buffer; returns its length. Throws a FileError with the errno code. */
  private read(file: string): number {
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (e) {
      throw new FileError(errCode(e));
    }
    try {
      let n = 0;
      for (;;) {
        const r = fs.readSync(fd, this.buf, n, this.buf.length - n, null);
        if (r === 0) break;
        n += r;
        if (n === this.buf.length) {
          if (n >= 4 << 20) break; // a command line is at most a few MiB
          this.grow(n);
        }
      }
      return n;
    } catch (e) {
      throw new FileError(errCode(e));
    } finally {
      fs.closeSync(fd);
    }
  }

  private grow(n: number): void {
    const b = Buffer.allocUnsafe(this.buf.length * 2);
    this.buf.copy(b, 0, 0, n);
    this.buf = b;
  }

  private text(file: string, enc: 'latin1' | 'utf8'): string | undefined {
    try {
      return this.buf.toString(enc, 0, this.read(file));
    } catch {
      return undefined;
    }
  }

  /**
   * Reads a whole procfs file from an open descriptor at offset 0 (procfs
   * regenerates the text). One read: a seq_file gives all of its text to a
   * read with room for it, so a short read is the end (a second, empty read
   * would cost another syscall per file); regular files (a test's tree) too.
   */
  private pread(fd: number): number {
    let n = fs.readSync(fd, this.buf, 0, this.buf.length, 0);
    while (n === this.buf.length) {
      this.grow(n);
      const r = fs.readSync(fd, this.buf, n, this.buf.length - n, n);
      if (r === 0) break;
      n += r;
    }
    return n;
  }

  private closeFd(e: Proc, which: Kept): void {
    const fd = e.fds[which]!;
    if (fd >= 0) {
      fs.closeSync(fd);
      this.nKept--;
    }
    e.fds[which] = NONE;
  }

  /** Opens a kept descriptor, or returns undefined when over the budget (read by path then). Throws a FileError. */
  private openKept(e: Proc, which: Kept): number | undefined {
    if (this.nKept >= this.keptBudget) return undefined;
    const file = `${this.paths.proc}/${e.pid}/${KEPT_NAMES[which]}`;
    let fd: number;
    try {
      fd = fs.openSync(file, which === FD_DIR ? fs.constants.O_RDONLY | fs.constants.O_DIRECTORY : 'r');
    } catch (err) {
      const code = errCode(err);
      if (code === 'EMFILE' || code === 'ENFILE') {
        this.keptBudget = 0; // out of descriptors: stop keeping any
        this.closeAll();
        return undefined;
      }
      if (denied(code) && (which === IO || which === FD_DIR)) e.fds[which] = DENIED;
      throw new FileError(code);
    }
    e.fds[which] = fd;
    this.nKept++;
    return fd;
  }

  /**
   * Reads /proc/<pid>/<stat|status|io> into the buffer through a descriptor
   * kept open across collections; returns the length. A descriptor of a
   * process that has exited fails (ESRCH), also when its pid was reused: it
   * is closed and the path opened again.
   */
  private readKept(e: Proc, which: typeof STAT | typeof STATUS | typeof IO): number {
    const old = e.fds[which]!;
    if (old >= 0) {
      try {
        return this.pread(old);
      } catch {
        this.closeFd(e, which);
      }
    } else if (old === DENIED) throw new FileError('EACCES');
    const fd = this.openKept(e, which);
    if (fd === undefined) return this.read(`${this.paths.proc}/${e.pid}/${KEPT_NAMES[which]}`);
    try {
      return this.pread(fd);
    } catch (err) {
      this.closeFd(e, which);
      throw new FileError(errCode(err));
    }
  }

  private closeAll(): void {
    for (const e of this.procs.values()) for (let k = 0; k < 4; k++) this.closeFd(e, k as Kept);
  }

  /** Closes every kept descriptor (the input stops). */
  close(): void {
    this.closeAll();
    this.procs.clear();
  }

  /** Forgets the processes whose pid was not in /proc at scan `mark`, closing their descriptors. */
  private sweep(mark: number): void {
    for (const [pid, e] of this.procs) {
      if (e.mark === mark) continue;
      for (let k = 0; k < 4; k++) this.closeFd(e, k as Kept);
      this.procs.delete(pid);
    }
  }

  /** Boot time in seconds since the epoch (read once). */
  bootTime(): number {
    if (this.btime === undefined) {
      const m = /\nbtime (\d+)/.exec('\n' + (this.text(path.join(this.paths.proc, 'stat'), 'latin1') ?? ''));
      if (!m) return 0; // try again next time
      this.btime = Number(m[1]);
    }
    return this.btime;
  }

  private memTotal(): number {
    const m = /MemTotal:\s+(\d+)/.exec(this.text(path.join(this.paths.proc, 'meminfo'), 'latin1') ?? '');
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
      this.passwd = { mtimeMs, users: parsePasswd(mtimeMs < 0 ? '' : (this.text(file, 'utf8') ?? '')) };
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

  /** The process's record for this scan, its stat read (or why it was not). */
  private statOf(pid: number, mark: number): Proc | SkipReason {
    let e = this.procs.get(pid);
    if (e === undefined) {
      e = new Proc(pid);
      this.procs.set(pid, e);
    }
    e.mark = mark;
    let n: number;
    try {
      n = this.readKept(e, STAT);
    } catch (err) {
      return denied(errCode(err)) ? 'unreadable' : 'exited';
    }
    if (!parsePidStat(this.buf, n, e.stat)) return 'malformed';
    if (e.stat.starttime !== e.start) {
      if (e.start !== -1) this.renew(e);
      e.start = e.stat.starttime;
    }
    return e;
  }

  /** The pid now belongs to another process (its stat was read afresh): forget the old one's facts and descriptors. */
  private renew(e: Proc): void {
    this.closeFd(e, STATUS);
    this.closeFd(e, IO);
    this.closeFd(e, FD_DIR);
    e.loaded = false;
    e.comm = '';
    e.uid = -1;
    e.users = undefined;
    e.matchFn = undefined;
    e.prev = [];
    e.version++;
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
    const slot = this.slot(into);
    const now = Date.now();
    const mark = ++this.mark;
    const pids = this.pids();
    for (let i = 0; i < pids.length; i++) {
      if (i > 0 && i % SLICE === 0) await yieldLoop();
      const e = this.statOf(pids[i]!, mark);
      if (typeof e === 'string') continue;
      e.prev[slot] = e.stat.utime + e.stat.stime;
      e.prev[slot + 1] = now;
    }
    this.sweep(mark);
  }

  private fdCount(e: Proc): number | undefined {
    if (!this.fdBySize) return this.fdList(e.pid)?.length;
    // Linux ≥ 6.2 reports the number of open fds as the size of /proc/<pid>/fd.
    let fd = e.fds[FD_DIR]!;
    if (fd >= 0) {
      try {
        return fs.fstatSync(fd).size;
      } catch {
        this.closeFd(e, FD_DIR); // exited
      }
    }
    if (fd !== DENIED) {
      try {
        const kept = this.openKept(e, FD_DIR);
        if (kept !== undefined) return fs.fstatSync(kept).size;
      } catch (err) {
        if (!denied(errCode(err))) return undefined; // exited
      }
    }
    try {
      return fs.statSync(`${this.paths.proc}/${e.pid}/fd`).size; // stat needs no permission on the directory
    } catch {
      return undefined;
    }
  }

  /** cmdline and container id, once per process. False when it has exited. */
  private load(e: Proc): boolean {
    const base = `${this.paths.proc}/${e.pid}/`;
    let args: string[] | undefined;
    try {
      args = parseCmdline(this.buf.toString('utf8', 0, this.read(base + 'cmdline')));
    } catch (err) {
      const code = errCode(err);
      if (code === 'ENOENT' || code === 'ESRCH') return false;
    }
    e.cmdline = args?.join(' ') ?? '';
    e.arg0 = args?.[0] ?? '';
    e.hasCmdline = args !== undefined;
    e.containerId = containerIdFromCgroup(this.text(base + 'cgroup', 'latin1') ?? '');
    e.loaded = true;
    e.version++;
    return true;
  }

  /**
   * Reads every process that passes the options' filters and hands each to
   * `make` (a view valid during the call); `cpu` holds each process's ticks of
   * the loop's previous collection, and is updated.
   */
  scan<T>(o: ScanOptions, cpu: CpuSamples, make: (p: ProcInfo, memTotal: number) => T): Promise<ScanResult<T>> {
    return this.exclusive(() => this.scanNow(o, cpu, make));
  }

  private async scanNow<T>(o: ScanOptions, cpu: CpuSamples, make: (p: ProcInfo, memTotal: number) => T): Promise<ScanResult<T>> {
    const skipped: Record<SkipReason, number> = { exited: 0, unreadable: 0, malformed: 0 };
    const partial: Record<PartialFile, number> = { io: 0, fd: 0, cwd: 0, net: 0 };
    const now = o.now ?? Date.now();
    const slot = this.slot(cpu);
    const btimeMs = this.bootTime() * 1000;
    const users = this.users();
    const memTotal = this.memTotal();
    const items: T[] = [];
    const mark = ++this.mark;
    const nets = o.listenPorts ? new Map<string, Map<number, { port: number; order: number }>>() : undefined;
    const pids = this.pids();
    for (let i = 0; i < pids.length; i++) {
      if (i > 0 && i % SLICE === 0) await yieldLoop();
      const e = this.statOf(pids[i]!, mark);
      if (typeof e === 'string') {
        skipped[e]++;
        continue;
      }
      const st = e.stat;
      const startMs = btimeMs + (st.starttime * 1000) / HZ;
      const ticks = st.utime + st.stime;
      const before = e.prev[slot];
      const beforeAt = e.prev[slot + 1];
      e.prev[slot] = ticks;
      e.prev[slot + 1] = now;
      if (now - startMs <= o.minRunTimeMs) continue;
      if (!e.loaded && !this.load(e)) {
        skipped.exited++;
        continue;
      }
      if (o.onlyContainer && e.containerId === '') continue;
      if (o.needCmdline && e.cmdline === '') continue;
      if (st.comm !== e.comm) {
        e.comm = st.comm;
        const name = fullName(st.comm, e.arg0);
        if (name !== e.name) {
          e.name = name;
          e.matchFn = undefined;
          e.version++;
        }
      }
      if (o.match) {
        if (e.matchFn !== o.match) {
          e.matchFn = o.match;
          e.matched = o.match(e.name);
        }
        if (!e.matched) continue;
      }
      let n: number;
      try {
        n = this.readKept(e, STATUS);
      } catch (err) {
        skipped[denied(errCode(err)) ? 'unreadable' : 'exited']++;
        continue;
      }
      const status = parsePidStatus(this.buf, n, e.status);
      if (!status) {
        skipped.malformed++;
        continue;
      }
      if (status.uid !== e.uid || users !== e.users) {
        e.uid = status.uid;
        e.users = users;
        const username = users.get(status.uid) ?? 'nobody';
        if (username !== e.username) {
          e.username = username;
          e.version++;
        }
      }
      e.io = undefined;
      try {
        e.io = parsePidIo(this.buf, this.readKept(e, IO), e.ioRec);
      } catch {
        /* another user's process without CAP_SYS_PTRACE: no io fields */
      }
      if (!e.io) partial.io++;
      // with listen ports the fd listing is read anyway: count it there
      const listing = nets ? this.fdList(e.pid) : undefined;
      e.openFiles = listing ? listing.length : this.fdCount(e);
      if (e.openFiles === undefined) partial.fd++;
      if (before !== undefined && beforeAt !== undefined && now > beforeAt && ticks >= before) e.cpuUsage = (100 * 1000 * (ticks - before)) / HZ / (now - beforeAt);
      else e.cpuUsage = now > startMs ? (100 * 1000 * ticks) / HZ / (now - startMs) : 0; // started within the interval
      e.startMs = Math.round(startMs);
      e.cwd = undefined;
      if (o.cwd) {
        try {
          e.cwd = fs.readlinkSync(`${this.paths.proc}/${e.pid}/cwd`);
        } catch {
          partial.cwd++;
        }
      }
      e.listenPorts = undefined;
      if (nets) {
        e.listenPorts = listing && this.listenPorts(e.pid, listing, nets);
        if (e.listenPorts === undefined) partial.net++;
      }
      items.push(make(e, memTotal));
    }
    this.sweep(mark); // processes gone from /proc
    return { items, memTotal, skipped, partial };
  }

  /** The names in the process's fd directory, or undefined when it cannot be listed. */
  private fdList(pid: number): string[] | undefined {
    try {
      return fs.readdirSync(`${this.paths.proc}/${pid}/fd`);
    } catch {
      return undefined;
    }
  }

  /**
   * The LISTEN ports of the process's sockets: its fds' socket inodes looked
   * up in the TCP tables of its network namespace (read once per namespace
   * and collection).
   */
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
        for (const l of parseTcpListen(this.text(base + 'net/' + f, 'latin1') ?? '')) table.set(l.inode, { port: l.port, order: order++ });
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
