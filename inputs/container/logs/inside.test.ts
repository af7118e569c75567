import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { globInside, insidePath, resolveInside, type InsideDirs } from './inside.js';
import type { ContainerInfo, PodInfo } from '../../../agent/services/k8s/types.js';

const dirs: InsideDirs = { containerdTaskDir: '/host/run/containerd/io.containerd.runtime.v2.task/k8s.io', kubeletPodsDir: '/host/var/lib/kubelet/pods' };
const pod: Pick<PodInfo, 'uid' | 'volumes'> = {
  uid: 'a1b2-c3',
  volumes: [
    { name: 'logs', kind: 'emptyDir' },
    { name: 'cfg', kind: 'configMap' },
    { name: 'host', kind: 'hostPath' },
  ],
};
const ctr = (over: Partial<ContainerInfo> = {}): Pick<ContainerInfo, 'id' | 'runtime' | 'mounts'> => ({
  id: 'abc123',
  runtime: 'containerd',
  mounts: [
    { name: 'logs', mountPath: '/app/logs', subPath: '' },
    { name: 'logs', mountPath: '/app/logs/deep', subPath: 'sub/dir' },
    { name: 'cfg', mountPath: '/etc/app', subPath: '' },
    { name: 'host', mountPath: '/var/host', subPath: '' },
  ],
  ...over,
});

describe('resolveInside', () => {
  it('reads the container rootfs (containerd) for a path under no volume mount', () => {
    expect(resolveInside('/var/log/app/*.log', pod, ctr(), dirs)).toEqual({ ok: true, kind: 'rootfs', root: `${dirs.containerdTaskDir}/abc123/rootfs`, glob: 'var/log/app/*.log', insideRoot: '/' });
    // Not a volume: /app/logsx is not under /app/logs.
    expect(resolveInside('/app/logsx/a.log', pod, ctr(), dirs)).toMatchObject({ ok: true, kind: 'rootfs', glob: 'app/logsx/a.log' });
    // `.` and doubled slashes are harmless.
    expect(resolveInside('//var/./log//a.log', pod, ctr(), dirs)).toMatchObject({ ok: true, glob: 'var/log/a.log' });
  });

  it("reads an emptyDir volume's host directory for a path under its mount, the deepest mount winning, subPath included", () => {
    expect(resolveInside('/app/logs/*.log', pod, ctr(), dirs)).toEqual({ ok: true, kind: 'volume', root: `${dirs.kubeletPodsDir}/a1b2-c3/volumes/kubernetes.io~empty-dir/logs`, glob: '*.log', insideRoot: '/app/logs' });
    expect(resolveInside('/app/logs/deep/x/a.log', pod, ctr(), dirs)).toMatchObject({ ok: true, kind: 'volume', glob: 'sub/dir/x/a.log', insideRoot: '/app/logs/deep' });
    // A volume needs no container id (the pod's directory is enough).
    expect(resolveInside('/app/logs/a.log', pod, ctr({ id: '', runtime: '' }), dirs)).toMatchObject({ ok: true, kind: 'volume' });
  });

  it('refuses paths that climb out, relative paths, other volume kinds, other runtimes and odd ids', () => {
    const reason = (p: string, c = ctr(), pd = pod) => {
      const r = resolveInside(p, pd, c, dirs);
      return r.ok ? 'ok' : r.reason;
    };
    expect(reason('/app/../../etc/shadow')).toBe('climbs_out');
    expect(reason('/app/logs/../../../../etc/passwd')).toBe('climbs_out');
    expect(reason('/..')).toBe('climbs_out');
    expect(reason('/')).toBe('climbs_out');
    expect(reason('app/a.log')).toBe('relative');
    expect(reason('/a' + '/b'.repeat(3000))).toBe('too_long');
    expect(reason('/app/a\0.log')).toBe('too_long');
    expect(reason('../a.log')).toBe('relative');
    expect(reason('/etc/app/a.log')).toBe('volume_unsupported');
    expect(reason('/var/host/a.log')).toBe('volume_unsupported');
    expect(reason('/var/log/a.log', ctr({ runtime: 'cri-o' }))).toBe('runtime_unsupported');
    expect(reason('/var/log/a.log', ctr({ runtime: 'docker' }))).toBe('runtime_unsupported');
    expect(reason('/var/log/a.log', ctr({ id: '../../x' }))).toBe('bad_id');
    expect(reason('/var/log/a.log', ctr({ id: '' }))).toBe('not_started');
    expect(reason('/app/logs/a.log', ctr(), { uid: '../x', volumes: pod.volumes })).toBe('bad_id');
    expect(reason('/m/a.log', ctr({ mounts: [{ name: 'logs', mountPath: '/m', subPath: '../../etc' }] }))).toBe('climbs_out');
    expect(reason('/m/a.log', ctr({ mounts: [{ name: 'logs', mountPath: '/m', subPath: '', subPathExpr: true }] }))).toBe('volume_unsupported');
    expect(reason('/m/a.log', ctr({ mounts: [{ name: 'gone', mountPath: '/m', subPath: '' }] }))).toBe('volume_unsupported');
  });

  it('maps a host file back to its path inside the container', () => {
    expect(insidePath({ root: '/r/rootfs', insideRoot: '/' }, '/r/rootfs/var/log/a.log')).toBe('/var/log/a.log');
    expect(insidePath({ root: '/v/logs', insideRoot: '/app/logs' }, '/v/logs/x/a.log')).toBe('/app/logs/x/a.log');
  });
});

