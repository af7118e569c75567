/**
 * DataKit's folders in its image. A DataKit DaemonSet mounts its ConfigMap
 * under /usr/local/datakit (e.g. `conf.d/container/container.conf` by
 * `subPath`); so that such a manifest works unchanged with telekit's image,
 * the agent also reads DataKit's conf.d when it is present, after its own.
 */
import fs from 'node:fs';
import path from 'node:path';

/** DataKit's install folder in its image (`workingDir` of its DaemonSet). */
export const DATAKIT_DIR = '/usr/local/datakit';

export interface ConfFolders {
  /** The conf.d folders read, in order: telekit's, then DataKit's when present. */
  confDirs: string[];
  /** DataKit's pipeline folder when present: scripts are read from it when telekit's own folder is absent. */
  pipelineDir: string | undefined;
}

const isDir = (p: string) => {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
};

export function confFolders(confDir: string, datakitDir: string = DATAKIT_DIR): ConfFolders {
  const dk = path.resolve(datakitDir, 'conf.d');
  const confDirs = [path.resolve(confDir)];
  if (isDir(dk) && dk !== confDirs[0]) confDirs.push(dk);
  const pl = path.resolve(datakitDir, 'pipeline');
  return { confDirs, pipelineDir: isDir(pl) ? pl : undefined };
}

/**
 * The Pipeline scripts folder: an explicit one (`--pipeline-dir`, ENV_PIPELINE_DIR)
 * as given; else telekit's `pipeline/` beside its conf.d when it exists; else
 * DataKit's (`/usr/local/datakit/pipeline`, a seed's ConfigMap mount) when present.
 */
export function choosePipelineDir(own: string | undefined, explicit: boolean, folders: ConfFolders): string | undefined {
  if (explicit || !folders.pipelineDir || (own !== undefined && isDir(own))) return own;
  return folders.pipelineDir;
}
