import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { validConfig } from '../../test/helpers/fake-context.js';
import type { Point } from '../../agent/model/point.js';
import { schema, type PromConfig } from './config.js';
import { Converter } from './convert.js';

const testdata = (f: string) => fs.readFileSync(path.join(import.meta.dirname, 'testdata', f), 'utf8');

function cfg(raw: Record<string, unknown> = {}): PromConfig {
  return validConfig(schema, raw);
}

const T = 1_700_000_000_000_000_000n;

function conv(text: string, raw: Record<string, unknown> = {}, base: Record<string, string> = {}, om = false) {
  return new Converter(cfg(raw)).convert(text, om, base, T);
}

const find = (pts: Point[], name: string, tags: Record<string, string> = {}) =>
  pts.filter((p) => p.name === name && Object.entries(tags).every(([k, v]) => p.tags[k] === v));

describe('name mapping', () => {
  it('splits on the first underscore and merges same-series samples', () => {
    const { points } = conv('# TYPE go_goroutines gauge\ngo_goroutines 12\ngo_threads 9\n_private_x 1\nsingle 3\n', {}, { instance: 'h:1' });
    expect(points).toHaveLength(3);
    expect(points[0]).toEqual({ category: 'metric', name: 'go', tags: { instance: 'h:1' }, fields: { goroutines: 12, threads: 9 }, time: T });
    expect(points[1]).toMatchObject({ name: 'private', fields: { x: 1 } });
    expect(points[2]).toMatchObject({ name: 'single', fields: { single: 3 } });
  });

  it('measurement_name keeps the whole metric name as the field; prefix applies otherwise', () => {
    expect(conv('a_b 1\n', { measurement_name: 'istio_prom' }).points[0]).toMatchObject({ name: 'istio_prom', fields: { a_b: 1 } });
    expect(conv('a_b 1\n', { measurement_prefix: 'p_' }).points[0]).toMatchObject({ name: 'p_a', fields: { b: 1 } });
    expect(conv('a_b 1\n', { keep_exist_metric_name: true }).points[0]).toMatchObject({ name: 'a', fields: { a_b: 1 } });
  });

  it('[[measurements]] prefix rules win', () => {
    const { points } = conv('cpu_usage_idle 5\ncpu_x 1\nmem_used 2\n', { measurements: [{ prefix: 'cpu_usage_', name: 'cpuu' }], measurement_name: 'all' });
    expect(points.map((p) => [p.name, p.fields])).toEqual([
      ['cpuu', { idle: 5 }],
      ['all', { cpu_x: 1, mem_used: 2 }],
    ]);
  });
});

describe('types', () => {
  it('maps histograms and summaries with le / quantile tags and skips non-finite values', () => {
    const { points, stats } = conv(testdata('text004.txt'), {}, { instance: 'x:1' });
    expect(stats.nonFinite).toBe(1);
    const buckets = find(points, 'http', { le: '+Inf' });
    expect(buckets).toHaveLength(1);
    expect(buckets[0]!.fields).toEqual({ request_duration_seconds_bucket: 144320 });
    expect(find(points, 'http').filter((p) => p.tags.le !== undefined)).toHaveLength(6);
    const agg = find(points, 'http').find((p) => 'request_duration_seconds_sum' in p.fields)!;
    expect(agg.fields).toEqual({ request_duration_seconds_sum: 53423, request_duration_seconds_count: 144320 });
    expect(agg.tags).toEqual({ instance: 'x:1' });
    const q = find(points, 'rpc', { quantile: '0.99' })[0]!;
    expect(q.fields).toEqual({ duration_seconds: 76656 });
    expect(find(points, 'something')).toHaveLength(0);
  });

  it('honours timestamps unless told not to', () => {
    const text = 'a_b{x="1"} 1 1395066363000\na_c{x="1"} 2\n';
    const on = conv(text).points;
    expect(on.map((p) => p.time)).toEqual([1395066363000n * 1_000_000n, T]);
    const off = conv(text, { honor_timestamps: false }).points;
    expect(off).toHaveLength(1);
    expect(off[0]!.fields).toEqual({ b: 1, c: 2 });
  });

  it('metric_types keeps only the listed types', () => {
    const { points, filtered } = conv(testdata('text004.txt'), { metric_types: ['counter', 'gauge'] });
    expect(points.map((p) => [p.name, p.tags.code, p.fields])).toEqual([
      ['http', '200', { requests_total: 1027 }],
      ['http', '400', { requests_total: 3 }],
    ]);
    expect(filtered).toBeGreaterThan(10);
  });
});

