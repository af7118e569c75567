import os from 'node:os';
import { fieldNumber as n } from '../../agent/services/host/fields.js';
import { describe, expect, it } from 'vitest';
import { validate } from '../../agent/config/schema.js';
import { hostPaths } from '../../agent/services/host/paths.js';
import { fakeContext, validConfig } from '../../test/helpers/fake-context.js';
import { HostobjectCollector, TELEKIT_VERSION } from './index.js';
import { parseCpuinfo, parseOsRelease } from './hostinfo.js';
import { schema, type HostobjectConfig } from './config.js';

function config(raw: object): HostobjectConfig {
  return validConfig(schema, raw);
}

describe('hostobject input (real /proc)', () => {
  it('emits one HOST object with facts and sane summary fields', async () => {
    const ctx = fakeContext('hostobject', { host: { ip: '10.0.0.1' } });
    const [p] = await new HostobjectCollector(config({}), hostPaths(''), ctx).collect();
    expect(ctx.errors).toEqual([]);
    expect(p!.category).toBe('object');
    expect(p!.name).toBe('HOST');
    expect(p!.tags).toMatchObject({ name: 'test-host', os: 'linux', arch: os.machine(), unicast_ip: '10.0.0.1' });
    const f = p!.fields;
    for (const k of ['cpu_usage', 'mem_used_percent', 'disk_used_percent']) {
      expect(f[k] as number, k).toBeGreaterThanOrEqual(0);
      expect(f[k] as number, k).toBeLessThanOrEqual(100);
    }
    expect(Number(f.num_cpu)).toBe(os.cpus().length);
    expect(n(f.start_time)).toBeLessThan(Date.now());
    expect(n(f.start_time)).toBeGreaterThan(Date.now() - os.uptime() * 1000 - 5000);
    expect(n(f.disk_total)).toBeGreaterThan(0);
    expect(f.datakit_ver).toBe(TELEKIT_VERSION);
    expect(TELEKIT_VERSION).toMatch(/^\d+\.\d+\.\d+/);
    const msg = JSON.parse(f.message as string);
    expect(msg.host.meta.host_name).toBe('test-host');
    expect(msg.host.meta.kernel_release).toBe(os.release());
    expect(msg.host.mem.memory_total).toBeGreaterThan(0);
    expect(msg.host.disk.length).toBeGreaterThan(0);
    expect(msg.config.ip).toBe('10.0.0.1');
  });

  it('parses cpuinfo per package and os-release', () => {
    const ci = parseCpuinfo(
      'processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Xeon\ncpu MHz\t\t: 2000.5\ncache size\t: 1024 KB\nphysical id\t: 0\ncpu cores\t: 2\n\n' +
        'processor\t: 1\nvendor_id\t: GenuineIntel\nmodel name\t: Xeon\nphysical id\t: 0\ncpu cores\t: 2\n',
    );
    expect(ci).toEqual([{ vendor_id: 'GenuineIntel', module_name: 'Xeon', cores: 2, mhz: 2000.5, cache_size: 1024 }]);
    expect(parseOsRelease('ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12"\n')).toMatchObject({ ID: 'debian', VERSION_ID: '12' });
  });

  it('has DataKit defaults (5m interval, zero-byte disks ignored)', () => {
    const c = config({});
    expect(c.interval).toBe(300_000);
    expect(c.ignore_zero_bytes_disk).toBe(true);
    expect(validate(schema, { name: 'old', class: 'x', cloud_meta_url: { aliyun: 'http://x' } }).ok).toBe(true);
  });
});