describe('globInside', () => {
  const tmp: string[] = [];
  afterEach(() => {
    for (const d of tmp.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  function tree(): { root: string; outside: string } {
    const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'inside-')));
    tmp.push(base);
    const root = path.join(base, 'rootfs');
    const outside = path.join(base, 'host');
    fs.mkdirSync(path.join(root, 'app/logs/sub'), { recursive: true });
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'secret.log'), 'secret\n');
    for (const f of ['a.log', 'b.log', 'c.txt', '.hidden.log', 'sub/d.log']) fs.writeFileSync(path.join(root, 'app/logs', f), 'x\n');
    fs.symlinkSync(outside, path.join(root, 'app/linked')); // a symlinked directory
    fs.symlinkSync(outside, path.join(root, 'app/logs/lnk')); // a symlinked directory among the matches
    fs.symlinkSync(path.join(outside, 'secret.log'), path.join(root, 'app/logs/e.log')); // a final symlink
    return { root, outside };
  }

  it('matches names listed with readdir, never descending through a symlinked directory', async () => {
    const { root } = tree();
    const rel = (r: { files: string[] }) => r.files.map((f) => path.relative(root, f));
    expect(rel(await globInside(root, 'app/logs/*.log', 10))).toEqual(['app/logs/a.log', 'app/logs/b.log', 'app/logs/e.log']);
    expect(rel(await globInside(root, 'app/*/*.log', 10))).toEqual(['app/logs/a.log', 'app/logs/b.log', 'app/logs/e.log']);
    const viaLink = await globInside(root, 'app/linked/*.log', 10);
    expect(viaLink).toEqual({ files: [], refused: [{ path: path.join(root, 'app/linked'), reason: 'symlink_dir' }] });
    const deep = await globInside(root, 'app/**/*.log', 10);
    expect(rel(deep)).toEqual(['app/logs/a.log', 'app/logs/b.log', 'app/logs/e.log', 'app/logs/sub/d.log']);
    expect(deep.refused.map((x) => path.relative(root, x.path)).sort()).toEqual(['app/linked', 'app/logs/lnk']);
    expect((await globInside(root, 'app/logs/missing.log', 10)).files).toEqual([]);
    const capped = await globInside(root, 'app/logs/*', 2);
    expect(capped.files.length).toBe(2);
    expect(capped.refused.some((x) => x.reason === 'too_many_files')).toBe(true);
  });
});
