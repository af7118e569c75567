import { describe, expect, it } from 'vitest';
import { validate } from '../../agent/config/schema.js';
import type { Point } from '../../agent/model/point.js';
import { LineBuf } from '../../agent/model/linebuf.js';
import { Aggregator, percentileOf } from './aggregator.js';
import { schema } from './config.js';
import { newScannedLine, scanLine } from './parser.js';
import { aggregatorOptions } from './statsd.js';

function agg(conf: Record<string, unknown> = {}): Aggregator {
  const v = validate(schema, conf);
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return new Aggregator(aggregatorOptions(v.value));
}

function find(points: Point[], name: string, tags: Record<string, string> = {}): Point {
  const p = points.find((x) => x.name === name && Object.entries(tags).every(([k, v]) => x.tags[k] === v));
  if (!p) throw new Error(`no point ${name} ${JSON.stringify(tags)} in ${JSON.stringify(points.map((x) => [x.name, x.tags]))}`);
  return p;
}

describe('aggregation', () => {
  it('sums counters with the sample rate applied; floats by default, ints with set_counter_int', () => {
    const a = agg();
    a.ingest('req.count:1|c\nreq.count:2|c|@0.5\nreq.count:1|c|@0.1');
    const p = find(a.flush(), 'req', { metric_type: 'counter' });
    expect(p.fields).toEqual({ count: 15 });
    expect(p.category).toBe('metric');
    const b = agg({ set_counter_int: true });
    b.ingest('req.count:2.7|c');
    expect(find(b.flush(), 'req').fields.count).toBe(2n);
  });

  it('keeps the last gauge value and applies signed deltas', () => {
    const a = agg();
    a.ingest('mem.used:10|g\nmem.used:+5|g\nmem.used:-3|g');
    expect(find(a.flush(), 'mem').fields).toEqual({ used: 12 });
    a.ingest('mem.used:-3|g'); // deleted after flush (delete_gauges): a delta starts from 0
    expect(find(a.flush(), 'mem').fields).toEqual({ used: -3 });
    const keep = agg({ delete_gauges: false });
    keep.ingest('mem.used:10|g');
    keep.flush();
    keep.ingest('mem.used:+1|g');
    expect(find(keep.flush(), 'mem').fields).toEqual({ used: 11 });
    expect(find(keep.flush(), 'mem').fields).toEqual({ used: 11 }); // re-emitted while idle
  });

  it('counts distinct set members', () => {
    const a = agg();
    a.ingest('users.unique:alice|s\nusers.unique:bob|s\nusers.unique:alice|s');
    expect(find(a.flush(), 'users', { metric_type: 'set' }).fields).toEqual({ unique: 2n });
  });

  it('summarises timings with count, sum, mean, lower, upper, stddev and percentiles', () => {
    const a = agg({ percentiles: [50, 90, 99.9, 100] });
    const lines = [];
    for (let i = 1; i <= 10; i++) lines.push(`api.latency:${i * 10}|ms`);
    a.ingest(lines.join('\n'));
    const p = find(a.flush(), 'api', { metric_type: 'timing' });
    expect(p.fields).toMatchObject({
      latency_count: 10n,
      latency_sum: 550,
      latency_mean: 55,
      latency_lower: 10,
      latency_upper: 100,
      latency_50_percentile: 60,
      latency_90_percentile: 100,
      'latency_99.9_percentile': 100,
      latency_100_percentile: 100,
    });
    expect(p.fields.latency_stddev as number).toBeCloseTo(28.7228, 3);
  });

  it('weights sampled timings and keeps histograms and distributions apart', () => {
    const a = agg();
    a.ingest('q.t:10|ms|@0.5\nq.t:20|h\nq.t:1:2:3|d|#env:prod');
    const pts = a.flush();
    expect(find(pts, 'q', { metric_type: 'timing' }).fields).toMatchObject({ t_count: 2n, t_sum: 20, t_mean: 10 });
    expect(find(pts, 'q', { metric_type: 'histogram' }).fields).toMatchObject({ t_count: 1n, t_sum: 20 });
    expect(find(pts, 'q', { metric_type: 'distribution', env: 'prod' }).fields).toMatchObject({ t_count: 3n, t_sum: 6, t_lower: 1, t_upper: 3 });
  });

  it('merges series of one measurement and tag set into one point', () => {
    const a = agg();
    a.ingest('jvm.heap.used:5|g|#pod:a\njvm.heap.max:9|g|#pod:a\njvm.heap.used:7|g|#pod:b');
    const pts = a.flush();
    expect(pts).toHaveLength(2);
    expect(find(pts, 'jvm', { pod: 'a' }).fields).toEqual({ heap_used: 5, heap_max: 9 });
  });

  it('keeps apart two shapes whose cache hash collides (same length too)', () => {
    const x = 'm.7yytsmfrocev:1|c';
    const y = 'm.blerpcdp0kqh:2|c';
    const hx = newScannedLine();
    const hy = newScannedLine();
    scanLine(x, 0, x.length, true, hx);
    scanLine(y, 0, y.length, true, hy);
    expect(hx.hash).toBe(hy.hash); // found by search: the collision this test is about
    const a = agg();
    a.ingest(`${x}\n${y}\n${x}\n${y}`);
    expect(a.flush()[0]!.fields).toEqual({ '7yytsmfrocev': 2, blerpcdp0kqh: 4 });
  });

  it('treats tag order as irrelevant', () => {
    const a = agg();
    a.ingest('x.y:1|c|#a:1,b:2\nx.y:1|c|#b:2,a:1');
    const pts = a.flush();
    expect(pts).toHaveLength(1);
    expect(pts[0]!.fields).toEqual({ y: 2 });
  });

  it('emits nothing after a flush when delete_* are on, and everything again when off', () => {
    const a = agg();
    a.ingest('a.c:1|c\na.g:1|g\na.s:x|s\na.t:1|ms');
    expect(a.flush()).toHaveLength(4);
    expect(a.flush()).toHaveLength(0);
    const keep = agg({ delete_counters: false, delete_gauges: false, delete_sets: false, delete_timings: false });
    keep.ingest('a.c:1|c\na.g:1|g\na.s:x|s\na.t:1|ms');
    keep.flush();
    keep.ingest('a.c:1|c');
    const again = keep.flush();
    expect(again).toHaveLength(4);
    expect(find(again, 'a', { metric_type: 'counter' }).fields).toEqual({ c: 2 }); // cumulative, as Telegraf
  });

  it('forgets idle series after max_ttl', () => {
    const a = agg({ delete_gauges: false, max_ttl: '1s' });
    a.ingest('a.g:1|g');
    const t0 = Date.now();
    expect(a.flush(t0 + 500)).toHaveLength(1);
    expect(a.flush(t0 + 1500)).toHaveLength(1); // emitted once more, then forgotten
    expect(a.flush(t0 + 2500)).toHaveLength(0);
  });

  it('uses metric_mapping and the separator', () => {
    const a = agg({ metric_mapping: ['tomcat_:web'], metric_separator: '_' });
    a.ingest('tomcat.sessions.active:3|g\nplain:1|g');
    const pts = a.flush();
    expect(find(pts, 'web').fields).toEqual({ sessions_active: 3 });
    expect(find(pts, 'plain').fields).toEqual({ plain: 1 });
  });

  it('applies drop_tags to metrics', () => {
    const a = agg({ drop_tags: ['runtime-id'] });
    a.ingest('a.b:1|c|#runtime-id:123,env:prod');
    expect(a.flush()[0]!.tags).toEqual({ metric_type: 'counter', env: 'prod' });
  });

  it('detaches a big interval in steps (empty chunks first); lines arriving meanwhile are neither lost nor let past max_series', () => {
    const a = agg({ max_series: 12_000 });
    for (let i = 0; i < 10_000; i++) a.ingest(`m${i}.hits:1|c`);
    const g = a.flushChunks(1_000, 250);
    expect(g.next().value).toEqual([]); // a detach step: the caller may let other work run
    // between steps: a series not yet detached, found through the cache, counts in this interval;
    // new series go to the next one, and the 10,000 not yet emitted still count against max_series
    a.ingest('m9999.hits:2|c');
    for (let i = 0; i < 3001; i++) a.ingest(`late${i}.hits:5|c`);
    expect(a.size).toBe(2000);
    expect(a.takeCounts().dropped.get('series_limit')).toBe(1001);
    const points: Point[] = [];
    for (let c = g.next(); !c.done; c = g.next()) points.push(...c.value);
    expect(points).toHaveLength(10_000);
    expect(find(points, 'm9999').fields).toEqual({ hits: 3 });
    expect(points.some((p) => p.name.startsWith('late'))).toBe(false);
    const next = a.flush();
    expect(next).toHaveLength(2000);
    expect(find(next, 'late0').fields).toEqual({ hits: 5 });
  });
});

