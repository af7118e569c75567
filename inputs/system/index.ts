/**
 * system: load, uptime, users, CPU and memory summary (`system`), connection
 * tracking (`conntrack`) and file handles (`filefd`), like DataKit's system input.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { int, nowNs, type Point } from '../../agent/model/point.js';
import { uint } from '../../agent/services/host/fields.js';
import { underRoot, type HostPaths } from '../../agent/services/host/paths.js';
import { periodicInput, readOptional, readText, type Collector } from '../../agent/services/host/periodic.js';
import {
  countUtmpUsers,
  cpuUsage,
  memStat,
  parseConntrackStat,
  parseLoadavg,
  parseMeminfo,
  parseProcStat,
  type CpuTimes,
} from '../../agent/services/host/procfs.js';
import { schema, type SystemConfig } from './config.js';

const CONNTRACK_STATS = ['found', 'invalid', 'ignore', 'insert', 'insert_failed', 'drop', 'early_drop', 'search_restart'];

export class SystemCollector implements Collector {
  private lastCpu: CpuTimes | undefined;

  constructor(private readonly paths: HostPaths) {}

  private proc(...p: string[]): string {
    return path.join(this.paths.proc, ...p);
  }

  private async users(): Promise<number> {
    // /run first: under a host root, /var/run is usually an absolute symlink to /run that would resolve in our own filesystem
    for (const f of ['/run/utmp', '/var/run/utmp']) {
      try {
        return countUtmpUsers(await fs.readFile(underRoot(this.paths, f)));
      } catch {
        /* try the next location */
      }
    }
    return 0;
  }

  private async processCount(): Promise<number> {
    const names = await fs.readdir(this.paths.proc).catch(() => [] as string[]);
    return names.filter((n) => /^\d+$/.test(n)).length;
  }

  async collect(): Promise<Point[]> {
    const [statText, loadText, memText, uptimeText] = await Promise.all([
      readText(this.proc('stat')),
      readText(this.proc('loadavg')),
      readText(this.proc('meminfo')),
      readOptional(this.proc('uptime')),
    ]);
    const stat = parseProcStat(statText);
    const load = parseLoadavg(loadText);
    const nCpus = Math.max(1, stat.cpus.filter((c) => c.cpu !== 'cpu-total').length);
    const time = nowNs();
    const fields: Point['fields'] = {
      load1: load.load1,
      load5: load.load5,
      load15: load.load15,
      load1_per_core: load.load1 / nCpus,
      load5_per_core: load.load5 / nCpus,
      load15_per_core: load.load15 / nCpus,
      n_cpus: int(nCpus),
      memory_usage: memStat(parseMeminfo(memText)).usedPercent,
      n_users: int(await this.users()),
      process_count: int(await this.processCount()),
      uptime: uint(Number((uptimeText ?? '0').split(' ')[0])),
    };
    const total = stat.cpus.find((c) => c.cpu === 'cpu-total');
    if (total && this.lastCpu) {
      const u = cpuUsage(this.lastCpu, total);
      if (u) fields.cpu_total_usage = u.usage_total;
    }
    this.lastCpu = total;
    const out: Point[] = [{ category: 'metric', name: 'system', tags: {}, fields, time }];

    const count = await readOptional(this.proc('sys', 'net', 'netfilter', 'nf_conntrack_count'));
    if (count !== undefined) {
      const max = await readOptional(this.proc('sys', 'net', 'netfilter', 'nf_conntrack_max'));
      const st = parseConntrackStat((await readOptional(this.proc('net', 'stat', 'nf_conntrack'))) ?? '');
      const f: Point['fields'] = { entries: int(Number(count.trim())), entries_limit: int(Number((max ?? '0').trim())) };
      for (const k of CONNTRACK_STATS) f[`stat_${k}`] = int(st[k] ?? 0);
      out.push({ category: 'metric', name: 'conntrack', tags: {}, fields: f, time });
    }

    const fileNr = await readOptional(this.proc('sys', 'fs', 'file-nr'));
    if (fileNr !== undefined) {
      const [allocated, , maximum] = fileNr.trim().split(/\s+/).map(Number);
      out.push({
        category: 'metric',
        name: 'filefd',
        tags: {},
        fields: { allocated: int(allocated ?? 0), maximum_mega: (maximum ?? 0) / 1e6 },
        time,
      });
    }
    return out;
  }
}

export const system = periodicInput<SystemConfig>({
  name: 'system',
  description: 'Load, uptime, users, conntrack and file handles from /proc',
  schema,
  collector: (_, paths) => new SystemCollector(paths),
});
