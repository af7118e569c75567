/**
 * Lines mode (lines.ts, Converter.convertLines) must write exactly the lines
 * the core writes for the points of convert(): the same scrape goes both ways
 * through the core's own RunningInput (its decoration and tagsToAdd) and line
 * writer (LineBuf.point), and the bytes are compared.
 */
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { pino } from 'pino';
import { validConfig } from '../../test/helpers/fake-context.js';
import { RunningInput } from '../../agent/input/running-input.js';
import { LineBuf } from '../../agent/model/linebuf.js';
import type { AddOptions } from '../../agent/input/contract.js';
import type { Category, Point } from '../../agent/model/point.js';
import type { Sender } from '../../agent/delivery/sender.js';
import type { CoreMetrics } from '../../agent/telemetry/metrics.js';
import { schema } from './config.js';
import { Converter } from './convert.js';
import { isIndexKey } from './lines.js';

const T = 1_700_000_000_000_000_000n;
const read = (...p: string[]) => fs.readFileSync(path.join(import.meta.dirname, ...p), 'utf8');
const NODE = read('..', '..', 'bench', 'prom', 'node-exporter.txt');
const BODIES = [NODE, read('testdata', 'text004.txt'), read('testdata', 'openmetrics.txt')];

/** A RunningInput over a sender that keeps what it is given as line protocol. */
function core(inputTags: Record<string, string>, globals: () => Record<string, string>) {
  /** `into`: where points the core is given go (the lines way's fallbacks go with its lines). */
  const got = { points: '', lines: '', pointCount: 0, lineCount: 0, into: 'points' as 'points' | 'lines' };
  const sender = {
    offer(_c: Category, pts: Point[]) {
      const b = new LineBuf(1024);
      for (const p of pts) b.point(p, T);
      const text = b.data.subarray(0, b.off).toString();
      if (got.into === 'points') {
        got.points += text;
        got.pointCount += pts.length;
      } else {
        got.lines += text;
        got.lineCount += pts.length;
      }
      return pts.length;
    },
    offerLines(_c: Category, data: Uint8Array, ends: ArrayLike<number>) {
      got.lines += Buffer.from(data.subarray(0, ends[ends.length - 1])).toString();
      got.lineCount += ends.length;
      return ends.length;
    },
  } as unknown as Sender;
  const metrics = { inputPoints: { inc: () => undefined } } as unknown as CoreMetrics;
  const acc = new RunningInput('prom', 0, inputTags, globals, () => ({ cluster: 'c1' }), sender, metrics, pino({ level: 'silent' }));
  return { acc, got };
}

/** Converts each body both ways with two converters of the same config; returns the lines of each way. */
function bothWays(bodies: string[], raw: Record<string, unknown> = {}, o: { om?: boolean; input?: Record<string, string>; globals?: () => Record<string, string>; opts?: AddOptions; before?: (k: number) => void } = {}) {
  const config = validConfig(schema, raw);
  const viaPoints = new Converter(config);
  const viaLines = new Converter(config);
  const { acc, got } = core(o.input ?? { team: 'a' }, o.globals ?? (() => ({ host: 'node-1', zone: 'z' })));
  const base = Object.freeze({ instance: '127.0.0.1:9100' });
  let fallbacks = 0;
  for (const [k, body] of bodies.entries()) {
    o.before?.(k);
    const pr = viaPoints.convert(body, o.om ?? false, base, T);
    if (pr.points.length > 0) acc.add(pr.points, o.opts);
    const out = new LineBuf(64);
    const lr = viaLines.convertLines(body, o.om ?? false, base, T, acc.tagsToAdd(o.opts), out);
    if (lr === undefined) {
      fallbacks++;
      const again = viaLines.convert(body, o.om ?? false, base, T);
      expect(again.stats).toEqual(pr.stats);
      got.into = 'lines';
      if (again.points.length > 0) acc.add(again.points, o.opts);
      got.into = 'points';
      continue;
    }
    expect(lr.stats).toEqual(pr.stats);
    expect(lr.filtered).toBe(pr.filtered);
    expect(lr.lines).toBe(pr.points.length);
    if (out.ends.length > 0) acc.addLines('metric', out.data, out.ends, o.opts);
  }
  return { ...got, fallbacks };
}

function expectSame(bodies: string[], raw: Record<string, unknown> = {}, o: Parameters<typeof bothWays>[2] = {}) {
  const r = bothWays(bodies, raw, o);
  expect(r.fallbacks).toBe(0);
  expect(r.lines).toBe(r.points);
  expect(r.lineCount).toBe(r.pointCount);
  return r;
}

