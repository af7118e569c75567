import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Packr, Unpackr } from 'msgpackr';
import { decodeMsgpack } from './decode.js';
import { MAX_DEPTH, spanJsons, startIds, writeSpanEscaped, type SpanJsons } from './msgjson.js';
// @ts-expect-error the bench's payload module is plain .mjs, without types
import { ddtraceBody } from '../../bench/traces/payloads.mjs';

const packr = new Packr({ useRecords: false });
const packrVar = new Packr({ useRecords: false, variableMapSize: true });
/** The expected side: msgpackr with 64-bit ints as BigInt, so their digits survive. */
const exact = new Unpackr({ int64AsType: 'bigint', mapsAsObjects: true, useRecords: false });

function texts(r: SpanJsons): string[] {
  const out: string[] = [];
  for (let i = 0; i < r.ends.length; i++) out.push(r.arena.toString('utf8', r.ends[i - 1] ?? 0, r.ends[i]));
  return out;
}

function run(body: Buffer): string[] {
  const r = spanJsons(body);
  if (r === undefined) throw new Error('spanJsons gave undefined');
  return texts(r);
}

const TOKEN = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

/** JSON text parsed with every integer literal kept as its raw digits ({ $i: '123' }): 64-bit exactness is checked on the text. */
function parseExact(text: string): unknown {
  return JSON.parse(text.replace(TOKEN, (m) => (m.startsWith('"') || !/^-?\d+$/.test(m) ? m : `{"$i":"${m}"}`)));
}

/** A msgpackr-decoded value in the form parseExact gives for the JSON the file header specifies. */
function expected(v: unknown): unknown {
  if (typeof v === 'bigint') return { $i: v.toString() };
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return null;
    const s = String(v);
    return /^-?\d+$/.test(s) ? { $i: s } : v;
  }
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (Array.isArray(v)) return v.map(expected);
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, expected(x)]));
  return v;
}

function expectSpans(body: Buffer): string[] {
  const got = run(body);
  const want = (exact.unpack(body) as unknown[][]).flat();
  expect(got.length).toBe(want.length);
  for (let i = 0; i < got.length; i++) expect(parseExact(got[i]!)).toEqual(expected(want[i]));
  return got;
}

function isValidUtf8(b: Buffer): boolean {
  return Buffer.from(b.toString('utf8'), 'utf8').equals(b);
}

describe('spanJsons on the bench payload', () => {
  const body: Buffer = ddtraceBody();

  it('gives every span, in decodeMsgpack order, with exact 64-bit ids as JSON numbers', () => {
    const got = expectSpans(body);
    const spans = decodeMsgpack(body).flat();
    expect(got.length).toBe(500);
    for (let i = 0; i < spans.length; i++) {
      const s = spans[i]!;
      for (const k of ['trace_id', 'span_id', 'parent_id', 'start', 'duration'] as const) {
        expect(got[i]).toContain(`"${k}":${String(s[k])},`);
      }
      expect(JSON.parse(got[i]!).meta).toEqual(s.meta);
    }
  });

  it('writes keys in the sender order, byte-identical to JSON.stringify for strings', () => {
    const body2 = packr.pack([[{ b: 'x', a: 'y\n"\\\u0001é😀', c: 'z' }]]);
    expect(run(body2)).toEqual([JSON.stringify({ b: 'x', a: 'y\n"\\\u0001é😀', c: 'z' })]);
  });
});

