/** disk: filesystem usage per mounted device, like DataKit's `disk` measurement. */
import { nowNs, type Point } from '../../agent/model/point.js';
import { uint } from '../../agent/services/host/fields.js';
import type { HostPaths } from '../../agent/services/host/paths.js';
import { periodicInput, type Collector } from '../../agent/services/host/periodic.js';
import { physicalFstypes, readMounts, selectMounts, usage } from '../../agent/services/host/partitions.js';
import { schema, type DiskConfig } from './config.js';

export class DiskCollector implements Collector {
  constructor(
    private readonly cfg: DiskConfig,
    private readonly paths: HostPaths,
    private readonly onError: (kind: string, err: unknown) => void,
  ) {}

  async collect(): Promise<Point[]> {
    const mounts = selectMounts(await readMounts(this.paths), this.cfg, await physicalFstypes(this.paths));
    const time = nowNs();
    const out: Point[] = [];
    for (const m of mounts) {
      let u;
      try {
        u = await usage(this.paths, m.mountPoint);
      } catch (e) {
        this.onError('statfs', e); // one bad mount must not hide the others
        continue;
      }
      if (u.total === 0) continue; // pseudo filesystems
      out.push({
        category: 'metric',
        name: 'disk',
        tags: { device: m.device, fstype: m.fstype, mount_point: m.mountPoint },
        fields: {
          total: uint(u.total),
          free: uint(u.free),
          used: uint(u.used),
          used_percent: u.usedPercent,
          inodes_total_mb: uint(u.inodesTotal / 1e6),
          inodes_free_mb: uint(u.inodesFree / 1e6),
          inodes_used_mb: uint(u.inodesUsed / 1e6),
          inodes_used_percent: u.inodesUsedPercent,
          inodes_total: uint(u.inodesTotal),
          inodes_free: uint(u.inodesFree),
          inodes_used: uint(u.inodesUsed),
        },
        time,
      });
    }
    return out;
  }
}

export const disk = periodicInput<DiskConfig>({
  name: 'disk',
  description: 'Filesystem usage per mounted device (statfs)',
  schema,
  collector: (cfg, paths, ctx) => new DiskCollector(cfg, paths, (k, e) => ctx.acc.error(k, e)),
});
