/**
 * Where the host's /proc, /sys and root filesystem are.
 *
 * Outside a container these are /proc, /sys and /. In a DaemonSet pod the
 * host's root is mounted at e.g. /rootfs; like DataKit (and gopsutil) we honour
 * HOST_PROC, HOST_SYS and HOST_ROOT. An input's `host_root` option overrides
 * all three (proc = <host_root>/proc, sys = <host_root>/sys).
 */
import path from 'node:path';

/** The environment variables read here (the deploy test checks the DaemonSet's env against the agent's lists). */
export const HOST_ENV = ['HOST_ROOT', 'HOST_PROC', 'HOST_SYS', 'HOST_ETC'] as const;

export interface HostPaths {
  /** The host root ("/" outside a container). Mount points are resolved under it. */
  readonly root: string;
  /** The host's procfs. */
  readonly proc: string;
  /** The host's sysfs. */
  readonly sys: string;
  /** The host's /etc (HOST_ETC, as gopsutil and DataKit read it; else <root>/etc). */
  readonly etc: string;
}

export function hostPaths(hostRoot = '', env: NodeJS.ProcessEnv = process.env): HostPaths {
  if (hostRoot !== '') {
    return { root: hostRoot, proc: path.join(hostRoot, 'proc'), sys: path.join(hostRoot, 'sys'), etc: path.join(hostRoot, 'etc') };
  }
  const root = env.HOST_ROOT || '/';
  return {
    root,
    proc: env.HOST_PROC || (env.HOST_ROOT ? path.join(root, 'proc') : '/proc'),
    sys: env.HOST_SYS || (env.HOST_ROOT ? path.join(root, 'sys') : '/sys'),
    etc: env.HOST_ETC || path.join(root, 'etc'),
  };
}

/** Resolves a host path (a mount point, /run/udev/...) under the host root. */
export function underRoot(p: HostPaths, hostPath: string): string {
  return p.root === '/' ? hostPath : path.join(p.root, hostPath);
}
