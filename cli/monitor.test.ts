import { describe, expect, it } from 'vitest';
import { fmtDuration, parseLatencyBuckets, quantileMs, renderStats, type Snapshot } from './monitor.js';

const METRICS = `# HELP telekit_sink_request_seconds x
# TYPE telekit_sink_request_seconds histogram
telekit_sink_request_seconds_bucket{le="0.005",sink="dataway",category="metric"} 0
telekit_sink_request_seconds_bucket{le="0.01",sink="dataway",category="metric"} 10
telekit_sink_request_seconds_bucket{le="0.1",sink="dataway",category="metric"} 20
telekit_sink_request_seconds_bucket{le="+Inf",sink="dataway",category="metric"} 20
telekit_sink_request_seconds_sum{sink="dataway",category="metric"} 0.5
`;

function snap(over: Partial<Snapshot> = {}): Snapshot {
  return {
    version: '0.1.0',
    uptimeSeconds: 3725,
    hostname: 'node-1',
    inputs: [
      { name: 'statsd', instance: 0, points: 1000, errors: 0 },
      { name: 'cpu', instance: 0, points: 10, errors: 2, lastError: 'EACCES: permission denied,\n open /proc/stat', lastErrorAt: '2026-01-01T00:00:50Z' },
    ],
    queues: [{ category: 'metric', points: 250, capacity: 1000 }],
    sinks: [{ name: 'dataway', category: 'metric', sent: 900, failed: 3, retries: 1, latencyMsAvg: 25 }],
    dropped: [{ category: 'metric', reason: 'queue_full', points: 0 }],
    fetchedAt: Date.parse('2026-01-01T00:01:00Z'),
    ...over,
  };
}

describe('telekit monitor rendering', () => {
  it('first frame: totals, no rates, queue fill, last error with its age, no drops', () => {
    const out = renderStats(undefined, snap(), 200);
    expect(out).toContain('telekit 0.1.0  host node-1  up 1h02m');
    const cpu = out.split('\n').find((l) => l.startsWith('cpu[0]'))!;
    expect(cpu).toMatch(/cpu\[0\]\s+-\s+10\s+2\s+10s ago: EACCES: permission denied, open \/proc\/stat/);
    expect(out).toMatch(/metric\s+250\s+1000\s+25%/);
    expect(out).toMatch(/dataway metric\s+-\s+900\s+3\s+1\s+25ms/);
    expect(out).toContain('DROPPED  none');
    // inputs sorted by name
    expect(out.indexOf('cpu[0]')).toBeLessThan(out.indexOf('statsd[0]'));
  });

  it('second frame: per-second rates over the interval, new errors, drops, windowed latency', () => {
    const prev = snap({ latency: parseLatencyBuckets(METRICS) });
    const cur = snap({
      fetchedAt: prev.fetchedAt! + 2000,
      uptimeSeconds: 3727,
      inputs: [
        { name: 'statsd', instance: 0, points: 1500, errors: 0 },
        { name: 'cpu', instance: 0, points: 12, errors: 3, lastError: 'boom', lastErrorAt: prev.fetchedAt! + 1000 },
      ],
      sinks: [{ name: 'dataway', category: 'metric', sent: 1300, failed: 3, retries: 1 }],
      dropped: [{ category: 'metric', reason: 'queue_full', points: 40 }],
      latency: parseLatencyBuckets(METRICS.replace('"0.1",sink="dataway",category="metric"} 20', '"0.1",sink="dataway",category="metric"} 30').replace('"+Inf",sink="dataway",category="metric"} 20', '"+Inf",sink="dataway",category="metric"} 30')),
    });
    const out = renderStats(prev, cur, 200);
    expect(out).toContain('251 points/s');
    expect(out).toMatch(/statsd\[0\]\s+250\s+1500\s+0/);
    expect(out).toMatch(/cpu\[0\]\s+1\.0\s+12\s+3 \(\+1\)\s+1s ago: boom/);
    expect(out).toMatch(/dataway metric\s+200\s+1300\s+3\s+1\s+55ms\s+99ms/);
    expect(out).toMatch(/metric\s+queue_full\s+40\s+20\.0/);
  });

  it('clips lines to the terminal width and handles an idle agent', () => {
    const out = renderStats(undefined, snap({ inputs: [], sinks: [], queues: [] }), 30);
    expect(out.split('\n').every((l) => l.length <= 30)).toBe(true);
    expect(out).toContain('(no inputs running)');
    expect(out).toContain('(nothing sent yet)');
  });

  it('computes histogram quantiles like histogram_quantile', () => {
    const b = parseLatencyBuckets(METRICS).get('dataway/metric')!;
    expect(b.map((x) => x.le)).toEqual([0.005, 0.01, 0.1, Infinity]);
    expect(quantileMs(b, undefined, 0.5)).toBeCloseTo(10);
    expect(quantileMs(b, undefined, 0.75)).toBeCloseTo(55);
    expect(quantileMs(b, b, 0.5)).toBeUndefined(); // nothing in the window
    expect(fmtDuration(59)).toBe('0m59s');
    expect(fmtDuration(90061)).toBe('1d1h');
  });
});