describe('bad input', () => {
  it('counts every malformed line by reason and never touches an aggregate', () => {
    const a = agg();
    a.ingest(['ok.c:1|c', 'ok.c:x|c', 'ok.c', 'ok.c:1', 'ok.c:1|q', 'ok.c:1|c|@7', ':1|c', 'ok.c:1:x|c', '', '  ', 'ok.c:2|c\r'].join('\n'));
    expect(find(a.flush(), 'ok').fields).toEqual({ c: 3 });
    const c = a.takeCounts();
    expect(Object.fromEntries(c.malformed)).toEqual({ bad_value: 2, no_value: 1, no_type: 1, bad_type: 1, bad_sample_rate: 1, bad_name: 1 });
    expect(c.metrics.get('c')).toBe(2);
  });

  it('keeps every aggregate finite whatever the values and rates', () => {
    const a = agg();
    const big = '1e100';
    const lines = [];
    for (let i = 0; i < 1000; i++) lines.push(`f.c:${big}|c|@0.000000001`, `f.g:+${big}|g`, `f.t:-${big}|ms|@0.000000001`, `f.c:1e308|c`);
    a.ingest(lines.join('\n'));
    const pts = a.flush();
    for (const p of pts) for (const v of Object.values(p.fields)) if (typeof v === 'number') expect(Number.isFinite(v)).toBe(true);
    expect(a.takeCounts().malformed.get('bad_value')).toBe(1000);
  });

  it('creates no series for a line whose value is bad', () => {
    const a = agg();
    a.ingest('new.thing:NaN|g');
    expect(a.size).toBe(0);
    expect(a.flush()).toHaveLength(0);
  });

  it('limits series; what is dropped is counted and room comes back after a flush', () => {
    const a = agg({ max_series: 3 });
    const lines = [];
    for (let i = 0; i < 10; i++) lines.push(`m.c${i}:1|c`);
    a.ingest(lines.join('\n'));
    a.ingest('m.c9:1|c'); // a cached dropped shape stays dropped while full
    expect(a.size).toBe(3);
    expect(a.takeCounts().dropped.get('series_limit')).toBe(8);
    expect(a.flush()[0]!.fields).toEqual({ c0: 1, c1: 1, c2: 1 });
    a.ingest('m.c9:1|c');
    expect(a.flush()[0]!.fields).toEqual({ c9: 1 });
  });

  it('bounds the line-shape cache', () => {
    const a = agg({ max_series: 5 });
    for (let i = 0; i < 50_000; i++) a.ingest(`m.x:1|c|#id:${i}`);
    expect(a.size).toBe(5);
    expect(a.cacheSize).toBeLessThanOrEqual(10_000);
  });

  it('limits set members', () => {
    const a = agg({ max_set_size: 2 });
    a.ingest('s.u:a|s\ns.u:b|s\ns.u:c|s\ns.u:a|s');
    expect(a.flush()[0]!.fields).toEqual({ u: 2n });
    expect(a.takeCounts().dropped.get('set_limit')).toBe(1);
  });

  it('drops distributions when datadog_distributions is off', () => {
    const a = agg({ datadog_distributions: false });
    a.ingest('d.x:1|d');
    expect(a.flush()).toHaveLength(0);
    expect(a.takeCounts().dropped.get('distributions_disabled')).toBe(1);
  });
});

