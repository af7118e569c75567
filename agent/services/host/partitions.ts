/**
 * Which mounts the disk (and hostobject) inputs report, and their usage via
 * statfs. Mount points are the host's (from the host's PID 1 mountinfo) and are
 * resolved under the host root for statfs.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { underRoot, type HostPaths } from './paths.js';
import { readOptional, withTimeout } from './periodic.js';
import { parseFilesystems, parseMountinfo, type Mount } from './procfs.js';

export interface PartitionFilter {
  only_physical_device: boolean;
  merge_on_device: boolean;
  extra_device: readonly string[];
  exclude_device: readonly string[];
  ignore_fstypes?: string;
  ignore_mountpoints?: string;
}

export interface Usage {
  total: number;
  free: number;
  used: number;
  usedPercent: number;
  inodesTotal: number;
  inodesFree: number;
  inodesUsed: number;
  inodesUsedPercent: number;
}

/** Reads the host's mount table: PID 1's view when readable, else our own. */
export async function readMounts(paths: HostPaths): Promise<Mount[]> {
  const text =
    (await readOptional(path.join(paths.proc, '1', 'mountinfo'))) ??
    (await readOptional(path.join(paths.proc, 'self', 'mountinfo')));
  if (text === undefined) throw new Error(`cannot read mountinfo under ${paths.proc}`);
  return parseMountinfo(text);
}

export async function physicalFstypes(paths: HostPaths): Promise<Set<string>> {
  return parseFilesystems((await readOptional(path.join(paths.proc, 'filesystems'))) ?? '');
}

/** The DataKit selection rules, in order. Pure: tested with fixtures. */
export function selectMounts(mounts: Mount[], f: PartitionFilter, physical: Set<string>): Mount[] {
  const eq = (a: string, list: readonly string[]) => list.some((x) => x.toLowerCase() === a.toLowerCase());
  const ignFs = f.ignore_fstypes ? new RegExp(f.ignore_fstypes) : undefined;
  const ignMp = f.ignore_mountpoints ? new RegExp(f.ignore_mountpoints) : undefined;
  const seen = new Set<string>();
  const out: Mount[] = [];
  for (const m of [...mounts].sort((a, b) => (a.mountPoint < b.mountPoint ? -1 : a.mountPoint > b.mountPoint ? 1 : 0))) {
    if (f.only_physical_device && !physical.has(m.fstype)) continue;
    if (!m.device.startsWith('/dev/') && !eq(m.device, f.extra_device)) continue;
    if (eq(m.device, f.exclude_device)) continue;
    if (ignFs?.test(m.fstype) || ignMp?.test(m.mountPoint)) continue;
    if (f.merge_on_device) {
      if (seen.has(m.device)) continue;
      seen.add(m.device);
    }
    out.push(m);
  }
  return out;
}

export async function usage(paths: HostPaths, mountPoint: string): Promise<Usage> {
  const s = await withTimeout(fs.statfs(underRoot(paths, mountPoint)), 5000, `statfs ${mountPoint}`);
  const total = s.blocks * s.bsize;
  const free = s.bavail * s.bsize;
  const used = (s.blocks - s.bfree) * s.bsize;
  const inodesUsed = s.files - s.ffree;
  return {
    total,
    free,
    used,
    usedPercent: used + free > 0 ? (100 * used) / (used + free) : 0,
    inodesTotal: s.files,
    inodesFree: s.ffree,
    inodesUsed,
    inodesUsedPercent: s.files > 0 ? (100 * inodesUsed) / s.files : 0,
  };
}
