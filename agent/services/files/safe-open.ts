/**
 * Opening files on behalf of a workload, deciding on the opened descriptor.
 *
 * A directory a workload can write to (a pod's log directory, a container's
 * rootfs) can swap a file for a symlink at any moment, so a path checked
 * earlier proves nothing about the file opened later. {@link FileRoots.open}
 * therefore decides on the descriptor itself, at every open:
 *
 * 1. the path is opened with `O_PATH | O_NOFOLLOW` (Linux): a final symlink is
 *    not followed, and nothing is really opened yet (no FIFO blocks, no device
 *    driver sees an open);
 * 2. `fstat` on that descriptor: only a regular file goes on (a final symlink
 *    is refused, or with `symlinks: 'within-roots'` followed hop by hop, each
 *    hop opened the same way);
 * 3. `/proc/self/fd/N` is read: the file's real path must be under one of the
 *    roots (resolved with realpath);
 * 4. the file is reopened for reading through `/proc/self/fd/N`, which names
 *    exactly that inode (no path is resolved again), and the reopened
 *    descriptor must have the same device and inode.
 *
 * The caller gets an open {@link FileHandle} or a refusal with a reason from
 * a small fixed set (for a metric label) and a bounded detail (for a log).
 * Outside Linux (no O_PATH, no /proc) the file is opened with `O_NOFOLLOW`
 * and its path resolved with realpath: the same checks, without the
 * descriptor-exact path (development machines only).
 *
 * Reuse: any input that reads files a workload controls takes a FileRoots with
 * its roots (container log directories today; a container's rootfs for log
 * files inside containers, with `symlinks: 'refuse'`, since a symlink inside a
 * rootfs means a path in that container, not on the host).
 */
import fs from 'node:fs/promises';
import { constants as C, type Stats } from 'node:fs';
import path from 'node:path';

/** Why an open was refused: a fixed set, usable as a metric label. */
export type RefusalReason = 'symlink' | 'not_regular' | 'outside_roots' | 'too_many_links' | 'changed' | 'error';

export const REFUSAL_REASONS: readonly RefusalReason[] = ['symlink', 'not_regular', 'outside_roots', 'too_many_links', 'changed', 'error'];

export type SafeOpenResult =
  | { ok: true; handle: fs.FileHandle; stat: Stats; realPath: string }
  /** `missing`: the path does not exist (not a refusal: nothing is counted). */
  | { ok: false; reason: RefusalReason | 'missing'; detail: string };

export interface FileRootsOptions {
  /** Directories the files must really be in (after every symlink). Missing roots are ignored. */
  roots: readonly string[];
  /**
   * A final symlink: `refuse` (default) or `within-roots` (followed, at most
   * `maxHops` links, each opened without following; the file reached must be under the roots).
   */
  symlinks?: 'refuse' | 'within-roots';
  /** Links followed at most with `within-roots` (default 8). */
  maxHops?: number;
  /** Called on every refusal (not on `missing`): count it here. */
  onRefused?: (reason: RefusalReason, file: string, detail: string) => void;
}

/** `O_PATH` on Linux (x86, arm, arm64, riscv, …): not exported by node:fs. */
const O_PATH = 0o10000000;
const DETAIL_MAX = 300;

function bounded(s: string): string {
  return s.length <= DETAIL_MAX ? s : s.slice(0, DETAIL_MAX - 1) + '…';
}

