import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { FileRoots, type RefusalReason } from './safe-open.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function layout() {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'safe-open-')));
  dirs.push(base);
  const root = path.join(base, 'root');
  const other = path.join(base, 'other-root');
  const outside = path.join(base, 'outside');
  for (const d of [root, other, outside]) fs.mkdirSync(d);
  fs.writeFileSync(path.join(root, 'a.log'), 'in root\n');
  fs.writeFileSync(path.join(other, 'b.log'), 'in other root\n');
  fs.writeFileSync(path.join(outside, 'secret'), 'secret\n');
  fs.symlinkSync(path.join(outside, 'secret'), path.join(root, 'out.log'));
  fs.symlinkSync(path.join(other, 'b.log'), path.join(root, 'between.log'));
  fs.symlinkSync(outside, path.join(root, 'dir.log'));
  fs.symlinkSync('loop.log', path.join(root, 'loop.log'));
  fs.mkdirSync(path.join(root, 'sub'));
  fs.symlinkSync(outside, path.join(root, 'sub', 'escape')); // a directory component pointing out
  return { base, root, other, outside };
}

describe('FileRoots.open', () => {
  it('opens regular files under the roots and refuses the rest with a reason', async () => {
    const { root, other } = layout();
    execFileSync('mkfifo', [path.join(root, 'fifo.log')]);
    const refusals: RefusalReason[] = [];
    const follow = new FileRoots({ roots: [root, other], symlinks: 'within-roots', onRefused: (r) => refusals.push(r) });
    const strict = new FileRoots({ roots: [root, other] });
    const read = async (f: FileRoots, name: string) => {
      const r = await f.open(path.join(root, name));
      if (!r.ok) return r.reason;
      const text = await r.handle.readFile('utf8');
      await r.handle.close();
      return text;
    };
    expect(await read(follow, 'a.log')).toBe('in root\n');
    expect(await read(follow, 'between.log')).toBe('in other root\n');
    expect(await read(strict, 'between.log')).toBe('symlink');
    expect(await read(follow, 'out.log')).toBe('outside_roots');
    expect(await read(follow, 'dir.log')).toBe('not_regular');
    expect(await read(follow, 'fifo.log')).toBe('not_regular'); // and did not block on the FIFO
    expect(await read(follow, 'loop.log')).toBe('too_many_links');
    expect(await read(follow, 'sub/escape/secret')).toBe('outside_roots');
    expect(await read(follow, 'missing.log')).toBe('missing');
    expect(refusals).toEqual(['outside_roots', 'not_regular', 'not_regular', 'too_many_links', 'outside_roots']);
  });

  it('does not take a sibling folder with the same prefix for a root; readSmall caps the size', async () => {
    const { base, root } = layout();
    fs.mkdirSync(path.join(base, 'root-evil'));
    fs.writeFileSync(path.join(base, 'root-evil', 'x'), 'x');
    const f = new FileRoots({ roots: [root], symlinks: 'within-roots' });
    fs.symlinkSync(path.join(base, 'root-evil', 'x'), path.join(root, 'x.log'));
    expect((await f.open(path.join(root, 'x.log'))).ok).toBe(false);
    expect((await f.readSmall(path.join(root, 'a.log'), 100))?.toString()).toBe('in root\n');
    expect(await f.readSmall(path.join(root, 'a.log'), 3)).toBeUndefined();
  });
});
