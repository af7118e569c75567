/**
 * hostobject: the `HOST` object (category object) describing this host, with a
 * JSON `message` of its facts and summary fields (CPU, memory, load, disk and
 * network rates), like DataKit's hostobject input.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { InputContext } from '../../agent/input/contract.js';
import { int, nowNs, type Point } from '../../agent/model/point.js';
import { uint } from '../../agent/services/host/fields.js';
import type { HostPaths } from '../../agent/services/host/paths.js';
import { periodicInput, readOptional, readText, type Collector } from '../../agent/services/host/periodic.js';
import { physicalFstypes, readMounts, selectMounts, usage } from '../../agent/services/host/partitions.js';
import {
  cpuUsage,
  memStat,
  parseDiskstats,
  parseLoadavg,
  parseMeminfo,
  parseNetDev,
  parseProcStat,
  type CpuTimes,
} from '../../agent/services/host/procfs.js';
import { hostMeta, netInfo, parseCpuinfo } from './hostinfo.js';
import { schema, type HostobjectConfig } from './config.js';

export const TELEKIT_VERSION = readVersion();

function readVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const v = (JSON.parse(fs.readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string });
      if (v.name === 'telekit' && v.version) return v.version;
    } catch {
      /* try the next location (source tree vs dist/) */
    }
  }
  return 'unknown';
}

/** Whole disks only (no partitions) so the I/O rate does not count bytes twice. */
const PARTITION = /^(sd[a-z]+\d+|vd[a-z]+\d+|xvd[a-z]+\d+|hd[a-z]+\d+|nvme\d+n\d+p\d+|mmcblk\d+p\d+|loop\d+|ram\d+|zram\d+)$/;

interface Sample {
  at: number;
  cpu: CpuTimes | undefined;
  diskRead: number;
  diskWrite: number;
  netRecv: number;
  netSent: number;
}

export class HostobjectCollector implements Collector {
  private last: Sample | undefined;

  constructor(
    private readonly cfg: HostobjectConfig,
    private readonly paths: HostPaths,
    private readonly ctx: Pick<InputContext, 'host' | 'acc'>,
  ) {}

  private proc(...p: string[]): string {
    return path.join(this.paths.proc, ...p);
  }

  private async virtualIfaces(): Promise<Set<string>> {
    if (this.cfg.enable_net_virtual_interfaces) return new Set();
    try {
      return new Set(fs.readdirSync(path.join(this.paths.sys, 'devices', 'virtual', 'net')));
    } catch {
      return new Set(['lo']);
    }
  }

  private async sample(virt: Set<string>): Promise<Sample> {
    const stat = parseProcStat(await readText(this.proc('stat')));
    const disks = parseDiskstats((await readOptional(this.proc('diskstats'))) ?? '').filter((d) => !PARTITION.test(d.name) && !d.name.startsWith('dm-'));
    const nets = parseNetDev((await readOptional(this.proc('net', 'dev'))) ?? '').filter((n) => !virt.has(n.name));
    return {
      at: Date.now(),
      cpu: stat.cpus.find((c) => c.cpu === 'cpu-total'),
      diskRead: disks.reduce((a, d) => a + d.sectorsRead * 512, 0),
      diskWrite: disks.reduce((a, d) => a + d.sectorsWritten * 512, 0),
      netRecv: nets.reduce((a, n) => a + n.bytesRecv, 0),
      netSent: nets.reduce((a, n) => a + n.bytesSent, 0),
    };
  }

  async collect(): Promise<Point[]> {
    const virt = await this.virtualIfaces();
    if (!this.last) {
      // The object is sent rarely (5 min): prime over a short window rather than report since-boot averages.
      this.last = await this.sample(virt);
      await new Promise((r) => setTimeout(r, 500).unref());
    }
    const prev = this.last;
    const cur = await this.sample(virt);
    this.last = cur;
    const dt = (cur.at - prev.at) / 1000;
    const rate = (a: number, b: number) => (dt > 0 && a >= b ? Math.round((a - b) / dt) : 0);

    const stat = parseProcStat(await readText(this.proc('stat')));
    const mi = parseMeminfo(await readText(this.proc('meminfo')));
    const mem = memStat(mi);
    const load = parseLoadavg((await readOptional(this.proc('loadavg'))) ?? '0 0 0 0/0 0');
    const cpuinfo = parseCpuinfo((await readOptional(this.proc('cpuinfo'))) ?? '');
    const mounts = selectMounts(await readMounts(this.paths), this.cfg, await physicalFstypes(this.paths));
    const disks: { device: string; total: number; mountpoint: string; fstype: string }[] = [];
    let used = 0;
    let free = 0;
    for (const m of mounts) {
      try {
        const u = await usage(this.paths, m.mountPoint);
        if (u.total === 0 && this.cfg.ignore_zero_bytes_disk) continue;
        used += u.used;
        free += u.free;
        disks.push({ device: m.device, total: u.total, mountpoint: m.mountPoint, fstype: m.fstype });
      } catch (e) {
        this.ctx.acc.error('statfs', e);
      }
    }
    const meta = await hostMeta(this.paths, this.ctx.host.hostname, stat.btime);
    const nCpu = stat.cpus.filter((c) => c.cpu !== 'cpu-total').length || os.cpus().length;
    const message = {
      host: {
        meta,
        cpu: cpuinfo,
        mem: { memory_total: mem.total, swap_total: mi.SwapTotal ?? 0 },
        net: await netInfo(this.paths, (n) => !virt.has(n)),
        disk: disks,
      },
      collectors: [],
      config: { ip: this.ctx.host.ip },
    };
    const cpuPct = prev.cpu && cur.cpu ? cpuUsage(prev.cpu, cur.cpu)?.usage_total ?? 0 : 0;
    const isDocker = process.env.KUBERNETES_SERVICE_HOST !== undefined || fs.existsSync('/.dockerenv');
    return [
      {
        category: 'object',
        name: 'HOST',
        tags: { name: this.ctx.host.hostname, os: meta.os, arch: meta.arch, unicast_ip: this.ctx.host.ip },
        fields: {
          message: JSON.stringify(message),
          start_time: uint(stat.btime * 1000),
          datakit_ver: TELEKIT_VERSION,
          cpu_usage: cpuPct,
          num_cpu: int(nCpu),
          mem_used_percent: mem.usedPercent,
          load: load.load5,
          disk_total: uint(disks.reduce((a, d) => a + d.total, 0)),
          disk_used_percent: used + free > 0 ? (100 * used) / (used + free) : 0,
          diskio_read_bytes_per_sec: int(rate(cur.diskRead, prev.diskRead)),
          diskio_write_bytes_per_sec: int(rate(cur.diskWrite, prev.diskWrite)),
          net_recv_bytes_per_sec: int(rate(cur.netRecv, prev.netRecv)),
          net_send_bytes_per_sec: int(rate(cur.netSent, prev.netSent)),
          logging_level: process.env.ENV_LOG_LEVEL || 'info',
          is_docker: int(isDocker ? 1 : 0),
        },
        time: nowNs(),
      },
    ];
  }
}

export const hostobject = periodicInput<HostobjectConfig>({
  name: 'hostobject',
  description: 'The HOST object: host facts and a usage summary',
  schema,
  singleton: true,
  clamp: [10_000, 30 * 60_000],
  collector: (cfg, paths, ctx) => new HostobjectCollector(cfg, paths, ctx),
});
