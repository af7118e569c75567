/**
 * diskio: block device I/O counters from /proc/diskstats, plus read/write
 * bytes per second over the interval, like DataKit's `diskio` measurement.
 */
import path from 'node:path';
import { int, nowNs, type Point } from '../../agent/model/point.js';
import { uint } from '../../agent/services/host/fields.js';
import { underRoot, type HostPaths } from '../../agent/services/host/paths.js';
import { periodicInput, readOptional, readText, type Collector } from '../../agent/services/host/periodic.js';
import { parseDiskstats, parseUdevData, type DiskStat } from '../../agent/services/host/procfs.js';
import { schema, type DiskioConfig } from './config.js';

const SECTOR = 512;
const UDEV_TTL_MS = 60_000;

/** Renders the first template whose every variable is known, like DataKit/Telegraf. */
export function renderName(templates: readonly string[], props: Record<string, string>, dev: string): string | undefined {
  for (const t of templates) {
    let miss = false;
    const name = t.replace(/\$(?:(\w+)|\{(\w+)\})/g, (_, a: string | undefined, b: string | undefined) => {
      const k = (a ?? b)!;
      if (props[k] !== undefined) return props[k]!;
      if (k === 'device') return dev;
      miss = true;
      return '';
    });
    if (!miss) return name;
  }
  return undefined;
}

export class DiskioCollector implements Collector {
  private last: { at: number; stats: Map<string, DiskStat> } | undefined;
  /** udev properties rarely change: read each device's entry at most once a minute. */
  private readonly udevCache = new Map<string, { at: number; props: Record<string, string> }>();
  private readonly filters: RegExp[];

  constructor(
    private readonly cfg: DiskioConfig,
    private readonly paths: HostPaths,
  ) {
    this.filters = cfg.devices.map((d) => new RegExp(d));
  }

  private async udev(d: DiskStat, now: number): Promise<Record<string, string>> {
    const key = `${d.major}:${d.minor}`;
    const hit = this.udevCache.get(key);
    if (hit && now - hit.at < UDEV_TTL_MS) return hit.props;
    const text = await readOptional(underRoot(this.paths, `/run/udev/data/b${key}`));
    const props = text ? parseUdevData(text) : {};
    this.udevCache.set(key, { at: now, props });
    return props;
  }

  async collect(): Promise<Point[]> {
    const stats = parseDiskstats(await readText(path.join(this.paths.proc, 'diskstats')));
    const at = Date.now();
    const time = nowNs();
    const prev = this.last;
    this.last = { at, stats: new Map(stats.map((s) => [s.name, s])) };
    if (this.udevCache.size > 4 * stats.length + 64) this.udevCache.clear(); // devices come and go
    const needUdev = !this.cfg.skip_serial_number || this.cfg.device_tags.length > 0 || this.cfg.name_templates.length > 0;
    const out: Point[] = [];
    for (const s of stats) {
      const props = needUdev || this.filters.length > 0 ? await this.udev(s, at) : {};
      if (this.filters.length > 0) {
        const links = (props.DEVLINKS ?? '').split(' ').filter(Boolean);
        if (!this.filters.some((f) => f.test(s.name) || links.some((l) => f.test(l)))) continue;
      }
      const dev = `/dev/${s.name}`;
      const tags: Record<string, string> = { name: renderName(this.cfg.name_templates, props, dev) ?? dev };
      for (const t of this.cfg.device_tags) if (props[t] !== undefined) tags[t] = props[t]!;
      if (!this.cfg.skip_serial_number) tags.serial = props.ID_SERIAL || 'unknown';
      const fields: Point['fields'] = {
        reads: uint(s.reads),
        writes: uint(s.writes),
        read_bytes: uint(s.sectorsRead * SECTOR),
        write_bytes: uint(s.sectorsWritten * SECTOR),
        read_time: uint(s.readTime),
        write_time: uint(s.writeTime),
        io_time: uint(s.ioTime),
        weighted_io_time: uint(s.weightedIoTime),
        iops_in_progress: uint(s.iopsInProgress),
        merged_reads: uint(s.mergedReads),
        merged_writes: uint(s.mergedWrites),
      };
      const p = prev?.stats.get(s.name);
      const dt = prev ? (at - prev.at) / 1000 : 0;
      if (p && dt > 0) {
        if (s.sectorsRead >= p.sectorsRead) fields['read_bytes/sec'] = int(((s.sectorsRead - p.sectorsRead) * SECTOR) / dt);
        if (s.sectorsWritten >= p.sectorsWritten) fields['write_bytes/sec'] = int(((s.sectorsWritten - p.sectorsWritten) * SECTOR) / dt);
      }
      out.push({ category: 'metric', name: 'diskio', tags, fields, time });
    }
    return out;
  }
}

export const diskio = periodicInput<DiskioConfig>({
  name: 'diskio',
  description: 'Block device I/O counters and rates from /proc/diskstats',
  schema,
  collector: (cfg, paths) => new DiskioCollector(cfg, paths),
});
