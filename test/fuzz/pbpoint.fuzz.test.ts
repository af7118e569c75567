import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { decodePBPoints, encodePBPoints } from '../../agent/model/pbpoint.js';
import { UInt, type FieldValue, type Point } from '../../agent/model/point.js';
import { decodeRecord, encodeRecord } from '../../agent/delivery/buffer/disk-buffer.js';
import { fuzz, inputs, RUNS, SEED } from './harness.js';

const sample: Point = {
  category: 'metric',
  name: 'cpu',
  tags: { host: 'h1' },
  fields: { f: 1.5, i: -3n, u: new UInt(2n ** 64n - 1n), b: true, s: 'str' },
  time: 1_700_000_000_000_000_000n,
};

/** Walks a protobuf message and returns [fieldNumber, wireType] pairs, descending into the given nested fields. */
function tagsOf(buf: Uint8Array): [number, number][] {
  const r = protobuf.Reader.create(buf);
  const out: [number, number][] = [];
  while (r.pos < r.len) {
    const t = r.uint32();
    out.push([t >>> 3, t & 7]);
    r.skipType(t & 7);
  }
  return out;
}

function nested(buf: Uint8Array, field: number): Uint8Array[] {
  const r = protobuf.Reader.create(buf);
  const out: Uint8Array[] = [];
  while (r.pos < r.len) {
    const t = r.uint32();
    if (t >>> 3 === field && (t & 7) === 2) out.push(r.bytes());
    else r.skipType(t & 7);
  }
  return out;
}

describe('PBPoints wire format matches GuanceCloud point.proto', () => {
  // Reference: GuanceCloud/cliutils point/point.proto — PBPoints{arr=1}, PBPoint{name=1, fields=2, time=3},
  // Field{key=1, oneof val{i=2 int64, u=3 uint64, f=4 double, b=5 bool, d=6 bytes, s=11 string}, is_tag=8, type=9, unit=10}.
  it('uses the reference field numbers and wire types', () => {
    const body = encodePBPoints([sample], 0n);
    expect(tagsOf(body)).toEqual([[1, 2]]);
    const pt = nested(body, 1)[0]!;
    const top = tagsOf(pt);
    expect(top[0]).toEqual([1, 2]); // name: string
    expect(top.filter(([n]) => n === 2).every(([, w]) => w === 2)).toBe(true); // fields: repeated message
    expect(top[top.length - 1]).toEqual([3, 0]); // time: int64 varint
    const fields = nested(pt, 2).map(tagsOf);
    const byKey = new Map<string, [number, number][]>();
    for (const f of nested(pt, 2)) {
      const key = protobuf.Reader.create(f);
      key.uint32();
      byKey.set(key.string(), tagsOf(f));
    }
    expect(fields.length).toBe(6);
    expect(byKey.get('host')!.sort((a, b) => a[0] - b[0])).toEqual([[1, 2], [8, 0], [11, 2]]); // tag: is_tag + s
    expect(byKey.get('i')).toEqual([[1, 2], [2, 0]]);
    expect(byKey.get('u')).toEqual([[1, 2], [3, 0]]);
    expect(byKey.get('f')).toEqual([[1, 2], [4, 1]]); // double: 64-bit
    expect(byKey.get('b')).toEqual([[1, 2], [5, 0]]);
    expect(byKey.get('s')).toEqual([[1, 2], [11, 2]]);
  });

  it('reads a hand-built message the way DataKit writes it (bytes field d, type and unit set)', () => {
    const w = protobuf.Writer.create();
    const field = protobuf.Writer.create();
    field.uint32((1 << 3) | 2).string('blob').uint32((6 << 3) | 2).bytes(Buffer.from('hi')).uint32((9 << 3) | 0).int32(3).uint32((10 << 3) | 2).string('B');
    const point = protobuf.Writer.create();
    point.uint32((1 << 3) | 2).string('m').uint32((2 << 3) | 2).bytes(field.finish()).uint32((3 << 3) | 0).int64(42);
    w.uint32((1 << 3) | 2).bytes(point.finish());
    expect(decodePBPoints(w.finish())).toEqual([{ name: 'm', tags: {}, fields: { blob: 'hi' }, time: 42n }]);
  });
});

const fieldValue: fc.Arbitrary<FieldValue> = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((v) => new UInt(v)),
  fc.boolean(),
  fc.string({ maxLength: 20, unit: 'grapheme' }),
);
const nonEmpty = fc.string({ minLength: 1, maxLength: 10, unit: 'grapheme' });
const key = nonEmpty;
const point: fc.Arbitrary<Point> = fc.record({
  category: fc.constant('logging' as const),
  name: nonEmpty,
  tags: fc.dictionary(key, nonEmpty, { maxKeys: 4 }),
  fields: fc.dictionary(key, fieldValue, { minKeys: 1, maxKeys: 4 }),
  // time 0 is proto3's default and reads back as "no time" (then stamped by the receiver): not generated.
  time: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).filter((t) => t !== 0n),
});

const decodeError = (e: unknown) => e instanceof Error && (!(e instanceof TypeError) || (e as { code?: string }).code === 'ERR_ENCODING_INVALID_ENCODED_DATA');

describe('protobuf points', () => {
  it('round-trip every field type (and through a disk buffer record)', () => {
    fc.assert(
      fc.property(fc.array(point, { maxLength: 5 }), (pts) => {
        // a key used both as a tag and a field keeps both (is_tag tells them apart)
        const back = decodePBPoints(encodePBPoints(pts, 0n));
        expect(back).toEqual(pts.map((p) => ({ name: p.name, tags: p.tags, fields: p.fields, time: p.time })));
        const rec = decodeRecord(encodeRecord('s', { category: 'logging', points: pts, defaultTime: 0n }));
        expect(rec.batch.points).toEqual(pts);
      }),
      { seed: SEED, numRuns: Math.min(RUNS, 200) },
    );
  });

  it('decoding random and mutated bodies never crashes the process', () => {
    const seeds = [encodePBPoints([sample, { ...sample, name: 'x', tags: {} }], 0n)];
    // protobufjs throws plain Errors/RangeErrors on malformed input, and TextDecoder a TypeError with a code on
    // invalid UTF-8; the callers turn any throw into a 400. A TypeError without a code is a bug.
    fuzz(inputs(seeds), (b) => {
      const pts = decodePBPoints(b);
      expect(pts.length).toBeLessThanOrEqual(b.length);
    }, { allowed: decodeError });
  });

  it('disk buffer records: random and mutated records throw plain errors only', () => {
    const seeds = [encodeRecord('dataway[0]', { category: 'metric', points: [sample], defaultTime: 0n })];
    fuzz(inputs(seeds), (b) => decodeRecord(b), { allowed: decodeError });
  });
});
