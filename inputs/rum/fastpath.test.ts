/**
 * The fast path must read every body exactly as the general decoder does: for
 * SDK-like bodies and for arbitrary mutations of them, whenever fastLines
 * accepts a body, decodeLines accepts it too, and the records it writes decode
 * to the same points plus the location tags and the missing global tags,
 * with times in nanoseconds.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeLines, LineProtocolError, PRECISION_NS, type DecodedPoint } from '../../agent/model/lineproto.js';
import { fastLines, keyTable, prefixStats, type FastOptions } from './fastpath.js';

const ENRICH = { ip: '203.0.113.7', city: 'Test ville', province: 'P,1', country: 'Testland', isp: 'ISP=1' };
const GLOBALS = { host: 'node-1', cluster_name_k8s: 'k8s' };
const esc = (s: string) => s.replace(/[\\,= ]/g, '\\$&');
const NOW = 1_700_000_000_000_000_000n;

function options(precision: bigint, measurements = MEASUREMENTS): FastOptions {
  return {
    precisionZeros: String(precision).slice(1),
    enrich: Buffer.from(Object.entries(ENRICH).map(([k, v]) => `,${k}=${esc(v)}`).join('')),
    keys: keyTable(Object.keys(ENRICH), new Map(Object.entries(GLOBALS).map(([k, v]) => [k, Buffer.from(`,${k}=${esc(v)}`)]))),
    measurements: new Set(measurements),
    checkAppId: (id, line) => {
      if (!id) throw new Error(`line ${line}: no app_id`);
    },
    refuseMeasurement: (name, line) => {
      throw new Error(`line ${line}: ${name}`);
    },
    nowNs: NOW,
  };
}

/** What the fast path must produce, from the general decoder's points. */
function expected(input: DecodedPoint[]): DecodedPoint[] {
  return input.map((d) => {
    const tags: Record<string, string> = { ...d.tags, ...ENRICH };
    for (const [k, v] of Object.entries(GLOBALS)) if (tags[k] === undefined) tags[k] = v;
    return { ...d, tags, time: d.time ?? NOW };
  });
}

const MEASUREMENTS = ['view', 'resource', 'action', 'error', 'long_task'];

/** What the rum input refuses in decoded points (the general path's checks), or undefined. */
function refusal(points: DecodedPoint[]): string | undefined {
  for (const p of points) {
    if (!MEASUREMENTS.includes(p.name)) return `measurement ${p.name}`;
    if (!p.tags.app_id) return 'no app_id';
  }
  return undefined;
}

/**
 * Feeds a body to both paths: when the fast path takes it, the general decoder
 * must take it too, with nothing the input refuses, and read the same points;
 * when the fast path refuses it (measurement, app_id), the general path must
 * refuse it too. True when the fast path took it.
 */
function check(body: string, precision: bigint): boolean {
  let general: DecodedPoint[] | undefined;
  let generalError: unknown;
  try {
    general = decodeLines(body, precision);
  } catch (e) {
    generalError = e;
  }
  let fast;
  try {
    fast = fastLines(Buffer.from(body), options(precision), precision);
  } catch (e) {
    if (general && refusal(general) === undefined) throw new Error(`fast path refused (${(e as Error).message}) what the general path takes: ${JSON.stringify(body)}`);
    return false;
  }
  if (!fast) return false;
  if (!general) throw new Error(`fast path accepted what the decoder refuses (${(generalError as LineProtocolError).message}): ${JSON.stringify(body)}`);
  const refused = refusal(general);
  if (refused) throw new Error(`fast path accepted what the general path refuses (${refused}): ${JSON.stringify(body)}`);
  const out = decodeLines(fast.data.toString('utf8'));
  expect(fast.ends).toHaveLength(out.length);
  expect(out).toEqual(expected(general));
  return true;
}

