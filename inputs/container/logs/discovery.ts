/**
 * Which log files belong to which container. Pure mapping functions plus two
 * directory scans:
 *  - `<pod_logs_dir>/<namespace>_<pod>_<uid>/<container>/<restart>.log` (CRI
 *    and kubelet-managed docker), enriched from the pod watcher when present;
 *  - `<docker_logs_dir>/<id>/<id>-json.log` for plain docker containers
 *    (metadata from `config.v2.json`), skipped for Kubernetes-managed ones
 *    whose logs the pod directory already exposes.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ContainerInfo, PodInfo, PodWatcher } from '../../../agent/services/k8s/types.js';
import type { FileRoots, RefusalReason } from '../../../agent/services/files/safe-open.js';
import type { ContainerLogConfig } from './logs-config.js';

export interface LogTarget {
  /** The live file to tail. */
  live: string;
  namespace: string;
  podName: string;
  podUid: string;
  containerName: string;
  containerId: string;
  image: string;
  /** Container env (for DATAKIT_LOGS_CONFIG). */
  env: Record<string, string>;
  pod: PodInfo | undefined;
  container: ContainerInfo | undefined;
  /** Set for a file inside the container (a `type: file` entry, ./inside.ts); unset for stdout/stderr. */
  file?: InsideFile;
}

export interface InsideFile {
  /** The entry's config (source, service, tags, …). */
  config: ContainerLogConfig;
  /** Opens under this container's root only, symlinks refused. */
  files: FileRoots;
  /** The file's path inside the container (the `filepath` field). */
  display: (hostFile: string) => string;
  /** The entry it was found by (pod uid, container, path): its tailer drains once the entry is gone. */
  entry: string;
}

/** `<namespace>_<pod>_<uid>` → parts (names are DNS labels and never contain `_`). */
export function parsePodDir(name: string): { namespace: string; pod: string; uid: string } | undefined {
  const a = name.indexOf('_');
  const b = name.lastIndexOf('_');
  if (a <= 0 || b <= a + 1 || b === name.length - 1) return undefined;
  return { namespace: name.slice(0, a), pod: name.slice(a + 1, b), uid: name.slice(b + 1) };
}

/** The pod-log directory of one container. */
export function containerLogDir(root: string, pod: Pick<PodInfo, 'namespace' | 'name' | 'uid'>, container: string): string {
  return path.join(root, `${pod.namespace}_${pod.name}_${pod.uid}`, container);
}

const LIVE_RE = /^\d+\.log$/;

async function dirs(p: string): Promise<string[]> {
  try {
    return (await fs.readdir(p, { withFileTypes: true })).filter((d) => d.isDirectory() || d.isSymbolicLink()).map((d) => d.name);
  } catch {
    return [];
  }
}

export async function scanPodLogs(root: string, pods: PodWatcher | undefined): Promise<LogTarget[]> {
  const out: LogTarget[] = [];
  for (const pd of await dirs(root)) {
    const p = parsePodDir(pd);
    if (!p) continue;
    const pod = pods?.get(p.namespace, p.pod);
    const samePod = pod && (pod.uid === p.uid || !pod.uid) ? pod : undefined;
    for (const cname of await dirs(path.join(root, pd))) {
      let files: string[];
      try {
        files = (await fs.readdir(path.join(root, pd, cname))).filter((f) => LIVE_RE.test(f));
      } catch {
        continue;
      }
      const c = samePod?.containers.find((x) => x.name === cname);
      for (const f of files) {
        out.push({
          live: path.join(root, pd, cname, f),
          namespace: p.namespace,
          podName: p.pod,
          podUid: p.uid,
          containerName: cname,
          containerId: c?.id ?? '',
          image: c?.image ?? '',
          env: c?.env ?? {},
          pod: samePod,
          container: c,
        });
      }
    }
  }
  return out;
}

interface DockerConfigV2 {
  Name?: string;
  Config?: { Image?: string; Env?: string[]; Labels?: Record<string, string> };
}

/** Largest `config.v2.json` read (dockerd writes a few KiB). */
const DOCKER_CONFIG_MAX = 1 << 20;

export async function scanDockerLogs(root: string, skipKubernetes: boolean, files: FileRoots): Promise<LogTarget[]> {
  const out: LogTarget[] = [];
  for (const id of await dirs(root)) {
    const live = path.join(root, id, `${id}-json.log`);
    try {
      await fs.access(live);
    } catch {
      continue;
    }
    let cfg: DockerConfigV2 = {};
    try {
      const raw = await files.readSmall(path.join(root, id, 'config.v2.json'), DOCKER_CONFIG_MAX);
      if (raw) cfg = JSON.parse(raw.toString('utf8')) as DockerConfigV2;
    } catch {
      // No metadata: still tail with the id only.
    }
    const labels = cfg.Config?.Labels ?? {};
    if (skipKubernetes && labels['io.kubernetes.pod.name']) continue;
    const env: Record<string, string> = {};
    for (const kv of cfg.Config?.Env ?? []) {
      const i = kv.indexOf('=');
      if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
    }
    out.push({
      live,
      namespace: labels['io.kubernetes.pod.namespace'] ?? '',
      podName: labels['io.kubernetes.pod.name'] ?? '',
      podUid: labels['io.kubernetes.pod.uid'] ?? '',
      containerName: labels['io.kubernetes.container.name'] ?? (cfg.Name ?? id).replace(/^\//, ''),
      containerId: id,
      image: cfg.Config?.Image ?? '',
      env,
      pod: undefined,
      container: undefined,
    });
  }
  return out;
}

/**
 * Keeps the targets whose file really lives under one of the roots, decided on
 * an opened descriptor ({@link FileRoots.open}): a symlinked file or pod
 * directory pointing elsewhere on the host is refused, so the agent reads logs
 * only from the configured roots. Symlinks between the roots (the kubelet's
 * docker-era `/var/log/pods/.../0.log` → `/var/lib/docker/containers/...`) stay
 * allowed when `files` follows links within the roots. The tailer checks again
 * at every open: this only keeps refused files out of the target set.
 */
export async function keepUnderRoots(targets: LogTarget[], files: FileRoots, refused: (t: LogTarget, reason: RefusalReason, detail: string) => void): Promise<LogTarget[]> {
  const out: LogTarget[] = [];
  for (const t of targets) {
    const r = await (t.file?.files ?? files).open(t.live);
    if (r.ok) {
      await r.handle.close().catch(() => undefined);
      out.push(t);
    } else if (r.reason !== 'missing') refused(t, r.reason, r.detail); // missing: gone between the scan and now
  }
  return out;
}
