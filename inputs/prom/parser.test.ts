import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { ExpositionParser, parseLabels } from './parser.js';

const testdata = (f: string) => fs.readFileSync(path.join(import.meta.dirname, 'testdata', f), 'utf8');

interface S {
  name: string;
  family: string;
  type: string;
  labels: Record<string, string>;
  value: number;
  ts: number;
}

function parse(text: string, om = false) {
  const out: S[] = [];
  let badLabels = 0;
  const stats = new ExpositionParser(om).parse(text, (name, family, raw, value, ts) => {
    const buf: string[] = [];
    const n = parseLabels(raw, buf);
    if (n < 0) {
      badLabels++; // label pairs are checked per series, by the converter
      return;
    }
    const labels: Record<string, string> = {};
    for (let i = 0; i < n; i += 2) labels[buf[i]!] = buf[i + 1]!;
    out.push({ name, family: family.name, type: family.type, labels, value, ts });
  });
  stats.invalid += badLabels;
  return { out, stats };
}

describe('prom text 0.0.4', () => {
  it('takes a type named like an Object property (constructor, __proto__) as a type without suffixes', () => {
    // the suffix table was a plain object: `constructor` found Object's constructor, and the parse threw
    const text = '# TYPE x constructor\nx 1\nx_total 2\n# TYPE y __proto__\ny_sum 3\n# TYPE z toString\nz_count 4\n';
    const { out, stats } = parse(text);
    expect(stats.invalid).toBe(0);
    expect(out.map((s) => `${s.name} ${s.family} ${s.type}`)).toEqual(['x x constructor', 'x_total x_total untyped', 'y_sum y_sum untyped', 'z_count z_count untyped']);
  });

  it('parses the reference exposition', () => {
    const { out, stats } = parse(testdata('text004.txt'));
    expect(stats.invalid).toBe(0);
    expect(stats.nonFinite).toBe(1); // something_weird +Inf
    expect(out).toHaveLength(2 + 1 + 1 + 8 + 7);
    expect(out[0]).toEqual({ name: 'http_requests_total', family: 'http_requests_total', type: 'counter', labels: { method: 'post', code: '200' }, value: 1027, ts: 1395066363000 });
    expect(out[2]!.labels).toEqual({ path: 'C:\\DIR\\FILE.TXT', error: 'Cannot find file:\n"FILE.TXT"' });
    expect(out[3]).toMatchObject({ name: 'metric_without_timestamp_and_labels', type: 'untyped', value: 12.47 });
    expect(Number.isNaN(out[3]!.ts)).toBe(true);
    const bucket = out.find((s) => s.labels.le === '+Inf')!;
    expect(bucket).toMatchObject({ name: 'http_request_duration_seconds_bucket', family: 'http_request_duration_seconds', type: 'histogram', value: 144320 });
    expect(out.find((s) => s.name === 'rpc_duration_seconds_count')).toMatchObject({ family: 'rpc_duration_seconds', type: 'summary', value: 2693 });
  });

  it('counts malformed lines and keeps going', () => {
    const text = ['ok_a 1', 'bad{x="1" 2', 'bad2{x=1} 3', 'bad5{1x="1"} 3', 'bad6{x="1" y="2"} 3', 'bad3 notanumber', '{x="y"} 4', 'bad4 1 nots', 'ok_b{a="}"} 5', 'nolabelvalue'].join('\n');
    const { out, stats } = parse(text);
    expect(out.map((s) => s.name)).toEqual(['ok_a', 'ok_b']);
    expect(out[1]!.labels).toEqual({ a: '}' });
    expect(stats.invalid).toBe(8);
    expect(stats.firstError).toBe('bad{x="1" 2');
  });

  it('handles CRLF, tabs, trailing commas and spaces in label sets', () => {
    const { out, stats } = parse('a_b{x="1",} 1\r\nc_d { x = "2" , y="3" }\t2\r\n');
    expect(stats.invalid).toBe(0);
    expect(out.map((s) => [s.name, s.labels, s.value])).toEqual([
      ['a_b', { x: '1' }, 1],
      ['c_d', { x: '2', y: '3' }, 2],
    ]);
  });

  it('resolves families declared away from their samples', () => {
    const { out } = parse('# TYPE h histogram\n# TYPE g gauge\ng 1\nh_bucket{le="1"} 1\nh_sum 2\nh_total 3\n');
    expect(out.map((s) => [s.name, s.family, s.type])).toEqual([
      ['g', 'g', 'gauge'],
      ['h_bucket', 'h', 'histogram'],
      ['h_sum', 'h', 'histogram'],
      ['h_total', 'h_total', 'untyped'],
    ]);
  });

  it('parses numbers exactly like Number() in every notation (property)', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: 0, max: 16 }), (v, k) => {
        for (const t of [String(v), v.toExponential(k), v.toPrecision(k + 1), v.toFixed(Math.min(k, 20)), v.toExponential(k).replace('e', 'E')]) {
          if (!Number.isFinite(Number(t))) continue;
          const { out, stats } = parse(`m ${t}\n`);
          expect(stats.invalid).toBe(0);
          expect(Object.is(out[0]!.value, Number(t)) || out[0]!.value === Number(t)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips arbitrary label values (property)', () => {
    const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
    fc.assert(
      fc.property(fc.dictionary(fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,8}$/), fc.string({ maxLength: 12 }), { maxKeys: 5 }), fc.double({ noNaN: true, noDefaultInfinity: true }), (labels, v) => {
        const body = Object.entries(labels).map(([k, x]) => `${k}="${esc(x)}"`).join(',');
        const { out, stats } = parse(`m_x{${body}} ${v}\n`);
        expect(stats.invalid).toBe(0);
        expect(out).toHaveLength(1);
        expect(out[0]!.labels).toEqual(labels);
        expect(Object.is(out[0]!.value, v) || out[0]!.value === v).toBe(true);
      }),
    );
  });
});

