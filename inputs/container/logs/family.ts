/**
 * A log file's family: the live file (`0.log`, `<id>-json.log`) and its rotated
 * siblings (`0.log.20240501-102030`, `.gz`, `<id>-json.log.1`), ordered oldest
 * first, with each member's identity (device, inode, fingerprint).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import type { FileRoots } from '../../../agent/services/files/safe-open.js';

/** Bytes of a file's start that identify it beside device and inode. */
export const FP_LEN = 128;

export interface Member {
  path: string;
  gz: boolean;
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  /** First min(FP_LEN, size) bytes (decompressed for gz). */
  head: Buffer;
}

/** Rotated siblings sort by suffix: numeric suffixes (docker `.1` newest) descending, timestamps ascending. */
function rotationKey(live: string, p: string): [number, string] {
  let suffix = path.basename(p).slice(path.basename(live).length + 1);
  if (suffix.endsWith('.gz')) suffix = suffix.slice(0, -3);
  return /^\d+$/.test(suffix) ? [-Number(suffix), ''] : [0, suffix];
}

/** The first FP_LEN decompressed bytes of a gzipped file, from an open handle (left open). */
async function gzHead(fh: fs.FileHandle): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  const file = fh.createReadStream({ start: 0, autoClose: false });
  const s = file.pipe(zlib.createGunzip());
  try {
    for await (const c of s as AsyncIterable<Buffer>) {
      chunks.push(c);
      n += c.length;
      if (n >= FP_LEN) break;
    }
  } catch {
    // A truncated gzip still yields what it had.
  } finally {
    s.destroy();
    file.destroy();
  }
  return Buffer.concat(chunks).subarray(0, FP_LEN);
}

async function plainHead(fh: fs.FileHandle): Promise<Buffer> {
  const b = Buffer.alloc(FP_LEN);
  const { bytesRead } = await fh.read(b, 0, FP_LEN, 0);
  return b.subarray(0, bytesRead);
}

/** How long listFamily keeps listing a family that changes under it before it takes the last listing. */
const LIST_STABLE_MS = 3000;

/**
 * The rotated siblings of `live` (oldest first), then `live` itself when it
 * exists. Listed until two listings agree (names → inodes), so a rotation that
 * renames several files (docker's `.1` → `.2` shift) is not seen half done:
 * a listing whose stats straddle a shift misses one generation (the stat of
 * `.k` already sees `.k-1`'s file), and readers would skip it. Each listing
 * stats its members concurrently so that it is short next to the rotation
 * period, and it keeps trying (for a bounded time) while the family changes.
 */
export async function listFamily(live: string, files: FileRoots): Promise<Member[]> {
  let prev = await listOnce(live, files);
  const deadline = Date.now() + LIST_STABLE_MS;
  while (Date.now() < deadline) {
    const next = await listOnce(live, files);
    const same = next.length === prev.length && next.every((m, k) => m.path === prev[k]!.path && m.dev === prev[k]!.dev && m.ino === prev[k]!.ino && m.size >= prev[k]!.size);
    if (same) return next;
    prev = next;
  }
  return prev;
}

async function listOnce(live: string, files: FileRoots): Promise<Member[]> {
  const dir = path.dirname(live);
  const base = path.basename(live);
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return [];
  }
  const rotated = names
    .filter((n) => n.startsWith(base + '.') && !n.endsWith('.tmp'))
    .map((n) => path.join(dir, n))
    .sort((a, b) => {
      const [x1, y1] = rotationKey(live, a);
      const [x2, y2] = rotationKey(live, b);
      return x1 - x2 || (y1 < y2 ? -1 : y1 > y2 ? 1 : 0);
    });
  // Concurrently: a listing much shorter than the rotation period rarely straddles a shift.
  const listed = await Promise.all([...rotated, live].map((p) => member(p, files).catch(() => undefined)));
  return listed.filter((m): m is Member => m !== undefined);
}

/**
 * One member; undefined when it vanished or was refused. Identity and head
 * come from one descriptor, opened through the roots check (a sibling that is
 * a symlink out of the roots, a FIFO or a directory is never read).
 */
async function member(p: string, files: FileRoots): Promise<Member | undefined> {
  const gz = p.endsWith('.gz');
  const st0 = await fs.stat(p);
  if (!st0.isFile()) return undefined; // quick skip; the decision is made on the descriptor below
  const r = await files.open(p);
  if (!r.ok) return undefined;
  const fh = r.handle;
  try {
    const st = r.stat;
    return { path: p, gz, dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, head: gz ? await gzHead(fh) : await plainHead(fh) };
  } finally {
    await fh.close().catch(() => {});
  }
}

/** True when `head` starts with the saved fingerprint. */
export function fpMatches(head: Buffer, fp: string, fpLen: number): boolean {
  if (head.length < fpLen) return false;
  return head.subarray(0, fpLen).toString('base64') === fp;
}
