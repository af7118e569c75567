import { describe, expect, it } from 'vitest';
import { validate } from '../../agent/config/schema.js';
import { hostPaths } from '../../agent/services/host/paths.js';
import { fakeContext, validConfig } from '../../test/helpers/fake-context.js';
import { CpuCollector, cpu } from './index.js';
import { schema, type CpuConfig } from './config.js';

function config(raw: object): CpuConfig {
  return validConfig(schema, raw);
}

function burn(ms: number): void {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) x += Math.sqrt(x + 1);
}

describe('cpu input (real /proc)', () => {
  it('primes on the first collection, then reports sane percentages', async () => {
    const c = new CpuCollector(config({ percpu: true }), hostPaths(''));
    expect(await c.collect()).toEqual([]);
    burn(300);
    const pts = await c.collect();
    const total = pts.find((p) => p.tags.cpu === 'cpu-total')!;
    expect(total).toBeDefined();
    expect(pts.length).toBeGreaterThan(1); // per-core points too
    for (const p of pts) {
      expect(p.category).toBe('metric');
      expect(p.name).toBe('cpu');
      for (const k of ['usage_user', 'usage_system', 'usage_idle', 'usage_iowait', 'usage_total', 'usage_nice', 'usage_steal']) {
        const v = p.fields[k] as number;
        expect(typeof v).toBe('number');
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(100);
      }
    }
    // we burned CPU on one core: total usage is above zero and equals 100 - idle
    expect(total.fields.usage_total as number).toBeGreaterThan(0);
    expect((total.fields.usage_total as number) + (total.fields.usage_idle as number)).toBeCloseTo(100, 5);
    expect(typeof total.fields.load5s).toBe('bigint');
  });

  it('emits only cpu-total by default and validates its options', () => {
    expect(config({}).percpu).toBe(false);
    expect(validate(schema, { percpu: 'yes' }).ok).toBe(false);
    expect(validate(schema, { nonsense: 1 }).ok).toBe(false);
    expect(validate(schema, { totalcpu: true, collect_cpu_time: false }).ok).toBe(true);
  });

  it('runs as an input: points reach the accumulator, stop is idempotent', async () => {
    const ctx = fakeContext('cpu');
    const input = cpu.create(config({ interval: '1s' }), ctx);
    await input.start();
    const tick = () => (input as unknown as { tick(): Promise<void> }).tick();
    await tick(); // the priming collection started by start()
    burn(100);
    await tick();
    await input.stop();
    await input.stop();
    expect(ctx.errors).toEqual([]);
    expect(ctx.points.some((p) => p.tags.cpu === 'cpu-total')).toBe(true);
  });

  it('counts an error when /proc is missing and keeps going', async () => {
    const ctx = fakeContext('cpu');
    const input = cpu.create(config({ host_root: '/nonexistent-root' }), ctx);
    await input.start();
    await (input as unknown as { tick(): Promise<void> }).tick();
    await input.stop();
    expect(ctx.errors.length).toBeGreaterThan(0);
    expect(ctx.errors[0]!.kind).toBe('collect');
  });
});

describe('cpu under a host root', () => {
  it('reads /proc/stat, load and hwmon temperatures below host_root', async () => {
    const { fakeRoot } = await import('../../agent/services/host/fake-root.js');
    const r = fakeRoot({
      'proc/stat': 'cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 100 0 100 800 0 0 0 0 0 0\n',
      'proc/loadavg': '2.00 1.00 0.50 1/100 1\n',
      'sys/class/hwmon/hwmon0/name': 'coretemp\n',
      'sys/class/hwmon/hwmon0/temp1_input': '40000\n',
      'sys/class/hwmon/hwmon0/temp2_input': '50000\n',
      'sys/class/hwmon/hwmon1/name': 'nvme\n',
      'sys/class/hwmon/hwmon1/temp1_input': '90000\n',
    });
    try {
      const c = new CpuCollector(config({ host_root: r.root }), hostPaths(r.root));
      expect(await c.collect()).toEqual([]);
      r.write('proc/stat', 'cpu  150 0 150 900 0 0 0 0 0 0\ncpu0 150 0 150 900 0 0 0 0 0 0\n');
      const [p] = await c.collect();
      expect(p!.fields).toMatchObject({ usage_user: 25, usage_system: 25, usage_idle: 50, usage_total: 50, core_temperature: 45 });
      expect(typeof p!.fields.load5s).toBe('bigint');
    } finally {
      r.remove();
    }
  });
});
