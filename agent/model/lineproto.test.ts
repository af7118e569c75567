import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeLines, encodeLine, encodeLines, LineProtocolError } from './lineproto.js';
import { LineBuf } from './linebuf.js';
import { UInt, Utf8String, type FieldValue, type Point } from './point.js';

describe('line protocol encoding', () => {
  it('escapes measurement, tag and field keys, and string values as InfluxDB does', () => {
    const p: Point = {
      category: 'metric',
      name: 'my measure,x',
      tags: { 'tag key': 'a=b,c d', 'back\\slash': 'v\\' },
      fields: { 'f=1': 'say "hi"\\ and\nnewline', i: 5n, u: new UInt(7n), b: false, f: 1.5 },
      time: 1n,
    };
    expect(encodeLine(p)).toBe(
      'my\\ measure\\,x,tag\\ key=a\\=b\\,c\\ d,back\\\\slash=v\\\\ f\\=1="say \\"hi\\"\\\\ and\nnewline",i=5i,u=7u,b=false,f=1.5 1',
    );
  });

  it('leaves out non-finite floats, empty tags, and points without fields', () => {
    expect(encodeLine({ category: 'metric', name: 'm', tags: { a: '' }, fields: { x: NaN, y: Infinity, z: 2 } })).toBe('m z=2');
    expect(encodeLine({ category: 'metric', name: 'm', tags: {}, fields: { x: NaN } })).toBeUndefined();
    expect(encodeLines([{ category: 'metric', name: 'm', tags: {}, fields: {} }], 1n)).toBe('');
  });

  it('escapes only " and \\ in string fields, whichever escaping path the value takes', () => {
    // JSON-like text (the JSON.stringify path), control characters, a lone surrogate and a pair (the replace path)
    const values = ['{"a":"b\\"c","d":[1]}', 'tab\tand\u0001"q"\\', 'lone \ud800 "x"', 'pair \ud83d\ude00 "x" \\', '\u2028\u007f"', ''];
    for (const v of values) {
      const line = encodeLine({ category: 'logging', name: 'm', tags: {}, fields: { v } }, 1n)!;
      expect(line).toBe(`m v="${v.replace(/["\\]/g, '\\$&')}" 1`);
      expect(decodeLines(line)[0]!.fields.v).toBe(v);
    }
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (v) => {
        expect(encodeLine({ category: 'logging', name: 'm', tags: {}, fields: { v } }, 1n)).toBe(`m v="${v.replace(/["\\]/g, '\\$&')}" 1`);
      }),
    );
  });

  it('replaces newlines in names and tags with spaces (line protocol cannot carry them)', () => {
    expect(encodeLine({ category: 'logging', name: 'a\nb', tags: { t: 'x\ny' }, fields: { v: 1 } })).toBe('a\\ b,t=x\\ y v=1');
  });
});

describe('line protocol decoding', () => {
  it('reports the line number of a malformed line', () => {
    expect(() => decodeLines('m v=1\nm v=1 notatime\n')).toThrowError(LineProtocolError);
    expect(() => decodeLines('m v=1\n\nm\n')).toThrowError(/line 3/);
    expect(() => decodeLines('m v="unterminated\n')).toThrowError(/unterminated/);
    expect(() => decodeLines('m v=99999999999999999999i')).toThrowError(/out of range/);
  });

  it('refuses a line without fields, also as the last line without a newline', () => {
    expect(() => decodeLines('m,t=v ')).toThrowError(/line 1: missing fields/);
    expect(() => decodeLines('m v=1\nm,t=v')).toThrowError(/line 2: missing fields/);
  });

  it('keeps keys named __proto__ as ordinary keys', () => {
    const [p] = decodeLines('m,__proto__=t __proto__=1i');
    expect(Object.keys(p!.tags)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(p!.tags)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(p!.fields, '__proto__')?.value).toBe(1n);
  });

  it('applies the precision', () => {
    expect(decodeLines('m v=1 1700000000', 1_000_000_000n)[0]!.time).toBe(1_700_000_000_000_000_000n);
  });
});

// Property: decode(encode(p)) == p for any representable point.
const key = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !/[\n\r]/.test(s) && !s.startsWith('#') && s.trim() === s && s !== '');
const tagValue = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !/[\n\r]/.test(s));
const field: fc.Arbitrary<FieldValue> = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((v) => new UInt(v)),
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "grapheme", maxLength: 8 }),
  fc.boolean(),
);
const point = fc.record({
  name: key.filter((s) => !s.startsWith(' ')),
  tags: fc.dictionary(key, tagValue, { maxKeys: 4 }),
  fields: fc.dictionary(key, field, { minKeys: 1, maxKeys: 4 }),
  time: fc.bigInt({ min: 0n, max: 2n ** 62n }),
});

describe('line protocol round trip (property)', () => {
  it('decodes what it encodes', () => {
    fc.assert(
      fc.property(fc.array(point, { minLength: 1, maxLength: 5 }), (pts) => {
        const text = encodeLines(pts.map((p) => ({ ...p, category: 'metric' as const })), 0n);
        const back = decodeLines(text);
        expect(back).toHaveLength(pts.length);
        back.forEach((b, i) => {
          const p = pts[i]!;
          expect(b.name).toBe(p.name);
          expect(b.tags).toEqual(p.tags);
          expect(b.time).toBe(p.time);
          for (const [k, v] of Object.entries(p.fields)) {
            const got = b.fields[k];
            if (typeof v === 'number') expect(got).toBe(v === 0 ? 0 : v); // -0 encodes as 0
            else expect(got).toEqual(v);
          }
        });
      }),
      { numRuns: 500, seed: 42 },
    );
  });
});

