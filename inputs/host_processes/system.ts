/**
 * What a collection needs of the host besides its processes: boot time (the
 * epoch of /proc/<pid>/stat's start times), total memory (for
 * `mem_used_percent`) and the host's users (uid → name, from its passwd).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { HostPaths } from '../../agent/services/host/paths.js';
import type { ProcFiles } from './files.js';
import { parsePasswd } from './parse.js';

export class HostFacts {
  private passwd: { mtimeMs: number; users: Map<number, string> } | undefined;
  private btime: number | undefined;

  constructor(
    private readonly paths: HostPaths,
    private readonly files: ProcFiles,
  ) {}

  /** Boot time in seconds since the epoch (read once; 0 until it can be read). */
  bootTime(): number {
    if (this.btime === undefined) {
      const m = /\nbtime (\d+)/.exec('\n' + (this.files.text(path.join(this.paths.proc, 'stat'), 'latin1') ?? ''));
      if (!m) return 0; // try again next time
      this.btime = Number(m[1]);
    }
    return this.btime;
  }

  /** MemTotal in bytes (0 when unknown). */
  memTotal(): number {
    const m = /MemTotal:\s+(\d+)/.exec(this.files.text(path.join(this.paths.proc, 'meminfo'), 'latin1') ?? '');
    return m ? Number(m[1]) * 1024 : 0;
  }

  /**
   * The host's users, from its passwd (HOST_ETC, else HOST_ROOT's /etc; re-read
   * when it changes). The same map is returned while the file is unchanged:
   * callers key their per-process usernames on its identity.
   */
  users(): Map<number, string> {
    const file = path.join(this.paths.etc, 'passwd');
    let mtimeMs = -1;
    try {
      mtimeMs = fs.statSync(file).mtimeMs;
    } catch {
      /* no passwd: every user is unknown */
    }
    if (!this.passwd || this.passwd.mtimeMs !== mtimeMs) {
      this.passwd = { mtimeMs, users: parsePasswd(mtimeMs < 0 ? '' : (this.files.text(file, 'utf8') ?? '')) };
    }
    return this.passwd.users;
  }
}
