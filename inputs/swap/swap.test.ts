import { describe, expect, it } from 'vitest';
import { fieldNumber as n } from '../../agent/services/host/fields.js';
import { UInt } from '../../agent/model/point.js';
import { hostPaths } from '../../agent/services/host/paths.js';
import { SwapCollector, swapPoint } from './index.js';

describe('swap input', () => {
  it('reads the real /proc: total = used + free, percent in 0..100', async () => {
    const [p] = await new SwapCollector(hostPaths('')).collect();
    const f = p!.fields;
    expect(p!.name).toBe('swap');
    expect(n(f.used) + n(f.free)).toBe(n(f.total));
    expect(f.used_percent as number).toBeGreaterThanOrEqual(0);
    expect(f.used_percent as number).toBeLessThanOrEqual(100);
    expect(f.in).toBeInstanceOf(UInt);
    expect(f.out).toBeInstanceOf(UInt);
  });

  it('computes fields from meminfo and vmstat fixtures', () => {
    const p = swapPoint('SwapTotal: 1000 kB\nSwapFree: 750 kB\n', 'pswpin 3\npswpout 5\n');
    expect(p.fields).toEqual({ total: new UInt(1024000n), used: new UInt(256000n), free: new UInt(768000n), used_percent: 25, in: new UInt(12288n), out: new UInt(20480n) });
    expect(swapPoint('MemTotal: 1 kB\n', undefined).fields.used_percent).toBe(0);
  });
});
