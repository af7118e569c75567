import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encodeLine } from '../../model/lineproto.js';
import type { Point } from '../../model/point.js';
import { encodeV1, encodeRecords } from './encode.js';

/** The straightforward split: lines joined per body, a body cut before the line that would pass maxBytes. */
function reference(points: Point[], maxBytes: number): { text: string; points: number }[] {
  const out: { text: string; points: number }[] = [];
  let text = '';
  let n = 0;
  for (const p of points) {
    const l = encodeLine(p, 1n);
    if (l === undefined) continue;
    if (n > 0 && Buffer.byteLength(text) + Buffer.byteLength(l) + 1 > maxBytes) {
      out.push({ text, points: n });
      text = '';
      n = 0;
    }
    text += l + '\n';
    n++;
  }
  if (n > 0) out.push({ text, points: n });
  return out;
}

const point = fc.record({
  name: fc.string({ minLength: 0, maxLength: 8 }),
  msg: fc.string({ unit: 'binary', maxLength: 300 }),
  v: fc.oneof(fc.double(), fc.constant(NaN)),
});

describe('encodeV1', () => {
  it('splits bodies exactly like joining lines would, multi-byte text and over-long lines included', () => {
    fc.assert(
      fc.property(fc.array(point, { maxLength: 60 }), fc.integer({ min: 1, max: 2000 }), (ps, maxBytes) => {
        const points: Point[] = ps.map((x) => ({ category: 'logging', name: x.name, tags: { t: 'é' }, fields: { message: x.msg, v: x.v }, time: 1n }));
        const got = encodeV1(points, 1n, maxBytes).map((b) => ({ text: b.data.toString('utf8'), points: b.points }));
        expect(got).toEqual(reference(points, maxBytes));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps each body within maxBytes unless a single line is larger', () => {
    const points: Point[] = Array.from({ length: 3000 }, (_, i) => ({ category: 'tracing', name: 'ddtrace', tags: { service: 's' }, fields: { message: '"x"'.repeat(i % 700) }, time: 1n }));
    const bodies = encodeV1(points, 1n, 1 << 20);
    expect(bodies.reduce((a, b) => a + b.points, 0)).toBe(3000);
    for (const b of bodies) expect(b.data.length).toBeLessThanOrEqual(1 << 20);
    const huge = encodeV1([{ category: 'logging', name: 'm', tags: {}, fields: { message: 'ü'.repeat(3 << 20) } }], 1n, 1 << 20);
    expect(huge).toHaveLength(1);
    expect(huge[0]!.data.length).toBeGreaterThan(6 << 20);
  });
});

describe('encodeRecords', () => {
  it('gives the same bodies from pre-encoded lines as encodeV1 from the points', () => {
    fc.assert(
      fc.property(fc.array(point, { maxLength: 60 }), fc.integer({ min: 1, max: 2000 }), (ps, maxBytes) => {
        const points: Point[] = ps.map((x) => ({ category: 'logging', name: x.name, tags: { t: 'é' }, fields: { message: x.msg, v: x.v }, time: 1n }));
        const ends: number[] = [];
        let text = '';
        for (const p of points) {
          const l = encodeLine(p, 1n);
          if (l === undefined) continue;
          text += l + '\n';
          ends.push(Buffer.byteLength(text));
        }
        const data = Buffer.concat([Buffer.from(text), Buffer.from('garbage past the last line')]);
        const got = encodeRecords({ data, ends }, maxBytes).map((b) => ({ text: b.data.toString('utf8'), points: b.points }));
        expect(got).toEqual(encodeV1(points, 1n, maxBytes).map((b) => ({ text: b.data.toString('utf8'), points: b.points })));
      }),
      { numRuns: 300 },
    );
  });
});
