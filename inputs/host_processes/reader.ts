/**
 * Reads the processes of the host's /proc, one collection at a time.
 *
 * Cost is what matters on a busy node (1,000+ processes every 30 s), so the
 * files are read synchronously into one reused buffer (files.ts), in slices
 * of {@link SLICE} processes between which the event loop runs, and parsed
 * where they lie (parse.ts reads bytes). Each process has one record kept
 * across collections (proc.ts, by pid, renewed when its start time changes):
 * per collection a process costs one pread each of stat and (when it passes
 * the filters) status and io through descriptors kept open, and an fd count —
 * on procfs of Linux ≥ 6.2 the size of its `fd` directory (an fstat of a kept
 * descriptor), else a listing of it — and a pread of its cmdline (a process
 * may rewrite its title at any time, as nginx and postgres do: it is parsed
 * again only when its bytes change). The cgroup is read once per process (a
 * process stays in its container). Objects also read the working directory
 * (it can change), and with listen ports the process's sockets (ports.ts).
 *
 * A process may exit between any two reads, and some files are unreadable
 * (another user's io, hidepid): such processes are skipped and counted by
 * reason, a missing optional file only drops its fields. Nothing here throws
 * on a process's files.
 */
import fs from 'node:fs';
import type { HostPaths } from '../../agent/services/host/paths.js';
import { CMDLINE, denied, errCode, FD_DIR, IO, ProcFiles, STAT, STATUS } from './files.js';
import { containerIdFromCgroup, parseCmdline, parsePidIo, parsePidStat, parsePidStatus } from './parse.js';
import { listenPorts, type NetTables } from './ports.js';
import { HZ, Proc, type ProcInfo } from './proc.js';
import { HostFacts } from './system.js';

/** Processes read between two turns of the event loop. */
const SLICE = 128;

export type SkipReason = 'exited' | 'unreadable' | 'malformed';
/** Files whose absence only drops fields. */
export type PartialFile = 'io' | 'fd' | 'cwd' | 'net';

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

const yieldLoop = () => new Promise<void>((r) => setImmediate(r));