/** True when `real` is `root` or inside it. Both are real (resolved) paths. */
export function isUnder(real: string, root: string): boolean {
  if (real === root) return true;
  return real.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

export class FileRoots {
  private resolved: string[] | undefined;
  private readonly useProc = process.platform === 'linux';

  constructor(readonly opts: FileRootsOptions) {}

  /** The roots, resolved (cached; `fresh` resolves them again, e.g. after a root was created or moved). */
  async realRoots(fresh = false): Promise<string[]> {
    if (this.resolved && !fresh) return this.resolved;
    const r = await Promise.all(this.opts.roots.map((p) => fs.realpath(p).catch(() => undefined)));
    this.resolved = r.filter((x): x is string => x !== undefined);
    return this.resolved;
  }

  /** True when the real path `real` is under a root (roots resolved again once before saying no). */
  async contains(real: string): Promise<boolean> {
    if ((await this.realRoots()).some((r) => isUnder(real, r))) return true;
    return (await this.realRoots(true)).some((r) => isUnder(real, r));
  }

  /**
   * Opens `file` for reading if, on the opened descriptor, it is a regular file
   * under the roots. The caller owns (and closes) the handle.
   */
  async open(file: string): Promise<SafeOpenResult> {
    const r = await this.tryOpen(file);
    if (!r.ok && r.reason !== 'missing') this.opts.onRefused?.(r.reason, file, r.detail);
    return r;
  }

  /** Reads a small file (at most `maxBytes`, else refused as `error`) through {@link open}. */
  async readSmall(file: string, maxBytes: number): Promise<Buffer | undefined> {
    const r = await this.open(file);
    if (!r.ok) return undefined;
    try {
      if (r.stat.size > maxBytes) {
        this.opts.onRefused?.('error', file, `larger than ${maxBytes} bytes`);
        return undefined;
      }
      const b = Buffer.alloc(r.stat.size);
      const { bytesRead } = await r.handle.read(b, 0, b.length, 0);
      return b.subarray(0, bytesRead);
    } finally {
      await r.handle.close().catch(() => undefined);
    }
  }

  private async tryOpen(file: string): Promise<SafeOpenResult> {
    const maxHops = this.opts.symlinks === 'within-roots' ? (this.opts.maxHops ?? 8) : 0;
    let p = file;
    for (let hop = 0; ; hop++) {
      let pathFd: fs.FileHandle;
      try {
        pathFd = await fs.open(p, this.useProc ? O_PATH | C.O_NOFOLLOW : C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return { ok: false, reason: 'missing', detail: bounded(`${p} does not exist`) };
        if (code === 'ELOOP' && !this.useProc) {
          // Without O_PATH, O_NOFOLLOW on a symlink fails with ELOOP.
          if (hop >= maxHops) return { ok: false, reason: maxHops === 0 ? 'symlink' : 'too_many_links', detail: bounded(`${p} is a symlink`) };
          p = path.resolve(path.dirname(p), await fs.readlink(p).catch(() => ''));
          continue;
        }
        return { ok: false, reason: 'error', detail: bounded(`${p}: ${code ?? (e as Error).message}`) };
      }
      let keep = false;
      try {
        const st = await pathFd.stat();
        if (st.isSymbolicLink()) {
          if (maxHops === 0) return { ok: false, reason: 'symlink', detail: bounded(`${p} is a symlink`) };
          if (hop >= maxHops) return { ok: false, reason: 'too_many_links', detail: bounded(`${file}: more than ${maxHops} symlinks`) };
          // Only picks the next path to open; every check is made on the descriptor reached.
          const target = await fs.readlink(p).catch(() => undefined);
          if (target === undefined) return { ok: false, reason: 'changed', detail: bounded(`${p} changed while opened`) };
          p = path.resolve(path.dirname(p), target);
          continue;
        }
        if (!st.isFile()) return { ok: false, reason: 'not_regular', detail: bounded(`${p} is not a regular file`) };
        let real: string;
        try {
          real = this.useProc ? await fs.readlink(`/proc/self/fd/${pathFd.fd}`) : await fs.realpath(p);
        } catch (e) {
          return { ok: false, reason: 'error', detail: bounded(`${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`) };
        }
        if (real.endsWith(' (deleted)')) real = real.slice(0, -' (deleted)'.length);
        if (!(await this.contains(real))) return { ok: false, reason: 'outside_roots', detail: bounded(`${file} resolves to ${real}, outside ${this.opts.roots.join(', ')}`) };
        if (!this.useProc) {
          keep = true;
          return { ok: true, handle: pathFd, stat: st, realPath: real };
        }
        // Reopen exactly this inode for reading: the magic link is not a path resolved again.
        let fh: fs.FileHandle;
        try {
          fh = await fs.open(`/proc/self/fd/${pathFd.fd}`, C.O_RDONLY | C.O_NONBLOCK);
        } catch (e) {
          return { ok: false, reason: 'error', detail: bounded(`${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`) };
        }
        const st2 = await fh.stat().catch(() => undefined);
        if (!st2 || st2.dev !== st.dev || st2.ino !== st.ino || !st2.isFile()) {
          await fh.close().catch(() => undefined);
          return { ok: false, reason: 'changed', detail: bounded(`${p} changed while opened`) };
        }
        return { ok: true, handle: fh, stat: st2, realPath: real };
      } finally {
        if (!keep) await pathFd.close().catch(() => undefined);
      }
    }
  }
}
