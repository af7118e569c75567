import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { hostPaths } from '../../agent/host/paths.js';
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
    expect(Number(s1.fields.uptime)).toBeGreaterThan(0);
    expect(Number(s1.fields.process_count)).toBeGreaterThan(0);
    const end = Date.now() + 100;
    while (Date.now() < end);
    const second = await c.collect();
    const s2 = second.find((p) => p.name === 'system')!;
    expect(s2.fields.cpu_total_usage as number).toBeGreaterThan(0);
    expect(s2.fields.cpu_total_usage as number).toBeLessThanOrEqual(100);
    expect(Number(s2.fields.uptime)).toBeGreaterThanOrEqual(Number(s1.fields.uptime));
    const fd = second.find((p) => p.name === 'filefd')!;
    expect(Number(fd.fields.allocated)).toBeGreaterThan(0);
    expect(fd.fields.maximum_mega as number).toBeGreaterThan(0);
    const ct = second.find((p) => p.name === 'conntrack');
    if (ct) expect(Number(ct.fields.entries_limit)).toBeGreaterThanOrEqual(Number(ct.fields.entries));
  });
});

describe('host input lifecycle', () => {
  it('start → stop → start → stop, each start collecting again', async () => {
    const { fakeContext } = await import('../../agent/host/fake-ctx.js');
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
