import { describe, expect, it } from 'vitest';
import { fieldNumber as n } from '../../agent/services/host/fields.js';
import { UInt } from '../../agent/model/point.js';
import { hostPaths } from '../../agent/services/host/paths.js';
import { validate } from '../../agent/config/schema.js';
import { MemCollector } from './index.js';
import { schema } from './config.js';

describe('mem input (real /proc)', () => {
  it('reports DataKit mem fields with sane values', async () => {
    const [p] = await new MemCollector(hostPaths('')).collect();
    expect(p!.name).toBe('mem');
    expect(p!.category).toBe('metric');
    const f = p!.fields;
    for (const k of ['total', 'available', 'used', 'free', 'buffered', 'cached', 'active', 'inactive', 'shared', 'slab', 'swap_total', 'commit_limit']) {
      expect(f[k], k).toBeInstanceOf(UInt); // uint64 in DataKit
    }
    const total = n(f.total);
    expect(total).toBeGreaterThan(0);
    expect(n(f.used)).toBeLessThanOrEqual(total);
    expect(n(f.available)).toBeLessThanOrEqual(total);
    for (const k of ['used_percent', 'available_percent']) {
      expect(f[k] as number).toBeGreaterThan(0);
      expect(f[k] as number).toBeLessThanOrEqual(100);
    }
    expect((n(f.used) / total) * 100).toBeCloseTo(f.used_percent as number, 6);
  });

  it('has DataKit defaults and rejects unknown options', () => {
    const r = validate(schema, {});
    expect(r.ok && r.value.interval).toBe(10_000);
    expect(validate(schema, { intervall: '1s' }).ok).toBe(false);
  });
});
