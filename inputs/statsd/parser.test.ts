import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { lineName, lineTags, lineValues, newScannedLine, parseDogTags, parseEvent, parseNumber, parseServiceCheck, scanLine, splitBucketTags } from './parser.js';
import { decodeKey, decodeTags, resolveSeries, splitName, type NamingOptions } from './naming.js';

describe('scanLine', () => {
  const scan = (line: string, dd = true) => {
    const out = newScannedLine();
    const err = scanLine(line, 0, line.length, dd, out);
    return err ?? { name: lineName(out), type: out.type, values: lineValues(out), rate: out.rate, tags: lineTags(out) };
  };

  it('splits name, values, type, rate and DogStatsD tags', () => {
    expect(scan('page.views:1|c|@0.1|#env:prod,canary')).toEqual({ name: 'page.views', type: 'c', values: '1', rate: 0.1, tags: 'env:prod,canary' });
    expect(scan('lat:1:2:3|d')).toEqual({ name: 'lat', type: 'd', values: '1:2:3', rate: 1, tags: '' });
    expect(scan('g:-5|g')).toMatchObject({ type: 'g', values: '-5' });
    expect(scan('u:alice|s')).toMatchObject({ type: 's', values: 'alice' });
    expect(scan('t:12|ms|#a:b|@0.5')).toMatchObject({ rate: 0.5, tags: 'a:b' });
  });

  it('ignores DogStatsD fields it does not use (container id, timestamp, cardinality)', () => {
    expect(scan('x:1|c|c:abc123|T1700000000|card:low|#k:v')).toMatchObject({ name: 'x', tags: 'k:v', rate: 1 });
  });

  it('scans inside a larger text without reading past the end', () => {
    const text = 'xx a.b:1|c|#k:v|yy';
    const out = newScannedLine();
    expect(scanLine(text, 3, 15, true, out)).toBeUndefined();
    expect([lineName(out), lineValues(out), lineTags(out)]).toEqual(['a.b', '1', 'k:v']);
    expect(scanLine('a:1|c\nb:2|g', 0, 1, true, out)).toBe('no_value');
  });

  it('hashes name, type and tags: equal shapes collide, others (almost always) differ', () => {
    const h = (line: string) => {
      const out = newScannedLine();
      scanLine(line, 0, line.length, true, out);
      return out.hash;
    };
    expect(h('a.b:1|c|#k:v')).toBe(h('a.b:7|c|@0.5|#k:v'));
    expect(new Set([h('a.b:1|c'), h('a.b:1|g'), h('a.b:1|ms'), h('a.c:1|c'), h('a.b:1|c|#k:v')]).size).toBe(5);
  });

  it('leaves tags alone when extensions are off', () => {
    expect(scan('x:1|c|#k:v', false)).toMatchObject({ tags: '' });
  });

  it('names the reason of every malformed line', () => {
    expect(scan('novalue')).toBe('no_value');
    expect(scan(':1|c')).toBe('bad_name');
    expect(scan('x:1')).toBe('no_type');
    expect(scan('x:|c')).toBe('bad_value');
    expect(scan('x:1|zz')).toBe('bad_type');
    expect(scan('x:1|')).toBe('bad_type');
    expect(scan('x:1|c|@0')).toBe('bad_sample_rate');
    expect(scan('x:1|c|@2')).toBe('bad_sample_rate');
    expect(scan('x:1|c|@abc')).toBe('bad_sample_rate');
    expect(scan('x:1|c|@1e-300')).toBe('bad_sample_rate');
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        const out = newScannedLine();
        scanLine(s, 0, s.length, true, out);
        parseEvent(s);
        parseServiceCheck(s);
        parseDogTags(s, {});
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parseNumber', () => {
  it('accepts decimal numbers with sign and exponent', () => {
    expect(parseNumber('1')).toBe(1);
    expect(parseNumber('-2.5')).toBe(-2.5);
    expect(parseNumber('+3')).toBe(3);
    expect(parseNumber('.5')).toBe(0.5);
    expect(parseNumber('1e3')).toBe(1000);
  });
  it('rejects what Number() would wrongly accept', () => {
    for (const s of ['', ' ', '0x10', '0b1', 'Infinity', '-Infinity', 'NaN', '1 2', 'abc', '-', '1e', '1e308', '-2e101']) expect(parseNumber(s), s).toBeUndefined();
    expect(parseNumber('-1e99')).toBe(-1e99);
  });
});

describe('tags', () => {
  it('parses DogStatsD tags; bare keys become true', () => {
    const t: Record<string, string> = {};
    parseDogTags('env:prod,canary,url:http://x:1/y,empty:,:nokey', t);
    expect(t).toEqual({ env: 'prod', canary: 'true', url: 'http://x:1/y', empty: 'true' });
  });
  it('parses Influx-style tags in the bucket name', () => {
    const t: Record<string, string> = {};
    expect(splitBucketTags('cpu.load,host=a,region=eu,bad', t)).toBe('cpu.load');
    expect(t).toEqual({ host: 'a', region: 'eu' });
  });
});

describe('naming', () => {
  const opts: NamingOptions = { separator: '_', mappings: [], dropTags: new Set(), hostKey: '', sourceKey: '', saveAboveKey: false };

  it('turns dots into the separator and splits on the first separator', () => {
    expect(splitName('jvm_heap_used', opts)).toEqual({ measurement: 'jvm', field: 'heap_used' });
    expect(splitName('requests', opts)).toEqual({ measurement: 'requests', field: 'requests' });
    expect(splitName('_x', opts)).toEqual({ measurement: '_x', field: '_x' });
    const id = resolveSeries('jvm.heap.used', 'g', 'env:prod', opts)!;
    expect(id).toMatchObject({ measurement: 'jvm', field: 'heap_used', tags: { metric_type: 'gauge', env: 'prod' } });
  });

  it('uses metric_mapping prefixes in order; unmatched names keep the whole name', () => {
    const m = { ...opts, mappings: [['jvm_', 'jvm'], ['tomcat_', 'web']] as Array<[string, string]> };
    expect(splitName('tomcat_sessions_active', m)).toEqual({ measurement: 'web', field: 'sessions_active' });
    expect(splitName('other_thing', m)).toEqual({ measurement: 'other_thing', field: 'other_thing' });
  });

  it('drops tags and applies the host / source keys', () => {
    const o = { ...opts, dropTags: new Set(['runtime-id']), hostKey: 'host_key', sourceKey: 'source_key' };
    const id = resolveSeries('a.b', 'c', 'runtime-id:1,host_key:web-1,source_key:tomcat,x:y', o)!;
    expect(id.tags).toEqual({ metric_type: 'counter', host: 'web-1', source: 'tomcat', x: 'y' });
  });

  it('keeps an identity in one key that decodes back unchanged, whatever the text', () => {
    const long = 'x'.repeat(300);
    for (const [bucket, tags] of [
      ['jvm.heap.used', 'env:prod,pod:a'],
      ['we\u0000ird\u0001.na\u0002me', 'k\u0000:v\u0001,é:ü,数:据'],
      [`m.${long}`, `${long}:${long}`],
    ] as const) {
      const id = resolveSeries(bucket, 'ms', tags, opts)!;
      const d = decodeKey(id.key);
      expect(d).toMatchObject({ type: 'ms', field: id.field, measurement: id.measurement });
      expect(decodeTags(id.key, d)).toEqual(id.tags);
      expect(Object.keys(decodeTags(id.key, d))).toEqual(Object.keys(id.tags).sort());
      expect(id.bytes).toBe(id.measurement.length + id.field.length + Object.entries(id.tags).reduce((n, [k, v]) => n + k.length + v.length, 0));
    }
    // lengths, not separators: text that looks like a separator cannot make two identities one
    expect(resolveSeries('a.b', 'c', 'x:1\u0001y', opts)!.key).not.toBe(resolveSeries('a.b', 'c', 'x\u00011:y', opts)!.key);
  });

  it('gives the same identity whatever the tag order', () => {
    expect(resolveSeries('a.b', 'c', 'x:1,y:2', opts)!.key).toBe(resolveSeries('a.b', 'c', 'y:2,x:1', opts)!.key);
    expect(resolveSeries('a.b', 'c', '', opts)!.key).not.toBe(resolveSeries('a.b', 'g', '', opts)!.key);
  });
});

describe('events and service checks', () => {
  it('parses an event with every optional field', () => {
    const ev = parseEvent('_e{5,12}:Title|hello\\nworld|d:1700000000|h:web-1|p:low|t:error|k:deploy|s:jenkins|#env:prod,team');
    expect(ev).toEqual({
      title: 'Title',
      text: 'hello\nworld',
      timestamp: 1700000000,
      host: 'web-1',
      priority: 'low',
      alertType: 'error',
      aggregationKey: 'deploy',
      sourceType: 'jenkins',
      tags: { env: 'prod', team: 'true' },
    });
  });
  it('reads lengths as JS string lengths (hot-shots) or UTF-8 bytes (the Datadog spec)', () => {
    expect(parseEvent('_e{4,2}:café|ok')).toMatchObject({ title: 'café', text: 'ok' });
    expect(parseEvent('_e{5,2}:café|ok')).toMatchObject({ title: 'café', text: 'ok' });
    expect(parseEvent('_e{5,2}:café|ok|#a:b')).toMatchObject({ title: 'café', tags: { a: 'b' } });
    expect(parseEvent('_e{3,2}:café|ok')).toBeUndefined();
  });
  it('rejects broken events', () => {
    for (const s of ['_e{', '_e{1,1}:ab', '_e{9,1}:a|b', '_e{0,1}:|b', '_e{1,1}:a|b|zz:1']) expect(parseEvent(s), s).toBeUndefined();
  });
  it('parses service checks; the message is last and kept whole', () => {
    expect(parseServiceCheck('_sc|db.up|2|d:1700000000|h:db-1|#env:prod|m:down | badly')).toEqual({
      name: 'db.up',
      status: 2,
      timestamp: 1700000000,
      host: 'db-1',
      tags: { env: 'prod' },
      message: 'down | badly',
    });
    for (const s of ['_sc|', '_sc|x', '_sc|x|7', '_sc||0', '_sc|x|0|q:1']) expect(parseServiceCheck(s), s).toBeUndefined();
  });
});