const word = fc.stringMatching(/^[a-z_][a-z0-9_]{0,8}$/);
const tagValue = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9_./:{}*()-]{1,12}$/),
  fc.constantFrom('Mozilla/5.0\\ (X11;\\ Linux)', 'a\\,b', 'x\\=y', 'back\\\\', '中文', 'q"uote', 'tab\tin'),
);
const fieldValue = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e12, max: 1e12 }).map((d) => String(d)),
  fc.integer().map((i) => `${i}i`),
  fc.constantFrom('true', 'F', 'TRUE', '1e5', '.5', '-0.25', '+3', '12345678901234567890i', '5u'),
  fc.string({ maxLength: 30, unit: fc.constantFrom('a', ' ', '"', '\\', '\n', ',', '=', 'é', '@') }).map((s) => `"${s.replace(/[\\"]/g, '\\$&')}"`),
);
const line = fc
  .record({
    name: fc.constantFrom('view', 'resource', 'action', 'long_task'),
    tags: fc.dictionary(word, tagValue, { maxKeys: 6 }),
    extra: fc.constantFrom({}, { host: 'own-host' }, { cluster_name_k8s: 'mine' }),
    fields: fc.dictionary(word, fieldValue, { minKeys: 1, maxKeys: 5 }),
    time: fc.option(fc.bigInt({ min: 0n, max: 9_999_999_999_999n }), { nil: undefined }),
    space: fc.constantFrom(' ', '  '),
  })
  .map((l) => {
    const tags = Object.entries({ app_id: 'shop_web', ...l.tags, ...l.extra }).map(([k, v]) => `,${k}=${v}`).join('');
    const fields = Object.entries(l.fields).map(([k, v]) => `${k}=${v}`).join(',');
    return `${l.name}${tags}${l.space}${fields}${l.time === undefined ? '' : ` ${l.time}`}`;
  });
const body = fc.array(line, { minLength: 1, maxLength: 6 }).map((ls) => ls.join('\n'));

/**
 * Bodies like the SDK's batches: every line starts with the same common tags
 * (so the fast path takes them over from the previous line by comparing
 * bytes), then tags of its own, some equal to the previous line's.
 */
const sdkBody = fc
  .record({
    common: fc.dictionary(word, tagValue, { minKeys: 1, maxKeys: 8 }),
    lines: fc.array(
      fc.record({
        name: fc.constantFrom('view', 'resource', 'action', 'long_task'),
        own: fc.dictionary(word, fc.constantFrom('1', '2', 'a\\,b', 'x\\ y', 'same'), { maxKeys: 3 }),
        fields: fc.dictionary(word, fieldValue, { minKeys: 1, maxKeys: 3 }),
        time: fc.option(fc.bigInt({ min: 0n, max: 9_999_999_999_999n }), { nil: undefined }),
        appLast: fc.boolean(),
      }),
      { minLength: 2, maxLength: 8 },
    ),
  })
  .map(({ common, lines }) =>
    lines
      .map((l) => {
        const tags = Object.entries(l.appLast ? { ...common, ...l.own, app_id: 'shop_web' } : { app_id: 'shop_web', ...common, ...l.own })
          .map(([k, v]) => `,${k}=${v}`)
          .join('');
        const fields = Object.entries(l.fields).map(([k, v]) => `${k}=${v}`).join(',');
        return `${l.name}${tags} ${fields}${l.time === undefined ? '' : ` ${l.time}`}`;
      })
      .join('\n'),
  );

