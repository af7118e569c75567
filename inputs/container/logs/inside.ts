/**
 * Log files inside containers (`datakit/logs` entries with `"type": "file"`):
 * where a path inside a container is on the node, and which files a glob
 * matches there, without ever leaving that container's files.
 *
 * - {@link resolveInside}: a path under one of the container's
 *   `emptyDir` volume mounts is read from the volume's directory under the
 *   kubelet's pods directory; any other path from the container's root
 *   filesystem as the runtime exposes it (containerd's task `rootfs`; docker's
 *   and CRI-O's overlay `merged` directory, found by rootfs.ts in the
 *   runtime's own id → layer map: the only I/O here). The
 *   result is a root directory (owned by the kubelet or the runtime, never by
 *   the workload) and a glob relative to it. A `..` segment, a relative path,
 *   a mount of another volume kind or an unsupported runtime is refused with a
 *   reason.
 * - {@link globInside}: lists directories from the root down, matching each
 *   segment with picomatch on the names readdir returns, and never descends
 *   through a symlinked directory (refused, reported). Matched files are
 *   opened later through `FileRoots` with the root as its only root and
 *   symlinks refused, which decides on the descriptor at every open.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';
import type { ContainerInfo, PodInfo } from '../../../agent/services/k8s/types.js';
import type { RuntimeRootfs } from './rootfs.js';

/** Why a file entry's path is not read: a fixed set, a metric label. */
export type PathRefusal = 'climbs_out' | 'relative' | 'too_long' | 'volume_unsupported' | 'runtime_unsupported' | 'bad_id' | 'symlink_dir' | 'too_many_files' | 'too_many_entries';

export const PATH_REFUSALS: readonly PathRefusal[] = ['climbs_out', 'relative', 'too_long', 'volume_unsupported', 'runtime_unsupported', 'bad_id', 'symlink_dir', 'too_many_files', 'too_many_entries'];

/** Longest entry path accepted (Linux's PATH_MAX); also bounds what picomatch compiles. */
export const MAX_PATH_LEN = 4096;

export interface InsideDirs {
  /** containerd's task directory of the k8s.io namespace: `<dir>/<container id>/rootfs` is a container's root. */
  containerdTaskDir: string;
  /** The kubelet's pods directory: `<dir>/<pod uid>/volumes/kubernetes.io~empty-dir/<volume>`. */
  kubeletPodsDir: string;
  /** docker's and CRI-O's container roots; without it, their containers' filesystems are not read. */
  layered?: Pick<RuntimeRootfs, 'rootOf'>;
}

export type Resolved =
  | { ok: true; kind: 'rootfs' | 'volume'; root: string; glob: string; /** The container directory `root` stands for. */ insideRoot: string }
  | { ok: false; reason: PathRefusal; detail: string }
  /** The container has no id yet (not started): nothing to read, nothing refused. */
  | { ok: false; reason: 'not_started'; detail: string };

const ID_RE = /^[A-Za-z0-9]+$/;
const UID_RE = /^[A-Za-z0-9-]+$/;
const NAME_RE = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;

/** The segments of an absolute container path; undefined when one is `..`. */
function segments(p: string): string[] | undefined {
  const out: string[] = [];
  for (const s of p.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') return undefined;
    out.push(s);
  }
  return out;
}

/** `a` is `b` or a directory above it (segment-wise). */
function startsWith(a: string[], prefix: string[]): boolean {
  return prefix.length <= a.length && prefix.every((s, i) => a[i] === s);
}

/** Where a file entry's path (a glob inside the container) is on the node. */
export function resolveInside(entryPath: string, pod: Pick<PodInfo, 'uid' | 'volumes'>, c: Pick<ContainerInfo, 'id' | 'runtime' | 'mounts'>, dirs: InsideDirs): Resolved {
  if (entryPath.length > MAX_PATH_LEN || entryPath.includes('\0')) return { ok: false, reason: 'too_long', detail: `a path of ${entryPath.length} characters (at most ${MAX_PATH_LEN}, no NUL)` };
  if (!entryPath.startsWith('/')) return { ok: false, reason: 'relative', detail: `${entryPath} is not an absolute path inside the container` };
  const segs = segments(entryPath);
  if (!segs || segs.length === 0) return { ok: false, reason: 'climbs_out', detail: `${entryPath} climbs out of the container (..)` };
  // The deepest mount the path is under, as the container sees it.
  let best: { segs: string[]; name: string; subPath: string; expr: boolean } | undefined;
  for (const m of c.mounts ?? []) {
    const ms = segments(m.mountPath);
    if (!ms || !startsWith(segs, ms) || (best && best.segs.length >= ms.length)) continue;
    best = { segs: ms, name: m.name, subPath: m.subPath, expr: m.subPathExpr === true };
  }
  if (best) {
    const vol = pod.volumes?.find((v) => v.name === best.name);
    if (vol?.kind !== 'emptyDir' || best.expr) {
      return { ok: false, reason: 'volume_unsupported', detail: `${entryPath} is on volume ${best.name} (${best.expr ? 'subPathExpr' : (vol?.kind ?? 'unknown')}): only emptyDir volumes and the container's own filesystem are read` };
    }
    if (!UID_RE.test(pod.uid) || !NAME_RE.test(best.name)) return { ok: false, reason: 'bad_id', detail: `pod uid ${pod.uid} or volume ${best.name} is not a plain name` };
    const sub = best.subPath === '' ? [] : segments(best.subPath);
    if (!sub || best.subPath.startsWith('/')) return { ok: false, reason: 'climbs_out', detail: `subPath ${best.subPath} of volume ${best.name} climbs out` };
    // The volume's directory is the root: a subPath is walked like the rest (no symlinked directory on the way).
    const root = path.join(dirs.kubeletPodsDir, pod.uid, 'volumes', 'kubernetes.io~empty-dir', best.name);
    return { ok: true, kind: 'volume', root, glob: [...sub, ...segs.slice(best.segs.length)].join('/'), insideRoot: '/' + best.segs.join('/') };
  }
  if (!c.id) return { ok: false, reason: 'not_started', detail: 'the container has no id yet' };
  const layered = (c.runtime === 'docker' || c.runtime === 'cri-o') && dirs.layered !== undefined;
  if (c.runtime !== 'containerd' && !layered) {
    return { ok: false, reason: 'runtime_unsupported', detail: `${entryPath}: the root filesystem of ${c.runtime || 'unknown'} containers is not read; mount an emptyDir volume at the log directory` };
  }
  if (!ID_RE.test(c.id)) return { ok: false, reason: 'bad_id', detail: `container id ${c.id} is not a plain id` };
  if (c.runtime === 'containerd') return { ok: true, kind: 'rootfs', root: path.join(dirs.containerdTaskDir, c.id, 'rootfs'), glob: segs.join('/'), insideRoot: '/' };
  const r = dirs.layered!.rootOf(c.runtime, c.id);
  if (!r.ok) return { ok: false, reason: 'runtime_unsupported', detail: `${entryPath}: ${r.detail}; mount an emptyDir volume at the log directory` };
  return { ok: true, kind: 'rootfs', root: r.root, glob: segs.join('/'), insideRoot: '/' };
}

