/**
 * A log file's family: the live file (`0.log`, `<id>-json.log`) and its rotated
 * siblings (`0.log.20240501-102030`, `.gz`, `<id>-json.log.1`), ordered oldest
 * first, with each member's identity (device, inode, fingerprint).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { createReadStream } from 'node:fs';

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

export async function readHead(p: string, gz: boolean): Promise<Buffer> {
  if (!gz) {
    const fh = await fs.open(p, 'r');
    try {
      const b = Buffer.alloc(FP_LEN);
      const { bytesRead } = await fh.read(b, 0, FP_LEN, 0);
      return b.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  }
  const chunks: Buffer[] = [];
  let n = 0;
  const s = createReadStream(p).pipe(zlib.createGunzip());
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
  }
  return Buffer.concat(chunks).subarray(0, FP_LEN);
}

/**
 * The rotated siblings of `live` (oldest first), then `live` itself when it
 * exists. Listed until two listings agree (names → inodes), so a rotation that
 * renames several files (docker's `.1` → `.2` shift) is not seen half done.
 */
export async function listFamily(live: string): Promise<Member[]> {
  let prev = await listOnce(live);
  for (let i = 0; i < 5; i++) {
    const next = await listOnce(live);
    const same = next.length === prev.length && next.every((m, k) => m.path === prev[k]!.path && m.ino === prev[k]!.ino && m.size >= prev[k]!.size);
    if (same) return next;
    prev = next;
  }
  return prev;
}

async function listOnce(live: string): Promise<Member[]> {
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
  const out: Member[] = [];
  for (const p of [...rotated, live]) {
    try {
      const st = await fs.stat(p);
      if (!st.isFile()) continue;
      const gz = p.endsWith('.gz');
      out.push({ path: p, gz, dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, head: await readHead(p, gz) });
    } catch {
      // Vanished between readdir and stat: ignore.
    }
  }
  return out;
}

/** True when `head` starts with the saved fingerprint. */
export function fpMatches(head: Buffer, fp: string, fpLen: number): boolean {
  if (head.length < fpLen) return false;
  return head.subarray(0, fpLen).toString('base64') === fp;
}