describe('lines mode writes what the core writes for the points', () => {
  it('the node exporter body, scraped again and again', () => {
    const r = expectSame([NODE, NODE, NODE.replace(/ 0\n/g, ' 1\n')]);
    expect(r.lines).toContain('\nnode,cpu=0,mode=idle,instance=127.0.0.1:9100,version=go1.19.8,');
    expect(r.lines.length).toBeGreaterThan(100_000);
  });

  it('the test bodies, text and OpenMetrics, with the core adding input, host and election tags', () => {
    expectSame([BODIES[1]!.replace(/ 1395066363000/g, '')], { honor_timestamps: true });
    expectSame([BODIES[2]!.replace(' 1605281325.5', '')], {}, { om: true });
    expect(bothWays([BODIES[2]!], {}, { om: true }).fallbacks).toBe(1); // its sample with a timestamp
    expectSame([NODE], {}, { opts: { omitGlobalTags: ['host'] } });
    expectSame([NODE], {}, { opts: { electionTags: true } });
  });

  it('info labels that change, appear and go, and tags that collide with them', () => {
    const a = '# TYPE x_info gauge\nx_info{version="1",team="b"} 1\nx_up{team="c"} 1\nx_y 2\nx_up{version="0"} 3\n';
    const b = a.replace('version="1"', 'version="2"');
    const c = 'x_up{team="c"} 1\nx_y 2\n';
    expectSame([a, a, b, c, a]);
    expectSame([a, b], { disable_info_tag: true });
    // an input tag named like an info label, and a global tag named like a label
    expectSame([a, b, c], {}, { input: { version: 'input' }, globals: () => ({ team: 'global', host: 'h' }) });
  });

  it('global tags that change between scrapes (a new host name, a new leader)', () => {
    let host = 'node-1';
    const r = expectSame([NODE, NODE, NODE, NODE], {}, { globals: () => ({ host }), before: (k) => (host = k < 2 ? 'a' : 'b') });
    expect(r.lines).toContain(',host=a ');
    expect(r.lines).toContain(',host=b ');
  });

  it('renames, ignored tags, prefixes, measurement names and filters', () => {
    expectSame([NODE], { tags_rename: { mapping: { cpu: 'core', mode: 'instance' }, overwrite_exist_tags: true }, tags_ignore: ['device'] });
    expectSame([NODE], { measurement_prefix: 'p_', metric_name_filter_ignore: ['^go_'], ignore_tag_kv_match: { mode: ['^idle$'] } });
    expectSame([NODE], { measurement_name: 'all', keep_exist_metric_name: true });
    expectSame([BODIES[1]!.replace(/ 1395066363000/g, '')], { measurements: [{ prefix: 'http_', name: 'web' }] });
  });

  it('odd labels and keys: escapes, empty values, array-index tag keys from the core', () => {
    const body = 'a_b{x="with space",y="",z="c,d=e"} 1\na_c{x="with space",y="",z="c,d=e"} 2\nm\\x_y 3\n';
    expectSame([body, body]);
    expectSame([body], {}, { input: { '7': 'seven', b: '' }, globals: () => ({ '3': 'three', host: 'h' }) });
    expectSame(['a_b{x="1"} 1\n'], { tags_rename: { mapping: { x: '12' } } });
  });

  it('values and keys written piece by piece: signs, zeros, integers past 2^53, exponents, fractions, non-ASCII keys', () => {
    // integers up to 2^53 are written as digits by lines.ts, the rest as JS writes numbers; keys by a loop unless not ASCII
    const values = ['0', '-0', '-1', '7', '-123456789012', '9007199254740991', '-9007199254740991', '9007199254740993', '1e21', '-1e21', '2.19648e+06', '0.1', '-1.5e-7', '1.7976931348623157e+308', '4294967296'];
    const body = values.map((v, i) => `a_f${i}{x="1"} ${v}\n`).join('') + 'a_ключ{x="1"} 5\nü_x 6\na_é 7\n';
    const r = expectSame([body, body]);
    expect(r.lines).toContain(' f0=0,f1=0,f2=-1,f3=7,f4=-123456789012,f5=9007199254740991,f6=-9007199254740991,f7=9007199254740992,f8=1e+21,f9=-1e+21,f10=2196480,f11=0.1,f12=-1.5e-7,f13=1.7976931348623157e+308,f14=4294967296,ключ=5 ');
    expect(r.lines).toContain('\nü,instance=127.0.0.1:9100,team=a,host=node-1,zone=z x=6 ');
  });

  it('targets of one config share label sets but not their own tags', () => {
    // label sets and name mappings are shared by every converter of a config object; each target's base tags
    // (an instance, a team that some series also carry as a label, an array-index key, a key the core adds) are its own
    const config = validConfig(schema, {});
    const bases = ([{ instance: '10.0.0.1:9100' }, { instance: '10.0.0.2:9100', team: 'base' }, { instance: 'i', '9': 'nine' }, { host: 'mine' }, {}] as Record<string, string>[]).map((b) => Object.freeze(b));
    const a = '# TYPE x_info gauge\nx_info{version="1"} 1\nx_up{team="c"} 1\nx_y 2\nx_up{instance="own",le="0.5"} 3\nx_z{a="1"} 4\n';
    const targets = bases.map((base) => ({ base, viaPoints: new Converter(config), viaLines: new Converter(config), ...core({ zone: 'z' }, () => ({ host: 'node-1' })) }));
    for (const body of [a, NODE, a, a.replace('version="1"', 'version="2"'), NODE]) {
      for (const t of targets) {
        const pr = t.viaPoints.convert(body, false, t.base, T);
        t.acc.add(pr.points);
        const out = new LineBuf(64);
        const lr = t.viaLines.convertLines(body, false, t.base, T, t.acc.tagsToAdd(), out);
        expect(lr).toBeDefined();
        t.acc.addLines('metric', out.data, out.ends);
      }
    }
    for (const t of targets) {
      expect(t.got.lines).toBe(t.got.points);
      expect(t.got.lineCount).toBe(t.got.pointCount);
    }
    expect(targets[0]!.got.lines).toContain('x,team=c,instance=10.0.0.1:9100,version=1,zone=z,host=node-1 up=1 ');
    expect(targets[1]!.got.lines).toContain('x,team=c,instance=10.0.0.2:9100,version=1,zone=z,host=node-1 up=1 ');
    expect(targets[1]!.got.lines).toContain('x,instance=10.0.0.2:9100,team=base,version=1,zone=z,host=node-1 y=2 ');
    expect(targets[2]!.got.lines).toContain('x,9=nine,team=c,instance=i,version=2,zone=z,host=node-1 up=1 ');
  });

  it('goes the points way for what it cannot write exactly', () => {
    const cases = [
      'a_b{x="1"} 1 1700000000000\n', // a sample with its own timestamp
      'a_b{x="1"} 1\na_c 2\na_b{x="1"} 3\n', // the same series twice: one value kept in the first one's place
      'a_b 1\n_a_b 2\n', // two names, one field
      'a_b{x="1"} 1\na_b{x="2"} 2\na_b{x="1"} 3\n', // a name's lines interleaved: its second line in between
      Array.from({ length: 20 }, (_, i) => `a_f${i} ${i}\n`).join('') + 'a_f3 3\n', // a field twice in a line of many
      'b_x 1\na_b 1\nb_y 2\n_a_b 2\n', // two names, one field, with another line in between
      'a_1 1\na_b 2\n', // a field key JS orders first
      'a_ 1\n', // an empty field key
    ];
    for (const body of cases) {
      const r = bothWays([body, body]);
      expect(r.fallbacks, body).toBe(2);
      expect(r.lines).toBe(r.points);
    }
    // a name that shares its field with one seen in an earlier scrape only
    const later = bothWays(['a_b 1\nc_d 1\n', 'a_b 1\nc_d 1\n_a_b 2\n', 'a_b 1\nc_d 1\n']);
    expect(later.fallbacks).toBe(1);
    expect(later.lines).toBe(later.points);
    // the name table starting again (100,000 names) between two names of one field, the first still memoised
    const many = Array.from({ length: 100_000 }, (_, i) => `f${i}_x 1\n`).join('');
    const again = bothWays(['a_b 1\n', `${many}a_b 1\n_a_b 2\n`]);
    expect(again.fallbacks).toBe(1);
    expect(again.lines).toBe(again.points);
    expect(isIndexKey('0')).toBe(true);
    expect(isIndexKey('10')).toBe(true);
    expect(isIndexKey('01')).toBe(false);
    expect(isIndexKey('4294967295')).toBe(false);
    expect(isIndexKey('1a')).toBe(false);
  });

  it('random expositions: the same lines, or the points way', () => {
    const label = fc.constantFrom('a', 'b', 'le', 'instance', 'team', 'version', '5', 'host');
    const value = fc.constantFrom('1', 'x y', 'q"uote', 'back\\\\slash', '', 'c,d=e', 'ünï');
    const name = fc.constantFrom('a_b', 'a_c', 'x_info', 'b_total', 'a_b_bucket', 'a_2', 'c', '_a_b', 'node_cpu');
    const sample = fc.record({ name, labels: fc.array(fc.tuple(label, value), { maxLength: 3 }), v: fc.constantFrom('0', '1.5', '-2e+06', 'NaN', '3', '1e-7'), ts: fc.constantFrom('', '', '', ' 1700000000000') });
    const body = fc.array(sample, { maxLength: 25 }).map((ss) =>
      ss
        .map((s) => {
          const seen = new Set<string>();
          const ls = s.labels.filter(([k]) => (seen.has(k) ? false : (seen.add(k), true)));
          return `${s.name}${ls.length ? `{${ls.map(([k, v]) => `${k}="${v}"`).join(',')}}` : ''} ${s.v}${s.ts}\n`;
        })
        .join(''),
    );
    const typeLine = fc.constantFrom('', '# TYPE x_info info\n', '# TYPE a_b histogram\n', '# TYPE x_info gauge\n');
    fc.assert(
      fc.property(fc.array(fc.tuple(typeLine, body), { minLength: 1, maxLength: 4 }), fc.boolean(), (parts, disableInfo) => {
        const bodies = parts.map(([t, b]) => t + b);
        const r = bothWays(bodies, { disable_info_tag: disableInfo });
        expect(r.lines).toBe(r.points);
        expect(r.lineCount).toBe(r.pointCount);
      }),
      { numRuns: 300, seed: 22 },
    );
  });
});
