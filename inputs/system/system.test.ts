import os from 'node:os';
import { fieldNumber as n } from '../../agent/services/host/fields.js';
import { describe, expect, it } from 'vitest';
import { hostPaths } from '../../agent/services/host/paths.js';
import { SystemCollector } from './index.js';

describe('system input (real /proc)', () => {
  it('reports load, cpus, memory, uptime; cpu_total_usage from the second collection', async () => {
    const c = new SystemCollector(hostPaths(''));
    const first = await c.collect();
    const s1 = first.find((p) => p.name === 'system')!;
    expect(s1.fields.cpu_total_usage).toBeUndefined();
    expect(Number(s1.fields.n_cpus)).toBe(os.cpus().length);
    expect(s1.fields.load1 as number).toBeGreaterThanOrEqual(0);
    expect(s1.fields.memory_usage as number).toBeGreaterThan(0);
    expect(s1.fields.memory_usage as number).toBeLessThanOrEqual(100);
    expect(n(s1.fields.uptime)).toBeGreaterThan(0);
    expect(Number(s1.fields.process_count)).toBeGreaterThan(0);
    const end = Date.now() + 100;
    while (Date.now() < end);
    const second = await c.collect();
    const s2 = second.find((p) => p.name === 'system')!;
    expect(s2.fields.cpu_total_usage as number).toBeGreaterThan(0);
    expect(s2.fields.cpu_total_usage as number).toBeLessThanOrEqual(100);
    expect(n(s2.fields.uptime)).toBeGreaterThanOrEqual(n(s1.fields.uptime));
    const fd = second.find((p) => p.name === 'filefd')!;
    expect(Number(fd.fields.allocated)).toBeGreaterThan(0);
    expect(fd.fields.maximum_mega as number).toBeGreaterThan(0);
    const ct = second.find((p) => p.name === 'conntrack');
    if (ct) expect(Number(ct.fields.entries_limit)).toBeGreaterThanOrEqual(Number(ct.fields.entries));
  });
});

describe('host input lifecycle', () => {
  it('start → stop → start → stop, each start collecting again', async () => {
    const { fakeContext } = await import('../../test/helpers/fake-context.js');
    const { system } = await import('./index.js');
    const { validate } = await import('../../agent/config/schema.js');
    const { schema } = await import('./config.js');
    const cfg = validate(schema, {});
    if (!cfg.ok) throw new Error('bad config');
    const ctx = fakeContext('system');
    for (let i = 1; i <= 2; i++) {
      const input = system.create(cfg.value, ctx);
      await input.start();
      await input.stop(); // waits for the collection start() began
      expect(ctx.points.filter((p) => p.name === 'system')).toHaveLength(i);
    }
    expect(ctx.errors).toEqual([]);
  });
});

describe('system under a host root', () => {
  it('reads conntrack, file-nr, utmp and counts processes below host_root', async () => {
    const { fakeRoot } = await import('../../agent/services/host/fake-root.js');
    const utmp = Buffer.alloc(384 * 2);
    utmp.writeInt32LE(7, 0);
    const r = fakeRoot({
      'proc/stat': 'cpu  1 0 1 8 0 0 0 0 0 0\ncpu0 1 0 1 8 0 0 0 0 0 0\ncpu1 0 0 0 0 0 0 0 0 0 0\nbtime 1700000000\n',
      'proc/loadavg': '1.00 0.50 0.25 1/10 5\n',
      'proc/meminfo': 'MemTotal: 1000 kB\nMemFree: 500 kB\nBuffers: 0 kB\nCached: 0 kB\n',
      'proc/uptime': '1234.5 100.0\n',
      'proc/1/stat': '',
      'proc/42/stat': '',
      'proc/sys/net/netfilter/nf_conntrack_count': '12\n',
      'proc/sys/net/netfilter/nf_conntrack_max': '65536\n',
      'proc/net/stat/nf_conntrack': 'entries searched found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error expect_new expect_create expect_delete search_restart\n0000000c 00000000 00000005 00000000 00000002 00000001 00000000 00000000 00000003 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000004\n',
      'proc/sys/fs/file-nr': '2048\t0\t9223372\n',
    });
    r.write('run/utmp', utmp.toString('latin1'));
    try {
      const pts = await new SystemCollector(hostPaths(r.root)).collect();
      const sys = pts.find((p) => p.name === 'system')!;
      expect(sys.fields).toMatchObject({ n_cpus: 2n, load1: 1, load1_per_core: 0.5, memory_usage: 50, process_count: 2n, n_users: 1n });
      expect(n(sys.fields.uptime)).toBe(1234);
      expect(pts.find((p) => p.name === 'conntrack')!.fields).toMatchObject({ entries: 12n, entries_limit: 65536n, stat_found: 5n, stat_invalid: 2n, stat_ignore: 1n, stat_insert: 3n, stat_search_restart: 4n });
      expect(pts.find((p) => p.name === 'filefd')!.fields).toEqual({ allocated: 2048n, maximum_mega: 9.223372 });
    } finally {
      r.remove();
    }
  });
});