export interface GlobResult {
  /** Matched entries (regular files or final symlinks: the open decides on those), sorted. */
  files: string[];
  /** Directories not descended into, with the reason. */
  refused: { path: string; reason: PathRefusal }[];
}

/** Directories listed at most per walk (a `**` over a large tree stops there). */
const MAX_DIRS = 2000;
/** Depth a `**` segment descends at most. */
const MAX_STAR_DEPTH = 8;

/**
 * The files under `root` matching `glob` (relative, `/`-separated), found by
 * listing directories with readdir and matching names with picomatch; a
 * symlinked directory is never followed (reported as `symlink_dir`). At most
 * `maxFiles` files.
 */
export async function globInside(root: string, glob: string, maxFiles: number): Promise<GlobResult> {
  const segs = glob.split('/').filter((s) => s !== '');
  const out: GlobResult = { files: [], refused: [] };
  let listed = 0;
  const list = async (dir: string) => {
    if (++listed > MAX_DIRS) return [];
    return fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  };
  const walk = async (dir: string, i: number, starDepth: number): Promise<void> => {
    if (out.files.length >= maxFiles) return;
    const seg = segs[i]!;
    const last = i === segs.length - 1;
    if (seg === '**') {
      // Zero directories, then one more level (bounded).
      if (!last) await walk(dir, i + 1, starDepth);
      if (starDepth >= MAX_STAR_DEPTH) return;
      for (const d of await list(dir)) {
        const p = path.join(dir, d.name);
        if (d.isSymbolicLink()) {
          // Reported only when it leads to a directory (stat is information here, nothing is opened).
          if ((await fs.stat(p).catch(() => undefined))?.isDirectory()) out.refused.push({ path: p, reason: 'symlink_dir' });
        } else if (d.isDirectory()) await walk(p, i, starDepth + 1);
        else if (last && d.isFile() && out.files.length < maxFiles) out.files.push(p);
      }
      return;
    }
    const scan = picomatch.scan(seg);
    let entries: { name: string; isDirectory(): boolean; isFile(): boolean; isSymbolicLink(): boolean }[];
    if (scan.isGlob) {
      const match = picomatch(seg, { dot: false });
      entries = (await list(dir)).filter((d) => match(d.name));
    } else {
      const st = await fs.lstat(path.join(dir, seg)).catch(() => undefined);
      entries = st ? [{ name: seg, isDirectory: () => st.isDirectory(), isFile: () => st.isFile(), isSymbolicLink: () => st.isSymbolicLink() }] : [];
    }
    for (const d of entries) {
      const p = path.join(dir, d.name);
      if (last) {
        if (d.isDirectory()) continue;
        if (out.files.length >= maxFiles) {
          out.refused.push({ path: p, reason: 'too_many_files' });
          return;
        }
        out.files.push(p); // a final symlink goes on: the descriptor-based open refuses and counts it
      } else if (d.isSymbolicLink()) {
        if ((await fs.stat(p).catch(() => undefined))?.isDirectory()) out.refused.push({ path: p, reason: 'symlink_dir' });
      } else if (d.isDirectory()) {
        await walk(p, i + 1, starDepth);
      }
    }
  };
  if (segs.length > 0) await walk(root, 0, 0);
  out.files.sort();
  return out;
}

/** The container path of a file found under a resolved root (for the `filepath` field). */
export function insidePath(r: { root: string; insideRoot: string }, hostFile: string): string {
  const rel = path.relative(r.root, hostFile);
  return path.posix.join(r.insideRoot, rel.split(path.sep).join('/'));
}
