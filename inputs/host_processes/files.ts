/**
 * The reader's access to procfs files: one reused buffer (sync reads: an
 * async read costs several times the CPU of the read itself), whole small
 * files read by path, and per process up to five descriptors kept open across
 * collections — its `stat`, `status`, `io` and `cmdline` (re-read with one
 * `pread` at offset 0: procfs regenerates the text) and its `fd` directory
 * (fstat'ed: on procfs of Linux ≥ 6.2 its size is the number of open descriptors).
 *
 * A descriptor of a process that has exited fails (ESRCH), also when its pid
 * was reused: it is closed and the path opened again. At most a quarter of the
 * agent's soft RLIMIT_NOFILE (and 16,000) descriptors are kept; beyond, files
 * are opened by path. Errors are thrown as a {@link FileError} with the errno code.
 */
import fs from 'node:fs';
import path from 'node:path';

/** procfs's f_type (statfs). */
const PROC_SUPER_MAGIC = 0x9fa0;
/** The descriptors kept per process: its stat, status, io and cmdline files, and its fd directory (fstat'ed for the count). */
export const STAT = 0;
export const STATUS = 1;
export const IO = 2;
export const FD_DIR = 3;
export const CMDLINE = 4;
export type Kept = typeof STAT | typeof STATUS | typeof IO | typeof FD_DIR | typeof CMDLINE;
/** Files read through {@link ProcFiles.readKept}. */
export type KeptFile = typeof STAT | typeof STATUS | typeof IO | typeof CMDLINE;
const KEPT_NAMES = ['stat', 'status', 'io', 'fd', 'cmdline'] as const;
const N_KEPT = KEPT_NAMES.length;
/** A kept slot without a descriptor: not opened (yet), or refused for this process (io and fd of another user's process; retried when the pid is reused). */
export const NONE = -1;
const DENIED = -2;

/** What holds a process's kept descriptors: its pid and a slot per {@link Kept} file. */
export interface Holder {
  readonly pid: number;
  readonly fds: number[];
  /** The path of its fd directory, made once (a path made per call costs its concatenation and flattening each time). */
  fdPath?: string;
}

export const newSlots = (): number[] => new Array<number>(N_KEPT).fill(NONE);

export class FileError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

export const errCode = (e: unknown): string => (e instanceof FileError ? e.code : ((e as NodeJS.ErrnoException).code ?? 'EIO'));
export const denied = (code: string): boolean => code === 'EACCES' || code === 'EPERM';

/**
 * How many descriptors may stay open for re-reading: a quarter of the agent's
 * soft RLIMIT_NOFILE (its own /proc/self/limits), at most 16,000 (5 per process for 3,200 processes).
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

export class ProcFiles {
  /** The last file read lies here, from 0 to the length the read returned (parse.ts parses it in place). */
  buf = Buffer.allocUnsafe(16 * 1024);
  readonly bySize: boolean;
  private nKept = 0;
  private budget = keptFdBudget();

  /** `proc`: the /proc tree; `all`: every holder with kept descriptors (closed when descriptors run out). */
  constructor(
    readonly proc: string,
    private readonly all: () => Iterable<Holder>,
  ) {
    this.bySize = fdCountBySize(proc);
  }

  /** Reads a whole small file by path into the buffer; returns its length. Throws a FileError with the errno code. */
  read(file: string): number {
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

  /** A whole small file's text, or undefined when it cannot be read. */
  text(file: string, enc: 'latin1' | 'utf8'): string | undefined {
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

  /** Closes one kept descriptor of `h`. */
  close(h: Holder, which: Kept): void {
    const fd = h.fds[which]!;
    if (fd >= 0) {
      fs.closeSync(fd);
      this.nKept--;
    }
    h.fds[which] = NONE;
  }

  /** Closes every kept descriptor of `h`. */
  closeHolder(h: Holder): void {
    for (let k = 0; k < N_KEPT; k++) this.close(h, k as Kept);
  }

  /** Opens a kept descriptor, or returns undefined when over the budget (read by path then). Throws a FileError. */
  private openKept(h: Holder, which: Kept): number | undefined {
    if (this.nKept >= this.budget) return undefined;
    const file = `${this.proc}/${h.pid}/${KEPT_NAMES[which]}`;
    let fd: number;
    try {
      fd = fs.openSync(file, which === FD_DIR ? fs.constants.O_RDONLY | fs.constants.O_DIRECTORY : 'r');
    } catch (err) {
      const code = errCode(err);
      if (code === 'EMFILE' || code === 'ENFILE') {
        this.budget = 0; // out of descriptors: stop keeping any
        for (const o of this.all()) this.closeHolder(o);
        return undefined;
      }
      if (denied(code) && (which === IO || which === FD_DIR)) h.fds[which] = DENIED;
      throw new FileError(code);
    }
    h.fds[which] = fd;
    this.nKept++;
    return fd;
  }

  /**
   * Reads /proc/<pid>/<stat|status|io|cmdline> into the buffer through a
   * descriptor kept open across collections; returns the length. Throws a FileError.
   */
  readKept(h: Holder, which: KeptFile): number {
    const old = h.fds[which]!;
    if (old >= 0) {
      try {
        return this.pread(old);
      } catch {
        this.close(h, which);
      }
    } else if (old === DENIED) throw new FileError('EACCES');
    const fd = this.openKept(h, which);
    if (fd === undefined) return this.read(`${this.proc}/${h.pid}/${KEPT_NAMES[which]}`);
    try {
      return this.pread(fd);
    } catch (err) {
      this.close(h, which);
      throw new FileError(errCode(err));
    }
  }

  /** The number of the process's open descriptors, or undefined when it cannot be known. */
  fdCount(h: Holder): number | undefined {
    if (!this.bySize) return this.fdList(h.pid, (h.fdPath ??= `${this.proc}/${h.pid}/fd`))?.length;
    // Linux ≥ 6.2 reports the number of open fds as the size of /proc/<pid>/fd.
    const fd = h.fds[FD_DIR]!;
    if (fd >= 0) {
      try {
        return fs.fstatSync(fd).size;
      } catch {
        this.close(h, FD_DIR); // exited
      }
    }
    if (fd !== DENIED) {
      try {
        const kept = this.openKept(h, FD_DIR);
        if (kept !== undefined) return fs.fstatSync(kept).size;
      } catch (err) {
        if (!denied(errCode(err))) return undefined; // exited
      }
    }
    try {
      return fs.statSync(`${this.proc}/${h.pid}/fd`).size; // stat needs no permission on the directory
    } catch {
      return undefined;
    }
  }

  /** The names in the process's fd directory (at `dir`, when the caller keeps its path), or undefined when it cannot be listed. */
  fdList(pid: number, dir = `${this.proc}/${pid}/fd`): string[] | undefined {
    try {
      return fs.readdirSync(dir);
    } catch {
      return undefined;
    }
  }
}