describe('percentiles', () => {
  it('picks sorted[floor(n*p/100)] clamped, as Telegraf', () => {
    const s = Float64Array.from([1, 2, 3, 4]);
    expect(percentileOf(s, 0)).toBe(1);
    expect(percentileOf(s, 50)).toBe(3);
    expect(percentileOf(s, 100)).toBe(4);
    expect(percentileOf(new Float64Array(0), 50)).toBe(0);
  });

  it('keeps at most percentile_limit samples but exact count/sum/min/max', () => {
    const a = agg({ percentile_limit: 100, percentiles: [50] });
    const lines = [];
    for (let i = 1; i <= 10_000; i++) lines.push(`t.v:${i}|ms`);
    a.ingest(lines.join('\n'));
    const f = a.flush()[0]!.fields;
    expect(f).toMatchObject({ v_count: 10_000n, v_sum: 50_005_000, v_lower: 1, v_upper: 10_000 });
    expect(f.v_50_percentile as number).toBeGreaterThan(2_500);
    expect(f.v_50_percentile as number).toBeLessThan(7_500);
  });
});

describe('point size', () => {
  it('splits a measurement with many series into several points under the field limit', () => {
    const a = agg();
    const lines = [];
    for (let i = 0; i < 200; i++) lines.push(`wide.t${i}:1|ms`);
    a.ingest(lines.join('\n'));
    const pts = a.flush();
    expect(pts.length).toBeGreaterThan(1);
    expect(Math.max(...pts.map((p) => Object.keys(p.fields).length))).toBeLessThanOrEqual(1024);
    expect(pts.reduce((n, p) => n + Object.keys(p.fields).filter((f) => f.endsWith('_count')).length, 0)).toBe(200);
  });
});