describe('rum fast path', () => {
  it('reads SDK-like bodies as the general decoder does, plus the location and missing global tags', () => {
    let accepted = 0;
    fc.assert(
      fc.property(body, fc.constantFrom('ms', 'ns', 's', 'us'), (b, p) => {
        if (check(b, PRECISION_NS[p]!)) accepted++;
      }),
      { numRuns: 400 },
    );
    expect(accepted, 'many SDK-like bodies take the fast path (a seconds precision makes 13-digit times too long for it)').toBeGreaterThan(120);
  });

  it('never accepts a body the general decoder refuses (mutated bodies)', () => {
    const mutated = fc.tuple(body, fc.nat(), fc.constantFrom('\\', '"', ',', '=', ' ', '\n', '\r', '#', '-', 'x', '', 'i', '.')).map(([b, at, ch]) => {
      const i = at % (b.length + 1);
      return b.slice(0, i) + ch + b.slice(i + (ch === '' ? 1 : 0));
    });
    fc.assert(
      fc.property(mutated, (b) => {
        check(b, PRECISION_NS.ms!);
      }),
      { numRuns: 1500 },
    );
  });

  it('reads batches whose lines share their first tags (taken over from the previous line) as the general decoder does', () => {
    let accepted = 0;
    const kept0 = prefixStats.kept;
    fc.assert(
      fc.property(sdkBody, fc.constantFrom('ms', 'ns'), (b, p) => {
        if (check(b, PRECISION_NS[p]!)) accepted++;
      }),
      { numRuns: 400 },
    );
    expect(accepted).toBeGreaterThan(100);
    expect(prefixStats.kept - kept0, 'tags taken over from the previous line').toBeGreaterThan(500);
  });

  it('never accepts a batch the general decoder refuses, nor reads it differently, when one line of shared tags is changed', () => {
    const mutated = fc.tuple(sdkBody, fc.nat(), fc.constantFrom('\\', '"', ',', '=', ' ', '\n', '\r', 'x', '', 'é', 'i', '.'), fc.boolean()).map(([b, at, ch, replace]) => {
      // insert, replace or delete after the first line: the changed line is compared with a good one
      const first = b.indexOf('\n') + 1;
      const i = first + (at % (b.length - first + 1));
      return b.slice(0, i) + ch + b.slice(i + (ch === '' || replace ? 1 : 0));
    });
    fc.assert(
      fc.property(mutated, (b) => {
        check(b, PRECISION_NS.ms!);
      }),
      { numRuns: 3000 },
    );
  });

  it('reads numbers and booleans as the general decoder does (any short token of their characters)', () => {
    const token = fc.string({ minLength: 1, maxLength: 7, unit: fc.constantFrom('0', '1', '9', '.', 'e', 'E', '+', '-', 'i', 'u', 't', 'T', 'r', 'u', 'e', 'f', 'F', 'a', 'l', 's', 'R', 'U', 'A', 'L', 'S') });
    let accepted = 0;
    fc.assert(
      fc.property(token, fc.constantFrom('', ',y=1', ' 1700000000000'), (tok, after) => {
        if (check(`view,app_id=a x=${tok}${after}\nview,app_id=a x=${tok}`, PRECISION_NS.ms!)) accepted++;
      }),
      { numRuns: 3000 },
    );
    for (const tok of ['1', '-1.5', '+.5', '1e5', '-2E-3', '12i', '-123456789012345678i', 'true', 'F', 'FALSE', 'True']) expect(check(`view,app_id=a x=${tok} 1`, 1n), tok).toBe(true);
    // past double's range: the decoder refuses them, so the fast path must leave them to it (CI found 1e5100000000000)
    for (const tok of ['1e309', '-1E400', '1e5100000000000', '9'.repeat(310), `-${'9'.repeat(309)}.5`]) expect(check(`view,app_id=a x=${tok} 1`, 1n), tok).toBe(false);
    expect(check(`view,app_id=a x=1e308 1`, 1n)).toBe(true);
    expect(accepted).toBeGreaterThan(100);
  });

  it('reads hand-made edge cases as the general decoder does, or leaves them to it', () => {
    const common = 'app_id=shop_web,sdk_name=df_web_rum_sdk,userAgent=Mozilla/5.0\\ (X11;\\ Linux),view_url=https://h/a?b\\=c\\,d';
    // [body, precision, whether the fast path must take it]
    const cases: [string, string, boolean][] = [
      [`view,${common} x=1 1700000000000\nview,${common} x=2 1700000000001`, 'ms', true],
      [`view,${common},k=v\\ w x=1i 1700000000000\naction,${common},k=v\\,w y="a b" 1700000000001`, 'ms', true],
      [`view,${common} msg="say \\"hi\\", a\\\\b",n=1 1700000000000123456\nview,${common} msg="two\nlines" 1700000000000123457`, 'ns', true],
      [`view,${common} x=1\nview,${common} x=2`, 'ms', true], // no timestamps: now
      [`view,${common}  x=1   1700000000000  \n\n# comment\nview,${common} x=2 1700000000001`, 'ms', true], // extra spaces
      [`view,${common},trail=a\\\\ x=1 1\nview,${common},trail=a\\\\,b=c x=1 2`, 'ms', true], // an escaped backslash before the tag's end
      [`view,${common},host=mine x=1 1\nview,${common} x=1 2`, 'ms', true], // a global key present on one line only
      [`view,${common} x=1 1\nview,${common.replace('shop_web', 'other')} x=1 2`, 'ms', true],
      [`view,${common} x=1 1\nview,${common},ip=1.2.3.4 x=1 2`, 'ms', false], // a location tag already there
      [`view,${common} x=1 1\nview,${common}\\x x=1 2`, 'ms', false], // an escape the fast path does not read
      [`view,${common} x=1 1\nview,${common},k=a=b x=1 2`, 'ms', false],
      [`view,${common} x=1 1\nview,${common} x=1 -2`, 'ms', false],
      [`view,${common} x=1 1\nview,${common} x="open 2`, 'ms', false],
      [`view,${common} x=1 1\nview,${common}`, 'ms', false],
      [`view,${common} x=1 1\nview,${common} x=5u 2`, 'ms', false],
      [`view,${common} x=1 1\nview,${common}\r\n`, 'ms', false],
      [`view,${common} x=1 99999999999999`, 'ms', false], // past int64 nanoseconds
    ];
    for (const [b, p, fast] of cases) expect(check(b, PRECISION_NS[p]!), b).toBe(fast);
    // refusals name the line, on the fast path as on the general one
    const o = options(PRECISION_NS.ms!);
    expect(() => fastLines(Buffer.from(`view,${common} x=1 1\ncpu,${common} x=1 2`), o, PRECISION_NS.ms!)).toThrow('line 2: cpu');
    expect(() => fastLines(Buffer.from(`view,${common} x=1 1\n\nview,${common.replace('app_id=shop_web,', '')} x=1 2`), o, PRECISION_NS.ms!)).toThrow('line 3: no app_id');
    const refusing = { ...o, checkAppId: (id: string | undefined, line: number) => { if (id !== 'shop_web') throw new Error(`line ${line}: ${id} refused`); } };
    expect(() => fastLines(Buffer.from(`view,${common} x=1 1\nview,${common},app_id=evil x=1 2`), refusing, PRECISION_NS.ms!)).toThrow('line 2: evil refused');
  });

  it('takes the general decoder for error lines (sourcemaps) and leaves other lines as bytes', () => {
    const o = options(PRECISION_NS.ms!);
    const seen: string[] = [];
    o.onError = (p) => {
      seen.push(String(p.fields.error_stack));
      Object.assign(p.tags, ENRICH, GLOBALS);
      p.fields.error_stack_source = 'resolved';
    };
    const b = 'view,app_id=a loading_time=1 1700000000000\nerror,app_id=a error_stack="Error: x\n  at f @ http://h/app.js:1:2" 1700000000001\n';
    const r = fastLines(Buffer.from(b), o, PRECISION_NS.ms!)!;
    expect(seen).toEqual(['Error: x\n  at f @ http://h/app.js:1:2']);
    const out = decodeLines(r.data.toString());
    expect(out.map((p) => p.name)).toEqual(['view', 'error']);
    expect(out[1]!.fields.error_stack_source).toBe('resolved');
    expect(out[1]!.tags).toMatchObject({ app_id: 'a', ...ENRICH, ...GLOBALS });
    expect(out[1]!.time).toBe(1_700_000_000_001_000_000n);
    expect(r.counts).toEqual(new Map([['view', 1], ['error', 1]]));
  });

  it('leaves error lines as bytes when their build has no sourcemap zip (sourcemapFor), and counts them', () => {
    const asked: unknown[] = [];
    const run = (answer: 'decode' | 'zip_not_found' | 'skip') => {
      const o = options(PRECISION_NS.ms!);
      const decoded: string[] = [];
      o.onError = (p) => {
        decoded.push(p.name);
        Object.assign(p.tags, ENRICH, GLOBALS);
      };
      o.sourcemapFor = (...a) => {
        asked.push(a);
        return answer;
      };
      const b = 'error,sdk_name=df_web_rum_sdk,app_id=a,env=prod,version=1.2 error_stack="at f @ http://h/app.js:1:2" 1700000000001\nview,app_id=a,env=x x=1 1700000000002\n';
      const r = fastLines(Buffer.from(b), o, PRECISION_NS.ms!)!;
      expect(decodeLines(r.data.toString())).toEqual(expected(decodeLines(b, PRECISION_NS.ms!)));
      return { decoded, zipNotFound: r.zipNotFound };
    };
    expect(run('zip_not_found')).toEqual({ decoded: [], zipNotFound: 1 });
    expect(run('skip')).toEqual({ decoded: [], zipNotFound: 0 });
    expect(run('decode')).toEqual({ decoded: ['error'], zipNotFound: 0 });
    expect(asked[0]).toEqual(['a', 'prod', '1.2', 'df_web_rum_sdk']);
    expect(asked).toHaveLength(3); // asked for error lines only
  });

  it('writes into the kept scratch buffer between calls (growing it), and keeps none over 1 MiB', () => {
    const o = options(PRECISION_NS.ms!);
    o.scratch = { buf: undefined };
    const small = 'view,app_id=a x=1 1700000000000\n';
    const r1 = fastLines(Buffer.from(small), o, PRECISION_NS.ms!)!;
    const kept = o.scratch.buf!;
    expect(r1.data.buffer).toBe(kept.buffer);
    const first = Buffer.from(r1.data);
    const r2 = fastLines(Buffer.from(small.replace('x=1', 'x=2')), o, PRECISION_NS.ms!)!;
    expect(r2.data.buffer).toBe(kept.buffer); // reused, not reallocated
    expect(decodeLines(r2.data.toString())[0]!.fields.x).toBe(2);
    expect(decodeLines(first.toString())[0]!.fields.x).toBe(1);
    const big = small.repeat(30_000); // ~1 MiB of input: a bigger buffer, not kept
    const r3 = fastLines(Buffer.from(big), o, PRECISION_NS.ms!)!;
    expect(r3.ends).toHaveLength(30_000);
    expect(o.scratch.buf).toBe(kept);
  });

  it('refuses unknown measurements and missing app ids with the line number', () => {
    expect(() => fastLines(Buffer.from('view,app_id=a x=1\ncpu,app_id=a x=1'), options(1n), 1n)).toThrow('line 2: cpu');
    expect(() => fastLines(Buffer.from('view x=1'), options(1n), 1n)).toThrow('line 1: no app_id');
  });

  it('gives way to the general path for location tags already present and other doubtful lines', () => {
    for (const b of ['view,app_id=a,ip=1.2.3.4 x=1', 'view,app_id=a x=1 -5', 'view,app_id=a x=5u', 'vi\\ ew,app_id=a x=1', 'view,app_id=a x=1\r\n', 'view,app_id=a\\x x=1']) {
      expect(fastLines(Buffer.from(b), options(1n, ['view', 'vi ew']), 1n), b).toBeUndefined();
    }
  });
});