/** Whether the first `n` bytes of `a` and `b` are the same: a short command line is compared by a loop (cheaper than Buffer.compare's call). */
function sameBytes(a: Buffer, b: Buffer, n: number): boolean {
  if (n > 64) return a.compare(b, 0, n, 0, n) === 0;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class ProcReader {
  private procs = new Map<number, Proc>();
  private readonly files: ProcFiles;
  private readonly host: HostFacts;
  private mark = 0;
  /** Each loop's CpuSamples → its slot in every Proc's `prev`. */
  private slots = new WeakMap<CpuSamples, number>();
  private nSlots = 0;
  /** Scans run one at a time (the object and metric loops share the reader and its descriptors). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly paths: HostPaths) {
    this.files = new ProcFiles(paths.proc, () => this.procs.values());
    this.host = new HostFacts(paths, this.files);
  }

  /** How this reader counts open files: `size` of the fd directory (procfs, Linux ≥ 6.2) or a `listing` of it. */
  get fdCounting(): 'size' | 'listing' {
    return this.files.bySize ? 'size' : 'listing';
  }

  private slot(cpu: CpuSamples): number {
    let s = this.slots.get(cpu);
    if (s === undefined) {
      s = this.nSlots++ * 2;
      this.slots.set(cpu, s);
    }
    return s;
  }

  /** Closes every kept descriptor (the input stops). */
  close(): void {
    for (const e of this.procs.values()) this.files.closeHolder(e);
    this.procs.clear();
  }

  /** Forgets the processes whose pid was not in /proc at scan `mark`, closing their descriptors. */
  private sweep(mark: number): void {
    for (const [pid, e] of this.procs) {
      if (e.mark === mark) continue;
      this.files.closeHolder(e);
      this.procs.delete(pid);
    }
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
      n = this.files.readKept(e, STAT);
    } catch (err) {
      return denied(errCode(err)) ? 'unreadable' : 'exited';
    }
    if (!parsePidStat(this.files.buf, n, e.stat)) return 'malformed';
    if (e.stat.starttime !== e.start) {
      if (e.start !== -1) {
        // the pid now belongs to another process (its stat was read afresh): forget the old one's facts and descriptors
        this.files.close(e, STATUS);
        this.files.close(e, IO);
        this.files.close(e, FD_DIR);
        this.files.close(e, CMDLINE);
        e.renew();
      }
      e.start = e.stat.starttime;
    }
    return e;
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

  /**
   * The command line, read every collection (DataKit does: a process may
   * rewrite its title at any time) and parsed again only when its bytes
   * changed; the container id once per process. False when it has exited.
   */
  private load(e: Proc): boolean {
    let n: number | undefined;
    try {
      n = this.files.readKept(e, CMDLINE);
    } catch (err) {
      const code = errCode(err);
      if (code === 'ENOENT' || code === 'ESRCH') return false;
    }
    const buf = this.files.buf;
    if (n === undefined) {
      if (!e.loaded || e.hasCmdline) e.setCmdline(undefined, undefined);
    } else if (!e.loaded || e.cmdRaw === undefined || e.cmdRaw.length !== n || !sameBytes(buf, e.cmdRaw, n)) {
      e.setCmdline(parseCmdline(buf.toString('utf8', 0, n)), Buffer.from(buf.subarray(0, n)));
    }
    if (!e.loaded) {
      e.containerId = containerIdFromCgroup(this.files.text(`${this.paths.proc}/${e.pid}/cgroup`, 'latin1') ?? '');
      e.loaded = true;
      e.version++;
    }
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
    const btimeMs = this.host.bootTime() * 1000;
    const users = this.host.users();
    const memTotal = this.host.memTotal();
    const items: T[] = [];
    const mark = ++this.mark;
    const nets: NetTables | undefined = o.listenPorts ? new Map() : undefined;
    const files = this.files;
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
      if (!this.load(e)) {
        skipped.exited++;
        continue;
      }
      if (o.onlyContainer && e.containerId === '') continue;
      if (o.needCmdline && e.cmdline === '') continue;
      e.setComm(st.comm);
      if (o.match && !e.passes(o.match)) continue;
      let n: number;
      try {
        n = files.readKept(e, STATUS);
      } catch (err) {
        skipped[denied(errCode(err)) ? 'unreadable' : 'exited']++;
        continue;
      }
      const status = parsePidStatus(files.buf, n, e.status);
      if (!status) {
        skipped.malformed++;
        continue;
      }
      e.setUid(status.uid, users);
      e.io = undefined;
      try {
        e.io = parsePidIo(files.buf, files.readKept(e, IO), e.ioRec);
      } catch {
        /* another user's process without CAP_SYS_PTRACE: no io fields */
      }
      if (!e.io) partial.io++;
      // with listen ports the fd listing is read anyway: count it there
      const listing = nets ? files.fdList(e.pid, (e.fdPath ??= `${this.paths.proc}/${e.pid}/fd`)) : undefined;
      e.openFiles = listing ? listing.length : files.fdCount(e);
      if (e.openFiles === undefined) partial.fd++;
      if (before !== undefined && beforeAt !== undefined && now > beforeAt && ticks >= before) e.cpuUsage = (100 * 1000 * (ticks - before)) / HZ / (now - beforeAt);
      else e.cpuUsage = now > startMs ? (100 * 1000 * ticks) / HZ / (now - startMs) : 0; // started within the interval
      e.startMs = Math.round(startMs);
      e.cwd = undefined;
      if (o.cwd) {
        try {
          e.cwd = fs.readlinkSync((e.cwdPath ??= `${this.paths.proc}/${e.pid}/cwd`));
        } catch {
          partial.cwd++;
        }
      }
      e.listenPorts = undefined;
      if (nets) {
        e.listenPorts = listing && listenPorts(files, e.pid, listing, nets);
        if (e.listenPorts === undefined) partial.net++;
      }
      items.push(make(e, memTotal));
    }
    this.sweep(mark); // processes gone from /proc
    return { items, memTotal, skipped, partial };
  }
}
