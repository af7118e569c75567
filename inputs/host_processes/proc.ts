/**
 * A process as the reader keeps it between collections ({@link Proc}: one
 * record per pid, renewed when its start time changes) and the view of it a
 * collection hands out ({@link ProcInfo}).
 */
import { newSlots, type Holder } from './files.js';
import { newPidIo, newPidStat, newPidStatus, type PidIo, type PidStat, type PidStatus } from './parse.js';

/** USER_HZ: the unit of /proc/<pid>/stat times; 100 on every Linux architecture in use. */
export const HZ = 100;

/** What a collection knows of a process. A view: valid only inside the scan's callback. */
export interface ProcInfo {
  readonly pid: number;
  /** The process name: `comm`, completed from the command line when the kernel cut it at 15 bytes. */
  readonly name: string;
  /** Arguments joined by spaces, empty ones left out ("" for kernel threads). */
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

/** A process as the reader keeps it between collections. */
export class Proc implements ProcInfo, Holder {
  /** stat's start time (ticks after boot) of the process these facts are about; -1 before the first read. */
  start = -1;
  /** Its kept descriptors (files.ts). */
  readonly fds = newSlots();
  /** The scan that last saw the pid in /proc. */
  mark = 0;
  /** The cgroup (container id) was read. */
  loaded = false;
  /** The bytes of /proc/<pid>/cmdline the fields below were made of (undefined: not read yet, or unreadable). */
  cmdRaw: Buffer | undefined;
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
  /** The paths of its working directory's link and fd directory, made once (the pid stays). */
  cwdPath: string | undefined;
  fdPath: string | undefined;

  constructor(readonly pid: number) {}

  /** The pid now belongs to another process: forget what was known of the old one (its descriptors are closed by the caller). */
  renew(): void {
    this.loaded = false;
    this.cmdRaw = undefined;
    this.hasCmdline = false;
    this.comm = '';
    this.uid = -1;
    this.users = undefined;
    this.matchFn = undefined;
    this.prev = [];
    this.version++;
  }

  /**
   * Sets the command line from its arguments (undefined: unreadable), as read
   * from `raw`; a new first argument makes the name be made again.
   */
  setCmdline(args: string[] | undefined, raw: Buffer | undefined): void {
    this.cmdRaw = raw;
    // gopsutil's Cmdline: the non-empty arguments (a rewritten title leaves NULs behind it) joined by spaces
    this.cmdline = args === undefined ? '' : args.filter((x) => x !== '').join(' ');
    this.hasCmdline = args !== undefined;
    const arg0 = args?.[0] ?? '';
    if (arg0 !== this.arg0) {
      this.arg0 = arg0;
      this.comm = ''; // the name is made again at the next setComm
    }
    this.version++;
  }

  /** Sets `comm` from stat and the name made of it; a new name drops the filter's answer. */
  setComm(comm: string): void {
    if (comm === this.comm) return;
    this.comm = comm;
    const name = fullName(comm, this.arg0);
    if (name !== this.name) {
      this.name = name;
      this.matchFn = undefined;
      this.version++;
    }
  }

  /** Sets the uid from status and the username it has in `users`. */
  setUid(uid: number, users: Map<number, string>): void {
    if (uid === this.uid && users === this.users) return;
    this.uid = uid;
    this.users = users;
    const username = users.get(uid) ?? 'nobody';
    if (username !== this.username) {
      this.username = username;
      this.version++;
    }
  }

  /** Whether the name passes `match` (asked once per name and filter). */
  passes(match: (name: string) => boolean): boolean {
    if (this.matchFn !== match) {
      this.matchFn = match;
      this.matched = match(this.name);
    }
    return this.matched;
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
