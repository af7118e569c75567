import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { keepUnderRoots, type LogTarget } from './discovery.js';
import { FileRoots } from '../../../agent/services/files/safe-open.js';

const target = (live: string) => ({ live }) as LogTarget;

describe('keepUnderRoots', () => {
  it('keeps files under the roots, and links between the roots; refuses links leaving them', async () => {
    const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'roots-')));
    const pods = path.join(base, 'pods');
    const docker = path.join(base, 'docker');
    const outside = path.join(base, 'etc');
    for (const d of [path.join(pods, 'ns_p_u', 'c'), path.join(docker, 'abc'), outside]) fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(docker, 'abc', 'abc-json.log'), '');
    fs.writeFileSync(path.join(outside, 'shadow'), '');
    fs.writeFileSync(path.join(pods, 'ns_p_u', 'c', '0.log'), '');
    fs.symlinkSync(path.join(docker, 'abc', 'abc-json.log'), path.join(pods, 'ns_p_u', 'c', '1.log'));
    fs.symlinkSync(path.join(outside, 'shadow'), path.join(pods, 'ns_p_u', 'c', '2.log'));
    fs.symlinkSync(path.join(base, 'pods-sibling'), path.join(pods, 'dangling'));
    const refused: string[] = [];
    const kept = await keepUnderRoots(
      ['0.log', '1.log', '2.log'].map((f) => target(path.join(pods, 'ns_p_u', 'c', f))).concat(target(path.join(pods, 'dangling'))),
      new FileRoots({ roots: [pods, docker], symlinks: 'within-roots' }),
      (t) => refused.push(path.basename(t.live)),
    );
    expect(kept.map((t) => path.basename(t.live))).toEqual(['0.log', '1.log']);
    expect(refused).toEqual(['2.log']);
  });

  it('does not take a sibling folder with the same prefix for the root', async () => {
    const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'roots-')));
    fs.mkdirSync(path.join(base, 'pods'));
    fs.mkdirSync(path.join(base, 'pods-evil'));
    fs.writeFileSync(path.join(base, 'pods-evil', 'x.log'), '');
    fs.symlinkSync(path.join(base, 'pods-evil', 'x.log'), path.join(base, 'pods', 'x.log'));
    const refused: string[] = [];
    expect(await keepUnderRoots([target(path.join(base, 'pods', 'x.log'))], new FileRoots({ roots: [path.join(base, 'pods')], symlinks: 'within-roots' }), (t) => refused.push(t.live))).toEqual([]);
    expect(refused).toHaveLength(1);
  });
});
