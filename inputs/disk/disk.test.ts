import { describe, expect, it } from 'vitest';
import { fieldNumber as n } from '../../agent/services/host/fields.js';
import { validate } from '../../agent/config/schema.js';
import { validConfig } from '../../test/helpers/fake-context.js';
import { hostPaths } from '../../agent/services/host/paths.js';
import { parseMountinfo } from '../../agent/services/host/procfs.js';
import { DiskCollector } from './index.js';
import { selectMounts } from '../../agent/services/host/partitions.js';
import { schema, type DiskConfig } from './config.js';

function config(raw: object): DiskConfig {
  return validConfig(schema, raw);
}

const MOUNTINFO = [
  '1 0 254:0 / / rw - ext4 /dev/vda rw',
  '2 1 254:0 /var/lib /var/lib/docker rw - ext4 /dev/vda rw',
  '3 1 0:5 / /dev/shm rw - tmpfs tmpfs rw',
  '4 1 7:0 / /snap/core rw - squashfs /dev/loop0 ro',
  '5 1 0:50 / /mnt/nfs rw - nfs4 server:/export rw',
  '6 1 8:1 / /data rw - xfs /dev/sdb1 rw',
  '7 1 8:1 / /run/containerd/x rw - xfs /dev/sdb2 rw',
].join('\n');

describe('disk input', () => {
  it('selects mounts like DataKit: /dev devices, merged, fstype and mount point filters', () => {
    const mounts = parseMountinfo(MOUNTINFO);
    const phys = new Set(['ext4', 'xfs', 'squashfs']);
    const pick = (raw: object) => selectMounts(mounts, config(raw), phys).map((m) => `${m.device}@${m.mountPoint}`);
    expect(pick({})).toEqual(['/dev/vda@/', '/dev/sdb1@/data']);
    expect(pick({ merge_on_device: false })).toEqual(['/dev/vda@/', '/dev/sdb1@/data', '/dev/vda@/var/lib/docker']);
    expect(pick({ extra_device: ['server:/export'] })).toContain('server:/export@/mnt/nfs');
    expect(pick({ exclude_device: ['/dev/sdb1'] })).toEqual(['/dev/vda@/']);
    expect(pick({ ignore_fstypes: '^xfs$', ignore_mountpoints: '^$' })).toEqual(['/dev/vda@/', '/dev/loop0@/snap/core']);
    expect(pick({ only_physical_device: true, ignore_fstypes: '^$', ignore_mountpoints: '^$', extra_device: ['server:/export'] })).not.toContain('server:/export@/mnt/nfs');
  });

  it('reports usage of the real root filesystem with sane values', async () => {
    const errors: unknown[] = [];
    const pts = await new DiskCollector(config({}), hostPaths(''), (_k, e) => errors.push(e)).collect();
    expect(errors).toEqual([]);
    expect(pts.length).toBeGreaterThan(0);
    for (const p of pts) {
      expect(p.name).toBe('disk');
      expect(p.tags.device).toMatch(/^\/dev\//);
      expect(p.tags.mount_point).toBeTruthy();
      expect(p.tags.fstype).toBeTruthy();
      const f = p.fields;
      expect(n(f.total)).toBeGreaterThan(0);
      expect(n(f.used)).toBeLessThanOrEqual(n(f.total));
      expect(f.used_percent as number).toBeGreaterThanOrEqual(0);
      expect(f.used_percent as number).toBeLessThanOrEqual(100);
      expect(f.inodes_used_percent as number).toBeGreaterThanOrEqual(0);
      expect(f.inodes_used_percent as number).toBeLessThanOrEqual(100);
    }
  });

  it('rejects a bad regex at config time', () => {
    expect(validate(schema, { ignore_fstypes: '(' }).ok).toBe(false);
  });
});
