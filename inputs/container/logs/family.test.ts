/**
 * listFamily under docker numbered rotation: `.k` → `.k+1` shifts that land
 * between a listing's readdir and its stats. A listing that straddles a shift
 * misses one generation (the stat of `.k` already sees `.k-1`'s file); the
 * tailer then skipped that whole generation (seen: z-8300..z-8699 lost in the
 * loaded rotation test). Here the shift is triggered from inside fs.stat, so
 * the interleaving is the same on every run.
 */
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { listFamily } from './family.js';
import { FileRoots } from '../../../agent/services/files/safe-open.js';

const dirs: string[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  for (const d of dirs.splice(0)) fsSync.rmSync(d, { recursive: true, force: true });
});

function dockerFamily(rotated: number): { live: string; shift(): void; gen: number } {
  const dir = fsSync.mkdtempSync(path.join(os.tmpdir(), 'fam-'));
  dirs.push(dir);
  const live = path.join(dir, 'abc-json.log');
  const state = { gen: 0, count: rotated };
  const write = () => fsSync.writeFileSync(live, `{"log":"generation ${state.gen++}\\n"}\n`);
  write();
  for (let i = 0; i < rotated; i++) {
    for (let k = i; k >= 1; k--) fsSync.renameSync(`${live}.${k}`, `${live}.${k + 1}`);
    fsSync.renameSync(live, `${live}.1`);
    write();
  }
  return {
    live,
    get gen() {
      return state.gen;
    },
    shift() {
      for (let k = state.count; k >= 1; k--) fsSync.renameSync(`${live}.${k}`, `${live}.${k + 1}`);
      fsSync.renameSync(live, `${live}.1`);
      state.count++;
      write();
    },
  };
}

describe('listFamily', () => {
  it('docker shifts between readdir and stat, many listings in a row: every generation listed, each with its own identity', async () => {
    const fam = dockerFamily(6);
    const realReaddir = fs.readdir.bind(fs);
    const realStat = fs.stat.bind(fs);
    let listings = 0;
    let statsInListing = 0;
    vi.spyOn(fs, 'readdir').mockImplementation(((p: string) => {
      listings++;
      statsInListing = 0;
      return realReaddir(p);
    }) as unknown as typeof fs.readdir);
    vi.spyOn(fs, 'stat').mockImplementation(((p: string) => {
      // The 8 first listings each see a rotation after their first stat (more than the old 5 retries).
      if (++statsInListing === 2 && listings <= 8) fam.shift();
      return realStat(p);
    }) as unknown as typeof fs.stat);
    const members = await listFamily(fam.live, new FileRoots({ roots: [path.dirname(fam.live)] }));
    // Every generation, oldest first, each path holding the file it was listed with.
    const gens = members.map((m) => /generation (\d+)/.exec(m.head.toString())?.[1]);
    expect(gens).toEqual(Array.from({ length: fam.gen }, (_, i) => String(i)));
    for (const m of members) expect(fsSync.statSync(m.path).ino).toBe(m.ino);
    expect(listings).toBeGreaterThan(8);
  });

  it('a quiet family is listed once more to confirm, oldest first, live last', async () => {
    const fam = dockerFamily(3);
    const members = await listFamily(fam.live, new FileRoots({ roots: [path.dirname(fam.live)] }));
    expect(members.map((m) => path.basename(m.path))).toEqual(['abc-json.log.3', 'abc-json.log.2', 'abc-json.log.1', 'abc-json.log']);
  });
});
