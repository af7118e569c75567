import { describe, expect, it } from 'vitest';
import { decodePBPoints, encodePBPoints } from './pbpoint.js';
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
});
