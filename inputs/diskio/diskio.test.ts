import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { validate } from '../../agent/config/schema.js';
import { hostPaths } from '../../agent/host/paths.js';
import { waitFor } from '../../test/helpers/wait.js';
import { DiskioCollector, renderName } from './index.js';
import { schema, type DiskioConfig } from './config.js';

function config(raw: object): DiskioConfig {
  const r = validate(schema, raw);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.value;
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
        expect(p.fields[k] as bigint, k).toBeGreaterThanOrEqual(before.fields[k] as bigint);
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
