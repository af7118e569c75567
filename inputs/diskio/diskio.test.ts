import fs from 'node:fs';
import { fieldNumber as n } from '../../agent/services/host/fields.js';
import { UInt } from '../../agent/model/point.js';
import { describe, expect, it } from 'vitest';
import { validConfig } from '../../test/helpers/fake-context.js';
import { hostPaths } from '../../agent/services/host/paths.js';
import { waitFor } from '../../test/helpers/wait.js';
import { DiskioCollector, renderName } from './index.js';
import { schema, type DiskioConfig } from './config.js';

function config(raw: object): DiskioConfig {
  return validConfig(schema, raw);
}

describe('diskio input', () => {
  it('reads the real /proc/diskstats; counters never fall and rates appear on the second collection', async () => {
    const c = new DiskioCollector(config({}), hostPaths(''));
    const first = await c.collect();
    const t0 = Date.now();
    expect(first.length).toBeGreaterThan(0);
    expect(first.every((p) => p.fields['read_bytes/sec'] === undefined)).toBe(true);
    fs.writeFileSync(`/tmp/telekit-diskio-${process.pid}`, Buffer.alloc(1 << 16));
    fs.rmSync(`/tmp/telekit-diskio-${process.pid}`);
    await waitFor(() => Date.now() > t0 + 5); // a rate needs some elapsed time
    const second = await c.collect();
    for (const p of second) {
      const before = first.find((x) => x.tags.name === p.tags.name)!;
      expect(p.tags.name).toMatch(/^\/dev\//);
      expect(p.tags.serial).toBeTruthy();
      for (const k of ['reads', 'writes', 'read_bytes', 'write_bytes', 'io_time', 'weighted_io_time']) {
        expect(n(p.fields[k]), k).toBeGreaterThanOrEqual(n(before.fields[k]));
      }
      expect(p.fields['read_bytes/sec'] as bigint).toBeGreaterThanOrEqual(0n);
      expect(p.fields['write_bytes/sec'] as bigint).toBeGreaterThanOrEqual(0n);
    }
  });

  it('filters devices by regex and renders name templates', async () => {
    const pts = await new DiskioCollector(config({ devices: ['^loop0$'], skip_serial_number: true }), hostPaths('')).collect();
    expect(pts.map((p) => p.tags.name)).toEqual(fs.existsSync('/sys/block/loop0') ? ['/dev/loop0'] : []);
    expect(pts.every((p) => p.tags.serial === undefined)).toBe(true);
    expect(renderName(['$ID_FS_LABEL', '${DM_VG_NAME}/${DM_LV_NAME}', '$device:x'], { DM_VG_NAME: 'vg', DM_LV_NAME: 'root' }, '/dev/dm-0')).toBe('vg/root');
    expect(renderName(['$NOPE', '$device:x'], {}, '/dev/sda')).toBe('/dev/sda:x');
    expect(renderName(['$NOPE'], {}, '/dev/sda')).toBeUndefined();
  });
});

describe('diskio under a host root (as in a pod with the host at /rootfs)', () => {
  it('reads diskstats and udev data below host_root: serial, device_tags, name templates, DEVLINKS filter', async () => {
    const os = await import('node:os');
    const path = await import('node:path');
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'telekit-rootfs-'));
    try {
      fs.mkdirSync(path.join(root, 'proc'), { recursive: true });
      fs.mkdirSync(path.join(root, 'run/udev/data'), { recursive: true });
      fs.writeFileSync(
        path.join(root, 'proc/diskstats'),
        '   8       0 sda 100 5 2000 40 50 6 800 30 0 60 70 0 0 0 0\n 253       0 dm-0 10 0 80 4 5 0 40 3 0 6 7 0 0 0 0\n',
      );
      fs.writeFileSync(path.join(root, 'run/udev/data/b8:0'), 'S:disk/by-id/ata-X\nE:ID_SERIAL=ATA_DISK_123\nE:ID_FS_TYPE=ext4\nE:DEVLINKS=/dev/disk/by-id/ata-X /dev/disk/by-path/pci-0\n');
      fs.writeFileSync(path.join(root, 'run/udev/data/b253:0'), 'E:DM_VG_NAME=vg0\nE:DM_LV_NAME=root\n');
      const c = new DiskioCollector(config({ host_root: root, device_tags: ['ID_FS_TYPE'], name_templates: ['${DM_VG_NAME}/${DM_LV_NAME}'] }), hostPaths(root));
      const pts = await c.collect();
      expect(pts.map((p) => p.tags)).toEqual([
        { name: '/dev/sda', ID_FS_TYPE: 'ext4', serial: 'ATA_DISK_123' },
        { name: 'vg0/root', serial: 'unknown' },
      ]);
      expect(pts[0]!.fields).toMatchObject({ reads: new UInt(100n), read_bytes: new UInt(1_024_000n), write_bytes: new UInt(409_600n), io_time: new UInt(60n) });
      const only = await new DiskioCollector(config({ devices: ['by-path/pci-0$'] }), hostPaths(root)).collect();
      expect(only.map((p) => p.tags.name)).toEqual(['/dev/sda']);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