describe('spanJsons on generated payloads', () => {
  const str = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ unit: fc.constantFrom('"', '\\', '\u0000', '\u001f', '\n', '\u007f', 'é', '€', '😀', 'a', '\u2028'), maxLength: 20 }),
  );
  const key = str.filter((k) => k !== '__proto__');
  const int = fc.oneof(
    fc.integer({ min: -0x8000_0000, max: 0xffff_ffff }),
    fc.constantFrom(0, 127, 128, 255, 256, 65535, 65536, -1, -32, -33, -128, -129, -32768, -32769, 2 ** 31 - 1, -(2 ** 31)),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
    fc.constantFrom(2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n, -(2n ** 63n), -(2n ** 63n) + 1n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, -(2n ** 53n) - 1n, 0n, -1n),
  );
  const float = fc.oneof(fc.double(), fc.constantFrom(0.5, -0, 1e21, 1e-7, Number.MAX_VALUE, Number.MIN_VALUE, NaN, Infinity));
  const scalar = fc.oneof(str, int, float, fc.constant(null), fc.boolean(), fc.uint8Array({ maxLength: 10 }).map((a) => Buffer.from(a)));
  const { value } = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(key, tie('value'), { maxKeys: 4 })),
  }));
  const id = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
  const span = fc.record(
    {
      service: str,
      name: str,
      resource: str,
      trace_id: id,
      span_id: id,
      parent_id: id,
      start: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }),
      duration: fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 40n }), fc.nat()),
      error: fc.integer({ min: 0, max: 1 }),
      meta: fc.dictionary(key, str, { maxKeys: 6 }),
      metrics: fc.dictionary(key, fc.oneof(int, float), { maxKeys: 6 }),
      type: str,
      extra: value,
    },
    { requiredKeys: ['service', 'trace_id', 'span_id'] },
  );
  const payload = fc.array(fc.array(span, { maxLength: 4 }), { maxLength: 4 });

  it('each span parses to the msgpackr-decoded span, 64-bit ints exact, output valid UTF-8', () => {
    fc.assert(
      fc.property(payload, fc.boolean(), (traces, variable) => {
        const body = (variable ? packrVar : packr).pack(traces);
        expectSpans(body);
        expect(isValidUtf8(spanJsons(body)!.arena)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('writes the same JSON escaped for line protocol into a growing buffer (writeSpanEscaped)', () => {
    const lp = (t: string) => t.replace(/["\\]/g, '\\$&');
    const escaped = (body: Buffer): string => {
      // one span in one trace: its map starts after two fixarray headers
      const w = { out: Buffer.alloc(16, 0x2a), odv: new DataView(new ArrayBuffer(16)), o: 3 };
      w.odv = new DataView(w.out.buffer, w.out.byteOffset, w.out.length);
      startIds();
      const end = writeSpanEscaped(body, new DataView(body.buffer, body.byteOffset, body.length), 2, w);
      expect(end).toBe(body.length);
      expect(w.out.toString('latin1', 0, 3)).toBe('***'); // what was before it is kept when the buffer grows
      return w.out.toString('utf8', 3, w.o);
    };
    fc.assert(
      fc.property(payload, (traces) => {
        for (const t of traces) {
          for (const sp of t) {
            const body = packr.pack([[sp]]);
            expect(escaped(body)).toBe(lp(run(body)[0]!));
          }
        }
      }),
      { numRuns: 200 },
    );
    for (const sp of [{ '"\n\u0001\\': '\u0001"\\\n' }, { b: Buffer.from([0, 255]), u: 2n ** 64n - 1n, i: -(2n ** 63n) }, { x: [null, true, false, 1.5, { y: 'é😀' }] }, { s: 'x'.repeat(3) + '\u0007'.repeat(2000) }]) {
      const body = packr.pack([[sp]]);
      expect(escaped(body)).toBe(lp(run(body)[0]!));
    }
    // invalid UTF-8 (written as Buffer.toString repairs it) and a quote in the same string
    const bad = Buffer.from([0x91, 0x91, 0x81, 0xa1, 0x6b, 0xa4, 0x22, 0xff, 0x5c, 0x41]);
    expect(escaped(bad)).toBe(lp(run(bad)[0]!));
  });

  it('writes every uint64 and int64 exactly', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (u, s) => {
        const b = Buffer.from([0x91, 0x91, 0x82, 0xa1, 0x75, 0xcf, 0, 0, 0, 0, 0, 0, 0, 0, 0xa1, 0x73, 0xd3, 0, 0, 0, 0, 0, 0, 0, 0]);
        b.writeBigUInt64BE(u, 6);
        b.writeBigInt64BE(s, 17);
        expect(run(b)).toEqual([`{"u":${u},"s":${s}}`]);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('spanJsons id digits reused across spans', () => {
  it('writes ids drawn from a small pool exactly, in any order (the recent-id cache)', () => {
    const pool = [2n ** 64n - 1n, 2n ** 63n, 2n ** 53n + 7n, 12_345_678_901_234_567_890n, 10n ** 19n, 2n ** 63n - 1n, 9_007_199_254_740_993n];
    const pick = fc.constantFrom(...pool);
    fc.assert(
      fc.property(fc.array(fc.array(fc.record({ trace_id: pick, span_id: pick, parent_id: pick, m: fc.dictionary(fc.constantFrom('a', 'b'), pick) }), { minLength: 1, maxLength: 6 }), { maxLength: 5 }), (traces) => {
        const got = run(packr.pack(traces));
        const want = traces.flat();
        expect(got.length).toBe(want.length);
        for (let i = 0; i < got.length; i++) {
          const s = want[i]!;
          const m = Object.entries(s.m).map(([k, v]) => `"${k}":${v}`).join(',');
          expect(got[i]).toBe(`{"trace_id":${s.trace_id},"span_id":${s.span_id},"parent_id":${s.parent_id},"m":{${m}}}`);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('spanJsons on every msgpack type', () => {
  function one(value: number[]): string {
    // [[{"v": value}]]
    const body = Buffer.from([0x91, 0x91, 0x81, 0xa1, 0x76, ...value]);
    const r = spanJsons(body);
    if (r === undefined) throw new Error('undefined');
    return r.arena.toString('utf8');
  }

  it('writes scalars of each width', () => {
    expect(one([0xc0])).toBe('{"v":null}');
    expect(one([0xc2])).toBe('{"v":false}');
    expect(one([0xc3])).toBe('{"v":true}');
    expect(one([0x7f])).toBe('{"v":127}');
    expect(one([0xe0])).toBe('{"v":-32}');
    expect(one([0xcc, 0xff])).toBe('{"v":255}');
    expect(one([0xcd, 0xff, 0xff])).toBe('{"v":65535}');
    expect(one([0xce, 0xff, 0xff, 0xff, 0xff])).toBe('{"v":4294967295}');
    expect(one([0xcf, 0, 0, 0, 0, 0, 0, 0, 7])).toBe('{"v":7}');
    expect(one([0xcf, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])).toBe(`{"v":${2 ** 53 - 1}}`);
    expect(one([0xcf, 0, 0x20, 0, 0, 0, 0, 0, 0])).toBe(`{"v":${2 ** 53}}`);
    expect(one([0xd0, 0x80])).toBe('{"v":-128}');
    expect(one([0xd1, 0x80, 0])).toBe('{"v":-32768}');
    expect(one([0xd2, 0x80, 0, 0, 0])).toBe('{"v":-2147483648}');
    expect(one([0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])).toBe('{"v":-1}');
    expect(one([0xd3, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])).toBe('{"v":-4294967296}');
    expect(one([0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0])).toBe('{"v":-9223372036854775808}');
    expect(one([0xca, 0x3d, 0xcc, 0xcc, 0xcd])).toBe(`{"v":${Buffer.from([0x3d, 0xcc, 0xcc, 0xcd]).readFloatBE(0)}}`);
    expect(one([0xca, 0x7f, 0xc0, 0, 0])).toBe('{"v":null}');
    expect(one([0xcb, ...Buffer.from('7ff0000000000000', 'hex')])).toBe('{"v":null}');
    expect(one([0xcb, ...Buffer.from('3ff8000000000000', 'hex')])).toBe('{"v":1.5}');
  });

  it('writes str8/16/32, bin (base64), arrays and maps of every header size', () => {
    expect(one([0xd9, 2, 0x68, 0x69])).toBe('{"v":"hi"}');
    expect(one([0xda, 0, 2, 0x68, 0x69])).toBe('{"v":"hi"}');
    expect(one([0xdb, 0, 0, 0, 2, 0x68, 0x69])).toBe('{"v":"hi"}');
    expect(one([0xc4, 3, 1, 2, 3])).toBe('{"v":"AQID"}');
    expect(one([0xc5, 0, 0])).toBe('{"v":""}');
    expect(one([0xc6, 0, 0, 0, 1, 0xff])).toBe('{"v":"/w=="}');
    expect(one([0x92, 0x90, 0x80])).toBe('{"v":[[],{}]}');
    expect(one([0xdc, 0, 2, 1, 2])).toBe('{"v":[1,2]}');
    expect(one([0xdd, 0, 0, 0, 1, 0xc0])).toBe('{"v":[null]}');
    expect(one([0xde, 0, 1, 0xa1, 0x6b, 1])).toBe('{"v":{"k":1}}');
    expect(one([0xdf, 0, 0, 0, 2, 0xa1, 0x6b, 1, 0xa1, 0x6c, 0x90])).toBe('{"v":{"k":1,"l":[]}}');
  });

  it('stringifies non-string keys as msgpackr does, and rejects bin and container keys', () => {
    const body = packr.pack([[new Map<unknown, unknown>([[1, 'a'], [null, 'b'], [true, 'c'], [1.5, 'd'], [-7, 'e'], [2n ** 64n - 1n, 'f'], [NaN, 'g']])]]);
    const want = new Unpackr({ mapsAsObjects: true, useRecords: false, int64AsType: 'string' }).unpack(body)[0][0];
    expect(JSON.parse(run(body)[0]!)).toEqual(want);
    expect(run(body)[0]).toBe('{"1":"a","null":"b","true":"c","1.5":"d","-7":"e","18446744073709551615":"f","NaN":"g"}');
    expect(spanJsons(Buffer.from([0x91, 0x91, 0x81, 0xc4, 1, 0x61, 1]))).toBeUndefined();
    expect(spanJsons(Buffer.from([0x91, 0x91, 0x81, 0x90, 1]))).toBeUndefined();
    expect(spanJsons(Buffer.from([0x91, 0x91, 0x81, 0x80, 1]))).toBeUndefined();
  });

  it('writes invalid UTF-8 as Buffer.toString does (U+FFFD), keeping the output valid UTF-8', () => {
    const bad = [
      [0x61, 0xff, 0x62],
      [0xc3, 0x28],
      [0xc0, 0xaf], // overlong
      [0xed, 0xa0, 0x80], // surrogate
      [0xf0, 0x9f, 0x98], // truncated 4-byte
      [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
      [0xe0, 0x80, 0xaf], // overlong 3-byte
      [0x22, 0x0a, 0x80, 0x5c],
      [0xc3],
    ];
    for (const bytes of bad) {
      const text = one([0xd9, bytes.length, ...bytes]);
      expect(isValidUtf8(Buffer.from(text))).toBe(true);
      expect(JSON.parse(text)).toEqual({ v: Buffer.from(bytes).toString('utf8') });
    }
    for (const ok of ['é', '€', '😀', '\u{10ffff}', '\u{d7ff}', '\u{e000}']) {
      const bytes = [...Buffer.from(ok)];
      expect(one([0xd9, bytes.length, ...bytes])).toBe(`{"v":"${ok}"}`);
    }
  });
});

describe('spanJsons on bad input', () => {
  it('is undefined when the shape is not traces of span maps', () => {
    expect(spanJsons(Buffer.from([0x81, 0xa1, 0x61, 1]))).toBeUndefined(); // top level a map
    expect(spanJsons(Buffer.from([0x91, 0x81, 0xa1, 0x61, 1]))).toBeUndefined(); // a trace that is a map
    expect(spanJsons(Buffer.from([0x92, 0x90, 0x01]))).toBeUndefined(); // a trace that is an int
    expect(spanJsons(Buffer.from([0x91, 0x91, 0x91, 0x01]))).toBeUndefined(); // a span that is an array
    expect(spanJsons(Buffer.from([0x91, 0x91, 0x80, 0x00]))).toBeUndefined(); // trailing byte
    expect(spanJsons(Buffer.from([0x91, 0x91, 0x81, 0xa1, 0x61, 0xd4, 0x01, 0x00]))).toBeUndefined(); // ext
    expect(spanJsons(Buffer.from([0x91, 0x91, 0x81, 0xa1, 0x61, 0xc1]))).toBeUndefined();
  });

  it('reads the empty body and empty traces as no spans, like decodeMsgpack', () => {
    expect(spanJsons(Buffer.alloc(0))?.ends.length).toBe(0);
    expect(spanJsons(Buffer.from([0x92, 0x90, 0x90]))?.ends.length).toBe(0);
    expect(run(Buffer.from([0x91, 0x92, 0x80, 0x80]))).toEqual(['{}', '{}']);
  });

  it('never throws on a body cut at any point, and is undefined for every proper prefix', () => {
    const body = packr.pack([[{ service: 'a', trace_id: 2n ** 64n - 1n, meta: { k: 'vé', n: [1, -2.5, null, true] }, bin: Buffer.from([1, 2]) }], [{ x: -(2n ** 63n) }]]);
    expect(spanJsons(body)?.ends.length).toBe(2);
    for (let cut = 1; cut < body.length; cut++) expect(spanJsons(body.subarray(0, cut))).toBeUndefined();
  });

  it('never throws on huge lengths or deep nesting', () => {
    expect(spanJsons(Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]))).toBeUndefined();
    expect(spanJsons(Buffer.from([0x91, 0xdd, 0xff, 0xff, 0xff, 0xff, 0x80]))).toBeUndefined();
    expect(spanJsons(Buffer.from([0x91, 0x91, 0xdf, 0xff, 0xff, 0xff, 0xff, 0xa0, 0xc0]))).toBeUndefined();
    expect(spanJsons(Buffer.from([0x91, 0x91, 0x81, 0xa0, 0xdb, 0xff, 0xff, 0xff, 0xff, 0x61]))).toBeUndefined();
    expect(spanJsons(Buffer.from([0x91, 0x91, 0x81, 0xa0, 0xc6, 0xff, 0xff, 0xff, 0xff, 0x61]))).toBeUndefined();
    const nest = (levels: number) => Buffer.concat([Buffer.from([0x91, 0x91, 0x81, 0xa0]), Buffer.alloc(levels, 0x91), Buffer.from([0x01])]);
    expect(spanJsons(nest(100_000))).toBeUndefined();
    expect(spanJsons(nest(MAX_DEPTH))).toBeUndefined();
    expect(run(nest(MAX_DEPTH - 1))[0]).toBe(`{"":${'['.repeat(MAX_DEPTH - 1)}1${']'.repeat(MAX_DEPTH - 1)}}`);
  });

  it('grows the arena past its first size (control characters expand 6×)', () => {
    const s = '\u0001'.repeat(10_000);
    const body = packr.pack([[{ s, t: s }]]);
    expect(JSON.parse(run(body)[0]!)).toEqual({ s, t: s });
    const pairs = 30_000; // map16 of nil → nil: 2 bytes in, `"null":null,` (12 bytes) out
    const nils = Buffer.concat([Buffer.from([0x91, 0x91, 0xde, pairs >> 8, pairs & 0xff]), Buffer.alloc(2 * pairs, 0xc0)]);
    const text = run(nils)[0]!;
    expect(text.length).toBe(12 * pairs + 1);
    expect(text.startsWith('{"null":null,"null":null,')).toBe(true);
  });

  it('grows the span index and the arena across many spans, cached id digits staying right', () => {
    const id = 2n ** 64n - 2n;
    const spans = Array.from({ length: 3000 }, (_, i) => ({ trace_id: id, span_id: BigInt(i) + 2n ** 63n, pad: i % 100 === 0 ? '\u0000'.repeat(2000) : 'x' }));
    const got = run(packr.pack([spans.slice(0, 1000), [], spans.slice(1000)]));
    expect(got.length).toBe(3000);
    for (let i = 0; i < 3000; i += 7) {
      expect(got[i]!.startsWith(`{"trace_id":${id},"span_id":${BigInt(i) + 2n ** 63n},"pad":`)).toBe(true);
      expect(JSON.parse(got[i]!).pad).toBe(spans[i]!.pad);
    }
    expect(run(Buffer.concat([Buffer.from([0x91, 0xdc, 0x13, 0x88]), Buffer.alloc(5000, 0x80)]))).toEqual(Array(5000).fill('{}'));
  });

  it('escapes and repairs keys as it does values', () => {
    const body = Buffer.from([0x91, 0x91, 0x82, 0xa3, 0x22, 0x0a, 0xff, 0x01, 0xa2, 0xc3, 0xa9, 0x02]);
    const text = run(body)[0]!;
    expect(text).toBe('{"\\"\\n\ufffd":1,"é":2}');
    expect(JSON.parse(text)).toEqual({ '"\n\ufffd': 1, é: 2 });
  });

  it('on garbage and mutated bodies: never throws; a result always agrees with decodeMsgpack', () => {
    const base: Buffer = packr.pack([[{ a: 'x', b: [1, 2.5, { c: null }], d: 2n ** 63n }, { e: true }]]);
    const check = (body: Buffer) => {
      const r = spanJsons(body);
      if (r === undefined) return;
      const spans = decodeMsgpack(body).flat();
      expect(r.ends.length).toBe(spans.length);
      for (const t of texts(r)) expect(() => JSON.parse(t)).not.toThrow();
      expect(isValidUtf8(r.arena)).toBe(true);
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (a) => check(Buffer.from(a))), { numRuns: 2000 });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }), (edits) => {
        const body = Buffer.from(base);
        for (const [i, v] of edits) body[i] = v;
        check(body);
      }),
      { numRuns: 3000 },
    );
  });
});
