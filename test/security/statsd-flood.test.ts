/**
 * Issue 16, case 3: a StatsD cardinality flood must be bounded in memory, not
 * only in series count. Limits on the bytes of names and tags, on timing
 * samples in all, on set members in all; what they refuse is counted by
 * reason; at flush the structures are released (series, their share of the
 * limits, and the line-shape cache one interval later); a flush hands points
 * on in chunks. Small and deterministic: it asserts the accounting, not RSS
 * (bench/abuse/run.mjs statsd measures RSS with the DaemonSet's defaults).
 */
import { describe, expect, it } from 'vitest';
import { validate } from '../../agent/config/schema.js';
import { Aggregator } from '../../inputs/statsd/aggregator.js';
import { schema } from '../../inputs/statsd/config.js';
import { StatsdInput, aggregatorOptions } from '../../inputs/statsd/statsd.js';
import { fakeContext, metricValue } from '../helpers/fake-context.js';

function agg(conf: Record<string, unknown>): Aggregator {
  const v = validate(schema, conf);
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return new Aggregator(aggregatorOptions(v.value));
}

const TYPES = ['c', 'g', 'ms', 'h', 'd', 's'] as const;

/** `n` lines, each a new series (unique name and tag value), every metric type in turn, 4 values per line. */
function flood(n: number, from = 0, tagLen = 8): string[] {
  const lines: string[] = [];
  for (let i = from; i < from + n; i++) {
    const t = TYPES[i % TYPES.length]!;
    const values = t === 's' ? `u${i}a:u${i}b:u${i}c:u${i}d` : t === 'c' || t === 'g' ? '1' : '1:2:3:4';
    lines.push(`flood.m${i}:${values}|${t}|#k:${String(i).padStart(tagLen, 'x')}`);
  }
  return lines;
}

describe('statsd cardinality flood: memory limits', () => {
  it('bounds the bytes of names and tags of the live series (series_bytes), and counts every refused line', () => {
    const a = agg({ max_series: 100_000, max_series_bytes: 4096 });
    a.ingest(flood(500, 0, 100).join('\n'));
    const c = a.takeCounts();
    expect(a.size).toBeGreaterThan(0);
    expect(a.usage.seriesBytes).toBeLessThanOrEqual(4096);
    // each series holds > 100 bytes of tags: at most 40 fit
    expect(a.size).toBeLessThan(41);
    expect(c.dropped.get('series_bytes')).toBe(500 - a.size);
  });

  it('bounds the timing samples kept over every series (timing_samples); the statistics stay exact', () => {
    const a = agg({ max_timing_samples: 100 });
    for (let s = 0; s < 10; s++) a.ingest(Array.from({ length: 20 }, (_, i) => `lat.s${s}:${i + 1}|ms`).join('\n'));
    expect(a.usage.timingSamples).toBe(100);
    expect(a.takeCounts().dropped.get('timing_samples')).toBe(100);
    const points = a.flush();
    for (let s = 0; s < 10; s++) {
      const f = points.find((p) => p.fields[`s${s}_count`] !== undefined)!.fields;
      expect(f[`s${s}_count`]).toBe(20n);
      expect(f[`s${s}_sum`]).toBe(210);
      expect(f[`s${s}_upper`]).toBe(20);
    }
    expect(a.usage.timingSamples).toBe(0);
  });

  it('bounds the set members over every set (set_members)', () => {
    const a = agg({ max_set_members: 50 });
    for (let s = 0; s < 10; s++) a.ingest(`users.s${s}:${Array.from({ length: 10 }, (_, i) => `m${s}-${i}`).join(':')}|s`);
    expect(a.usage.setMembers).toBe(50);
    expect(a.takeCounts().dropped.get('set_members')).toBe(50);
    a.flush();
    expect(a.usage.setMembers).toBe(0);
  });

  it('a flood of every metric type through the input: limits hold, drops are counted by reason, points leave in chunks, memory is released after it', async () => {
    const ctx = fakeContext('statsd');
    const v = validate(schema, { service_address: '127.0.0.1:0', max_series: 6000, max_series_bytes: 400_000, max_timing_samples: 8000, max_set_members: 2000 });
    if (!v.ok) throw new Error(JSON.stringify(v.issues));
    const input = new StatsdInput(v.value, ctx);
    const a = (input as unknown as { agg: Aggregator }).agg;
    // 20,000 unique series in packets of 20 lines, as a UDP flood arrives
    const lines = flood(20_000);
    for (let i = 0; i < lines.length; i += 20) input.receive([Buffer.from(lines.slice(i, i + 20).join('\n'))]);
    expect(a.size).toBeLessThanOrEqual(6000);
    expect(a.usage.seriesBytes).toBeLessThanOrEqual(400_000);
    expect(a.usage.timingSamples).toBeLessThanOrEqual(8000);
    expect(a.usage.setMembers).toBeLessThanOrEqual(2000);
    const live = a.size;
    await input.flush();
    const dropped = (reason: string) => metricValue(ctx.metrics, 'telekit_statsd_dropped_total', { reason });
    // every line is a new series: either aggregated (a live series) or refused by a series limit
    expect((await dropped('series_limit')) + (await dropped('series_bytes'))).toBe(20_000 - live);
    expect(await dropped('timing_samples')).toBeGreaterThan(0);
    expect(await dropped('set_members')).toBeGreaterThan(0);
    // one point per series here (unique names); no call hands on more than 250 points (the flush's
    // time slice is checked between calls: 1,000 timing points took 80-270 ms on a loaded box)
    expect(ctx.acc.points.length).toBe(live);
    expect(Math.max(...ctx.acc.calls.map((c) => c.points.length))).toBeLessThanOrEqual(250);
    expect(ctx.acc.calls.length).toBeGreaterThan(1);
    // released: the series and their share of the limits at this flush, the line-shape cache at the next
    expect(a.size).toBe(0);
    expect(a.usage).toEqual({ seriesBytes: 0, timingSamples: 0, setMembers: 0 });
    await input.flush();
    expect(a.cacheSize).toBe(0);
    // and the next interval has the whole budget again
    const next = flood(100, 50_000);
    input.receive([Buffer.from(next.join('\n'))]);
    expect(a.size).toBe(100);
    await input.stop();
  });
});