describe('against a naive model', () => {
  it('sums counters and keeps last gauges exactly as a straightforward implementation, across flushes', async () => {
    const fc = (await import('fast-check')).default;
    const names = ['a.x', 'a.y', 'b', 'a.x,k=v', 'c.d.e'];
    const tagsets = ['', 'env:p', 'env:p,z', 'z,env:p', 'env:q'];
    const line = fc.record({ n: fc.constantFrom(...names), t: fc.constantFrom('c', 'g'), g: fc.constantFrom(...tagsets), v: fc.integer({ min: 0, max: 1000 }) });
    fc.assert(
      fc.property(fc.array(fc.array(line, { maxLength: 40 }), { minLength: 1, maxLength: 4 }), (intervals) => {
        const a = agg();
        for (const lines of intervals) {
          const model = new Map<string, number>();
          for (const l of lines) {
            const tagPart = l.g === '' ? '' : `|#${l.g}`;
            a.ingest(`${l.n}:${l.v}|${l.t}${tagPart}`);
            const tags = [...l.g.split(',').filter((x) => x !== '').map((x) => (x.includes(':') ? x.replace(':', '=') : `${x}=true`))];
            const [bare, ...inl] = l.n.split(',');
            const key = [l.t, bare!.replaceAll('.', '_'), ...[...inl, ...tags].sort()].join('|');
            model.set(key, l.t === 'c' ? (model.get(key) ?? 0) + l.v : l.v);
          }
          const got = new Map<string, number>();
          for (const p of a.flush()) {
            const tags = Object.entries(p.tags)
              .filter(([k]) => k !== 'metric_type')
              .map(([k, v]) => `${k}=${v}`);
            for (const [f, v] of Object.entries(p.fields)) {
              const full = f === p.name ? p.name : `${p.name}_${f}`;
              got.set([p.tags.metric_type === 'counter' ? 'c' : 'g', full, ...tags.sort()].join('|'), v as number);
            }
          }
          expect(got).toEqual(model);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('flushLines', () => {
  it('writes the bytes the points would be encoded to, with the core\'s tags added, in the same chunks', () => {
    const input = [
      'jvm.heap.used:5|g|#pod:a,env:prod',
      'jvm.heap.max:9|g|#env:prod,pod:a',
      'req,region=eu.count:2|c|@0.5',
      'we ird.na=me,x:1|c|#sp ace:a=b,comma:c\\,d,host:web-1',
      'lat.t:10:20:30:40:50|ms|#env:prod',
      'lat.t:1e-7|h',
      'users.u:a:b:c|s|#é:ü',
      'g.neg:-0.5|g',
      'big.c:1e99|c',
    ].join('\n');
    const tagsToAdd = { env: 'staging', cluster: 'k 1', host: 'node-1' };
    for (const conf of [{}, { set_counter_int: true, percentiles: [50, 99.9] }]) {
      const a = agg(conf);
      const b = agg(conf);
      a.ingest(input);
      b.ingest(input);
      const now = 1_700_000_000_123;
      const expected: string[] = [];
      for (const chunk of a.flushChunks(now, 2)) {
        const buf = new LineBuf(1024);
        for (const p of chunk) {
          for (const k in tagsToAdd) if (p.tags[k] === undefined) p.tags[k] = tagsToAdd[k as keyof typeof tagsToAdd];
          buf.point(p, 0n);
        }
        expected.push(buf.data.subarray(0, buf.off).toString());
      }
      const got: string[] = [];
      for (const buf of b.flushLines(now, 2, tagsToAdd)) got.push(buf.data.subarray(0, buf.off).toString());
      expect(got).toEqual(expected);
      expect(expected.join('').split('\n').length).toBeGreaterThan(6);
      expect(b.slots).toBe(0);
    }
  });
});