describe('filters and tags', () => {
  it('metric_name_filter / _ignore match sample or family names (regex, unanchored)', () => {
    const text = testdata('text004.txt');
    const keep = conv(text, { metric_name_filter: ['^rpc_', 'requests_total'] }).points;
    expect(new Set(keep.map((p) => p.name))).toEqual(new Set(['rpc', 'http']));
    expect(keep.filter((p) => p.name === 'http').every((p) => 'requests_total' in p.fields)).toBe(true);
    const drop = conv(text, { metric_name_filter_ignore: ['^http_', 'rpc'] }).points;
    expect(new Set(drop.map((p) => p.name))).toEqual(new Set(['msdos', 'metric']));
  });

  it('tags_ignore, tags_rename (with and without overwrite) and ignore_tag_kv_match', () => {
    const text = 'm_a{a="1",b="2",c="3",x="drop-me"} 1\nm_b{a="1",b="2",c="3",x="keep"} 2\n';
    const r = conv(text, {
      tags_ignore: ['c'],
      tags_rename: { mapping: { a: 'b', x: 'y' } },
      ignore_tag_kv_match: { x: ['^drop'] },
    });
    expect(r.points).toHaveLength(1);
    expect(r.points[0]!.tags).toEqual({ a: '1', b: '2', y: 'keep' });
    expect(r.filtered).toBe(1);
    const o = conv('m_a{a="1",b="2"} 1\n', { tags_rename: { overwrite_exist_tags: true, mapping: { a: 'b' } } });
    expect(o.points[0]!.tags).toEqual({ b: '1' });
  });

  it('labels win over base tags; info labels go to other points unless disabled', () => {
    const text = '# TYPE go_info gauge\ngo_info{version="go1.21"} 1\ngo_x{instance="own"} 1\nnode_y 2\n';
    const { points } = conv(text, {}, { instance: 'h:1' });
    expect(find(points, 'go', { instance: 'own' })[0]!.tags).toEqual({ instance: 'own', version: 'go1.21' });
    expect(find(points, 'node')[0]!.tags).toEqual({ instance: 'h:1', version: 'go1.21' });
    const off = conv(text, { disable_info_tag: true }, { instance: 'h:1' }).points;
    expect(find(off, 'node')[0]!.tags).toEqual({ instance: 'h:1' });
  });

  it('gives the points of a series one frozen tags template across scrapes (the core decorates a copy of it)', () => {
    const c = new Converter(cfg());
    const base = Object.freeze({}); // one per target, as target.ts passes it
    const a = c.convert('m_a{x="1"} 1\nm_b{x="1"} 1\nm_a{x="2"} 1\n', false, base, T).points;
    expect(a.map((p) => p.tags)).toEqual([{ x: '1' }, { x: '2' }]);
    expect(Object.isFrozen(a[0]!.tags)).toBe(true);
    expect(() => {
      a[0]!.tags.host = 'mutated';
    }).toThrow(TypeError);
    const b = c.convert('m_a{x="1"} 2\nm_a{x="2"} 2\n', false, base, T).points;
    expect(b[0]!.tags).toBe(a[0]!.tags);
    expect(b[1]!.tags).toBe(a[1]!.tags);
    // info labels: a merged template per series, also shared and frozen
    const d = c.convert('m_a{x="1"} 3\nbuild_info{v="9"} 1\n', false, base, T).points;
    expect(d[0]!.tags).toEqual({ x: '1', v: '9' });
    expect(Object.isFrozen(d[0]!.tags)).toBe(true);
    expect(c.convert('m_a{x="1"} 4\nbuild_info{v="9"} 1\n', false, base, T).points[0]!.tags).toBe(d[0]!.tags);
  });

  it("maps a name again when its family's type changes between scrapes (metric_types, info)", () => {
    const base = Object.freeze({});
    const c = new Converter(cfg({ metric_types: ['gauge'] }));
    expect(c.convert('# TYPE temp counter\ntemp_c 1\ntemp 1\n', false, base, T).points).toEqual([]);
    expect(c.convert('# TYPE temp gauge\ntemp_c 2\ntemp 2\n', false, base, T).points.map((p) => p.fields)).toEqual([{ temp: 2 }]);
    expect(c.convert('# TYPE temp counter\ntemp_c 3\ntemp 3\n', false, base, T).points).toEqual([]);
    const i = new Converter(cfg());
    const body = (type: string) => `# TYPE build_info ${type}\nbuild_info{v="9"} 1\nup 1\n`;
    expect(find(i.convert(body('counter'), false, base, T).points, 'up')[0]!.tags).toEqual({});
    expect(find(i.convert(body('gauge'), false, base, T).points, 'up')[0]!.tags).toEqual({ v: '9' });
    expect(find(i.convert(body('counter'), false, base, T).points, 'up')[0]!.tags).toEqual({});
  });

  it('converts the OpenMetrics example', () => {
    const { points } = conv(testdata('openmetrics.txt'), {}, {}, true);
    const cpu = find(points, 'process')[0]!;
    expect(cpu.fields).toEqual({ cpu_seconds_total: 4.20072246e6 });
    expect(cpu.time).toBe(1605281325500n * 1_000_000n);
    expect(find(points, 'foo', { le: '0.1' })[0]!.fields).toEqual({ bucket: 8 });
    expect(find(points, 'go')[0]!.tags).toMatchObject({ version: '1.2.3', revision: 'abc' });
  });
});
