import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { globInside, resolveInside, type InsideDirs } from './inside.js';
import { RuntimeRootfs } from './rootfs.js';

const tmp: string[] = [];
afterEach(() => {
  for (const d of tmp.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A node with docker's and CRI-O's storage laid out as the runtimes do. */
function node() {
  const host = fs.mkdtempSync(path.join(os.tmpdir(), 'telekit-rootfs-'));
  tmp.push(host);
  const docker = path.join(host, 'var/lib/docker');
  const crio = path.join(host, 'var/lib/containers/storage');
  const write = (p: string, text: string) => {
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
  };
  const dirs: InsideDirs = {
    containerdTaskDir: path.join(host, 'run/containerd/io.containerd.runtime.v2.task/k8s.io'),
    kubeletPodsDir: path.join(host, 'var/lib/kubelet/pods'),
    layered: new RuntimeRootfs({ dockerDataDir: docker, crioStorageDir: crio }),
  };
  return { host, docker, crio, write, dirs };
}

const pod = { uid: 'u1', volumes: [] };
const ctr = (runtime: string, id: string) => ({ id, runtime, mounts: [] });

describe('container root filesystems of docker and CRI-O', () => {
  it("docker: the overlay2 layer named by docker's mount-id file; its files are found there", async () => {
    const n = node();
    n.write(path.join(n.docker, 'image/overlay2/layerdb/mounts/d0c4e1/mount-id'), '9f8e7d6c5b4a');
    n.write(path.join(n.docker, 'overlay2/9f8e7d6c5b4a/merged/app/logs/app.log'), 'x\n');
    n.write(path.join(n.docker, 'overlay2/9f8e7d6c5b4a-init/merged/app/logs/init.log'), 'x\n'); // another layer: never read
    const r = resolveInside('/app/logs/*.log', pod, ctr('docker', 'd0c4e1'), n.dirs);
    expect(r).toEqual({ ok: true, kind: 'rootfs', root: path.join(n.docker, 'overlay2/9f8e7d6c5b4a/merged'), glob: 'app/logs/*.log', insideRoot: '/' });
    if (!r.ok) return;
    expect((await globInside(r.root, r.glob, 10)).files).toEqual([path.join(n.docker, 'overlay2/9f8e7d6c5b4a/merged/app/logs/app.log')]);
  });

  it('CRI-O: the layer of the container in containers.json, read again when the list changes', () => {
    const n = node();
    const list = path.join(n.crio, 'overlay-containers/containers.json');
    n.write(list, JSON.stringify([{ id: 'c1', names: ['k8s_app'], image: 'i', layer: 'aaa111', metadata: '' }]));
    expect(resolveInside('/var/log/app.log', pod, ctr('cri-o', 'c1'), n.dirs)).toMatchObject({ ok: true, root: path.join(n.crio, 'overlay/aaa111/merged'), glob: 'var/log/app.log' });
    // Not there yet: refused (and read again at the next scan, once the runtime has written it).
    expect(resolveInside('/var/log/app.log', pod, ctr('cri-o', 'c2'), n.dirs)).toMatchObject({ ok: false, reason: 'runtime_unsupported' });
    n.write(list, JSON.stringify([{ id: 'c1', layer: 'aaa111' }, { id: 'c2', layer: 'bbb222' }]));
    expect(resolveInside('/var/log/app.log', pod, ctr('cri-o', 'c2'), n.dirs)).toMatchObject({ ok: true, root: path.join(n.crio, 'overlay/bbb222/merged') });
  });

  it('refuses a layer id that is not a plain id, a missing or broken map, and still refuses climbing paths and odd container ids', () => {
    const n = node();
    n.write(path.join(n.docker, 'image/overlay2/layerdb/mounts/d1/mount-id'), '../../../../etc');
    n.write(path.join(n.crio, 'overlay-containers/containers.json'), JSON.stringify([{ id: 'c1', layer: '../../etc' }]));
    const reason = (p: string, runtime: string, id: string) => {
      const r = resolveInside(p, pod, ctr(runtime, id), n.dirs);
      return r.ok ? 'ok' : r.reason;
    };
    expect(reason('/a.log', 'docker', 'd1')).toBe('runtime_unsupported');
    expect(reason('/a.log', 'cri-o', 'c1')).toBe('runtime_unsupported');
    expect(reason('/a.log', 'docker', 'nope')).toBe('runtime_unsupported'); // no mount-id: another storage driver
    expect(reason('/a.log', 'docker', '../d1')).toBe('bad_id');
    expect(reason('/../etc/shadow', 'docker', 'd1')).toBe('climbs_out');
    expect(reason('/a.log', 'kata', 'k1')).toBe('runtime_unsupported');
    n.write(path.join(n.crio, 'overlay-containers/containers.json'), '[{"id": "c1", "lay');
    expect(reason('/a.log', 'cri-o', 'c1')).toBe('runtime_unsupported');
    fs.rmSync(path.join(n.crio, 'overlay-containers/containers.json'));
    expect(reason('/a.log', 'cri-o', 'c1')).toBe('runtime_unsupported');
  });
});