describe('OpenMetrics 1.0', () => {
  it('parses families, units, exemplars, seconds timestamps and stops at # EOF', () => {
    const { out, stats } = parse(testdata('openmetrics.txt'), true);
    expect(stats.invalid).toBe(0);
    const names = out.map((s) => s.name);
    expect(names).not.toContain('ignored_after_eof');
    expect(out.find((s) => s.name === 'process_cpu_seconds_total')).toMatchObject({ family: 'process_cpu_seconds', type: 'counter', ts: 1605281325500 });
    expect(out.find((s) => s.name === 'build_info')).toMatchObject({ family: 'build', type: 'info', labels: { version: '1.2.3', revision: 'abc' } });
    expect(out.find((s) => s.name === 'foo_bucket' && s.labels.le === '0.1')).toMatchObject({ value: 8, type: 'histogram' });
    expect(out.find((s) => s.name === 'acme_http_router_request_seconds_created')).toMatchObject({ type: 'summary' });
  });
});

describe('previous-body cache', () => {
  it('gives the same results as a fresh parser when lines and types change', () => {
    const bodies = [
      '# TYPE a_x counter\na_x{k="1"} 1\na_x{k="2"} 2\n# TYPE b gauge\nb 3\n',
      '# TYPE a_x counter\na_x{k="1"} 4\na_x{k="3"} 5\n# TYPE b gauge\nb 6\n',
      '# TYPE a_x gauge\na_x{k="1"} 7\nnew_one 8\na_x{k="3"} 9\n# TYPE b counter\nb 10\n',
      'a_x{k="1"} 11\na_x{k="1",z="2"} 12\nbroken{ 13\nb 14\n',
    ];
    const cached = new ExpositionParser(false, true);
    for (const body of bodies) {
      const got: unknown[] = [];
      const want: unknown[] = [];
      const sg = cached.parse(body, (n, f, raw, v) => got.push([n, f.name, f.type, raw, v]));
      const sw = new ExpositionParser(false).parse(body, (n, f, raw, v) => want.push([n, f.name, f.type, raw, v]));
      expect(got).toEqual(want);
      expect(sg).toEqual(sw);
    }
  });
});

