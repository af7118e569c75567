import { describe, expect, it } from 'vitest';
import { hostPaths } from '../../agent/host/paths.js';
import { SwapCollector, swapPoint } from './index.js';

describe('swap input', () => {
  it('reads the real /proc: total = used + free, percent in 0..100', async () => {
    const [p] = await new SwapCollector(hostPaths('')).collect();
    const f = p!.fields;
    expect(p!.name).toBe('swap');
    expect((f.used as bigint) + (f.free as bigint)).toBe(f.total);
    expect(f.used_percent as number).toBeGreaterThanOrEqual(0);
    expect(f.used_percent as number).toBeLessThanOrEqual(100);
    expect(typeof f.in).toBe('bigint');
    expect(typeof f.out).toBe('bigint');
  });

  it('computes fields from meminfo and vmstat fixtures', () => {
    const p = swapPoint('SwapTotal: 1000 kB\nSwapFree: 750 kB\n', 'pswpin 3\npswpout 5\n');
    expect(p.fields).toEqual({ total: 1024000n, used: 256000n, free: 768000n, used_percent: 25, in: 12288n, out: 20480n });
    expect(swapPoint('MemTotal: 1 kB\n', undefined).fields.used_percent).toBe(0);
  });
});