describe('LineBuf (the queue-time writer)', () => {
  const written = (pts: Point[], t = 5n): string => {
    const b = new LineBuf(16);
    for (const p of pts) b.point(p, t);
    return b.data.toString('utf8', 0, b.off);
  };
  const utf8 = (s: string) => new Utf8String(Buffer.from(s, 'utf8'));

  it('writes what encodeLine writes, strings held as UTF-8 bytes included (property)', () => {
    fc.assert(
      fc.property(fc.array(point, { minLength: 1, maxLength: 5 }), fc.boolean(), fc.string({ minLength: 64, maxLength: 90 }), (pts, asBytes, long) => {
        // a long string takes the writer's direct path when it has nothing to escape
        const ps = pts.map((p, i) => ({ ...p, category: 'metric' as const, fields: i === 0 ? { ...p.fields, long } : p.fields }));
        const expected = encodeLines(ps, 0n);
        const asUtf8 = ps.map((p) => ({ ...p, fields: Object.fromEntries(Object.entries(p.fields).map(([k, v]) => [k, asBytes && typeof v === 'string' ? utf8(v) : v])) }));
        // the writer puts byte fields last; decoding compares the values, not their order
        expect(decodeLines(written(asUtf8, 0n))).toEqual(decodeLines(expected));
        if (!asBytes) expect(written(ps, 0n)).toBe(expected);
      }),
      { numRuns: 300, seed: 7 },
    );
  });

  it('escapes quotes and backslashes in long strings and in byte fields', () => {
    const long = 'x'.repeat(70);
    const line = written([{ category: 'logging', name: 'a', tags: {}, fields: { m: long, q: long + '"\\', j: utf8('{"k":"v\\"}'), plain: utf8('é ok') }, time: 1n }]);
    expect(line).toBe(`a m="${long}",q="${long}\\"\\\\",j="{\\"k\\":\\"v\\\\\\"}",plain="é ok" 1\n`);
    expect(decodeLines(line)[0]!.fields).toEqual({ m: long, q: long + '"\\', j: '{"k":"v\\"}', plain: 'é ok' });
  });

  it('escapes a frozen tags object once and reuses the text for every point', () => {
    const tags = Object.freeze({ 'a b': 'c,d', e: 'f' });
    expect(written([{ category: 'logging', name: 'm', tags, fields: { v: 1 }, time: 1n }, { category: 'logging', name: 'm', tags, fields: { v: 2 }, time: 2n }])).toBe('m,a\\ b=c\\,d,e=f v=1 1\nm,a\\ b=c\\,d,e=f v=2 2\n');
  });

  it('writes integers as decimal digits, padded when asked', () => {
    const b = new LineBuf(4);
    // int32 arithmetic below 2^31, floating point from there: both sides of the switch
    for (const [n, pad] of [[0, 1], [9, 1], [10, 1], [1714557600, 1], [123456, 9], [0, 9], [999_999_999, 9], [2 ** 31 - 1, 1], [2 ** 31, 1], [2 ** 31, 12], [2 ** 53 - 1, 1]] as const) {
      b.appendUint(n, pad);
      b.append(' ');
    }
    expect(b.data.toString('utf8', 0, b.off)).toBe(`0 9 10 1714557600 000123456 000000000 999999999 2147483647 2147483648 002147483648 ${2 ** 53 - 1} `);
  });

  it('appends pre-encoded lines by range with their ends shifted', () => {
    const b = new LineBuf(4);
    b.append('first');
    b.endLine();
    const src = Buffer.from('a v=1 1\nb v=2 2\nc v=3 3\n');
    b.pushLines(src, [8, 16, 24], 1, 3);
    expect(b.data.toString('utf8', 0, b.off)).toBe('first\nb v=2 2\nc v=3 3\n');
    expect(b.ends).toEqual([6, 14, 22]);
  });

  it('appendText writes ASCII by its loop and any other text as UTF-8, growing the buffer', () => {
    const b = new LineBuf(4);
    for (const t of ['ab=', 'é=', 'x😀y=', '', 'k'.repeat(100)]) b.appendText(t);
    expect(b.data.toString('utf8', 0, b.off)).toBe('ab=é=x😀y=' + 'k'.repeat(100));
  });

  it('appends lines from shared memory (a trace worker\'s) the same way, into a buffer that grows', () => {
    const text = 'a v=1 1\nb v=2 2\nc v=3 3\n';
    const shared = new Uint8Array(new SharedArrayBuffer(64), 8, text.length);
    shared.set(Buffer.from(text));
    const b = new LineBuf(4);
    b.append('first');
    b.endLine();
    b.pushLines(shared, [8, 16, 24], 1, 3);
    b.pushLines(shared, [8, 16, 24], 0, 1);
    expect(b.data.toString('utf8', 0, b.off)).toBe('first\nb v=2 2\nc v=3 3\na v=1 1\n');
    expect(b.ends).toEqual([6, 14, 22, 30]);
  });
});

