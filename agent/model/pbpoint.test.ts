import { describe, expect, it } from 'vitest';
import { appendPBRecord, decodePBPoints, encodePBPoints } from './pbpoint.js';
import { LineBuf } from './linebuf.js';
import { UInt, Utf8String, type Point } from './point.js';

describe('v2 protobuf points', () => {
  it('round-trips every field type, strings held as UTF-8 bytes as strings', () => {
    const p: Point = {
      category: 'tracing',
      name: 'ddtrace',
      tags: { service: 'web', env: 'prod' },
      fields: { message: new Utf8String(Buffer.from('{"a":"é \\"q\\""}')), s: 'plain', f: 1.5, i: -3n, u: new UInt(2n ** 64n - 1n), b: true },
      time: 1_714_557_600_000_000_123n,
    };
    const [d] = decodePBPoints(encodePBPoints([p], 0n));
    expect(d).toEqual({ name: 'ddtrace', tags: { service: 'web', env: 'prod' }, fields: { message: '{"a":"é \\"q\\""}', s: 'plain', f: 1.5, i: -3n, u: new UInt(2n ** 64n - 1n), b: true }, time: 1_714_557_600_000_000_123n });
  });

  it('writes one record per point that, back to back, are the PBPoints body of those points', () => {
    const points: Point[] = Array.from({ length: 40 }, (_, i): Point => ({
      category: 'tracing',
      name: i % 7 === 0 ? '' : `m${i}`,
      tags: i % 3 === 0 ? { k: `v${i}`, empty: '' } : { k: `v${i}` },
      fields: i % 5 === 0 ? ({ nan: NaN } as Point['fields']) : ({ message: new Utf8String(Buffer.from('x'.repeat(i * 10))), n: i, big: BigInt(i) * 10n ** 15n } as Point['fields']),
      time: i % 2 === 0 ? BigInt(i) : undefined,
    }));
    const out = new LineBuf(64); // grows
    const written = points.map((p) => appendPBRecord(out, p, 99n));
    // points without a name or a representable field have no record, as encodePBPoints leaves them out
    expect(written.filter((w) => !w).length).toBe(points.filter((p, i) => p.name === '' || i % 5 === 0).length);
    expect(out.ends.length).toBe(written.filter(Boolean).length);
    expect(out.data.subarray(0, out.off)).toEqual(Buffer.from(encodePBPoints(points, 99n)));
    // each record alone is a PBPoints body of one point
    const [a, b] = [out.ends[0]!, out.ends[1]!];
    expect(decodePBPoints(out.data.subarray(a, b)).map((d) => d.name)).toEqual(['m2']);
  });
});