describe('previous-body cache of # TYPE lines', () => {
  it('resolves every sample like a fresh parser across changing bodies (property)', () => {
    const line = fc.oneof(
      fc.tuple(fc.constantFrom('a', 'a_x', 'b'), fc.constantFrom('counter', 'gauge', 'histogram', 'summary', 'untyped', 'GAUGE'), fc.constantFrom('', ' ', '\t'))
        .map(([n, t, sp]) => `# TYPE ${n} ${t}${sp}`),
      fc.constantFrom('# HELP a help', '# TYPE', '# TYPE a', '#'),
      fc.tuple(fc.constantFrom('a', 'a_x', 'a_total', 'a_bucket', 'a_sum', 'b', 'b_count', 'a_x_count'), fc.constantFrom('', '{k="1"}', '{le="+Inf"}'), fc.integer({ min: 0, max: 9 }))
        .map(([n, l, v]) => `${n}${l} ${v}`),
    );
    const body = fc.array(line, { maxLength: 10 }).map((ls) => ls.join('\n') + '\n');
    fc.assert(
      fc.property(fc.array(body, { minLength: 2, maxLength: 6 }), (bodies) => {
        const cached = new ExpositionParser(false, true);
        // each body twice in a row too, so that every line hits its cache
        for (const b of bodies.flatMap((x) => [x, x])) {
          const got: unknown[] = [];
          const want: unknown[] = [];
          cached.parse(b, (n, f, raw, v) => got.push([n, f.name, f.type, raw, v]));
          new ExpositionParser(false).parse(b, (n, f, raw, v) => want.push([n, f.name, f.type, raw, v]));
          expect(got).toEqual(want);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('robustness', () => {
  it('never throws on arbitrary input, with or without the cache (property)', () => {
    const alphabet = fc.constantFrom(...'ab_{}="\\,# \t\n\r1.e+-NaInf'.split(''), 'TYPE', 'HELP', 'EOF', 'counter', 'histogram', '_bucket', 'le="+Inf"');
    const body = fc.array(alphabet, { maxLength: 200 }).map((xs) => xs.join(''));
    const cached = new ExpositionParser(false, true);
    const om = new ExpositionParser(true, true);
    fc.assert(
      fc.property(body, (text) => {
        let n = 0;
        for (const p of [cached, om, new ExpositionParser(false)]) {
          const st = p.parse(text, (_n, _f, raw, v) => {
            n++;
            expect(Number.isFinite(v)).toBe(true);
            parseLabels(raw, []);
          });
          expect(st.samples + st.invalid + st.nonFinite).toBeLessThanOrEqual(text.split('\n').length);
        }
        return n >= 0;
      }),
      { numRuns: 3000 },
    );
  });
});

describe('previous-body cache with moved lines', () => {
  it('reuses the strings of lines that moved down or up', () => {
    const p = new ExpositionParser(false, true);
    const names = (body: string) => {
      const out: string[] = [];
      p.parse(body, (_n, _f, raw) => out.push(raw));
      return out;
    };
    const a = names('m_x{k="alpha-long-value"} 1\nm_x{k="beta-long-value"} 2\n');
    const b = names('m_x{k="new-series-on-top"} 0\nm_x{k="alpha-long-value"} 1\nm_x{k="beta-long-value"} 2\n');
    expect(b.slice(1)).toEqual(a);
    expect(b[1]).toBe(a[0]);
    const c = names('m_x{k="beta-long-value"} 2\n');
    expect(c[0]).toBe(a[1]);
  });
});
