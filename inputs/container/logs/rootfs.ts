/**
 * Where docker and CRI-O keep a running container's root filesystem on the
 * node, for `type: file` entries (inside.ts). containerd's is found from the
 * container id alone (its task directory); docker and CRI-O mount it under a
 * layer id that the pod does not show, so the runtime's own map from container
 * id to layer is read:
 *
 * - docker (overlay2 storage driver): `<data dir>/image/overlay2/layerdb/mounts/<id>/mount-id`
 *   holds the id of the container's read-write layer; its root is
 *   `<data dir>/overlay2/<mount id>/merged`;
 * - CRI-O (containers/storage, overlay driver): `<storage dir>/overlay-containers/containers.json`
 *   lists every container with its `layer`; its root is `<storage dir>/overlay/<layer>/merged`.
 *
 * Both maps are written by the runtime (root-owned directories, no workload
 * writes there); the ids read from them must still be plain ids, so the root
 * is always a directory of the runtime's. A container's layer does not change
 * during its life: docker's answers are kept per container id, CRI-O's file is
 * parsed again only when it changes. Reads are synchronous and small (one
 * 64-byte file per new docker container; CRI-O's list when a container starts).
 */
import fs from 'node:fs';
import path from 'node:path';

export interface LayerDirs {
  /** docker's data root (`/var/lib/docker` on the node). */
  dockerDataDir: string;
  /** CRI-O's containers/storage root (`/var/lib/containers/storage` on the node). */
  crioStorageDir: string;
}

export type RootfsAnswer = { ok: true; root: string } | { ok: false; detail: string };

const ID_RE = /^[A-Za-z0-9]+$/;
/** docker containers remembered at most (the map is cleared beyond: each is read again once). */
const MAX_KEPT = 10_000;
/** A containers.json larger than this is not read. */
const MAX_LIST_BYTES = 64 << 20;

export class RuntimeRootfs {
  private docker = new Map<string, string>();
  private crio: { mtimeMs: number; size: number; layers: Map<string, string> } | undefined;

  constructor(readonly dirs: LayerDirs) {}

  /** The root directory of container `id` of `runtime` (`docker` or `cri-o`), or why it is not known. */
  rootOf(runtime: string, id: string): RootfsAnswer {
    if (runtime === 'docker') return this.dockerRoot(id);
    if (runtime === 'cri-o') return this.crioRoot(id);
    return { ok: false, detail: `the root filesystem of ${runtime || 'unknown'} containers is not read` };
  }

  private dockerRoot(id: string): RootfsAnswer {
    let mount = this.docker.get(id);
    if (mount === undefined) {
      const file = path.join(this.dirs.dockerDataDir, 'image/overlay2/layerdb/mounts', id, 'mount-id');
      try {
        mount = fs.readFileSync(file, 'latin1').trim();
      } catch (e) {
        return { ok: false, detail: `docker container ${id} has no overlay2 layer at ${file} (${(e as NodeJS.ErrnoException).code ?? 'unreadable'}): only docker's overlay2 storage driver is read` };
      }
      if (!ID_RE.test(mount)) return { ok: false, detail: `docker's mount id of container ${id} is not a plain id` };
      if (this.docker.size >= MAX_KEPT) this.docker.clear();
      this.docker.set(id, mount);
    }
    return { ok: true, root: path.join(this.dirs.dockerDataDir, 'overlay2', mount, 'merged') };
  }

  private crioRoot(id: string): RootfsAnswer {
    const file = path.join(this.dirs.crioStorageDir, 'overlay-containers', 'containers.json');
    let st: fs.Stats;
    try {
      st = fs.statSync(file);
    } catch (e) {
      return { ok: false, detail: `CRI-O's container list ${file} is not readable (${(e as NodeJS.ErrnoException).code ?? 'unreadable'}): only containers/storage's overlay driver is read` };
    }
    if (!this.crio || this.crio.mtimeMs !== st.mtimeMs || this.crio.size !== st.size) {
      if (st.size > MAX_LIST_BYTES) return { ok: false, detail: `CRI-O's container list ${file} is over ${MAX_LIST_BYTES} bytes` };
      const layers = new Map<string, string>();
      try {
        const list: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
        if (Array.isArray(list)) {
          for (const c of list as { id?: unknown; layer?: unknown }[]) {
            if (typeof c?.id === 'string' && typeof c.layer === 'string') layers.set(c.id, c.layer);
          }
        }
      } catch {
        return { ok: false, detail: `CRI-O's container list ${file} could not be read as JSON` }; // caught mid-write: read again next scan
      }
      this.crio = { mtimeMs: st.mtimeMs, size: st.size, layers };
    }
    const layer = this.crio.layers.get(id);
    if (layer === undefined) return { ok: false, detail: `CRI-O container ${id} is not in ${file}` };
    if (!ID_RE.test(layer)) return { ok: false, detail: `CRI-O's layer id of container ${id} is not a plain id` };
    return { ok: true, root: path.join(this.dirs.crioStorageDir, 'overlay', layer, 'merged') };
  }
}
