/** A fake InputContext for unit tests: the accumulator records points. */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { Accumulator, InputContext } from '../../../agent/input.js';
import type { Point } from '../../../agent/point.js';

export interface FakeContext extends InputContext {
  points: Point[];
  errors: Array<{ kind: string; err: unknown }>;
  metrics: Registry;
}

export function fakeContext(instance = 0): FakeContext {
  const points: Point[] = [];
  const errors: Array<{ kind: string; err: unknown }> = [];
  const acc: Accumulator = {
    add(p) {
      const arr = Array.isArray(p) ? p : [p];
      points.push(...arr);
      return arr.length;
    },
    async addWait(p) {
      points.push(...(Array.isArray(p) ? p : [p]));
    },
    overloaded: () => false,
    error: (kind, err) => void errors.push({ kind, err }),
  };
  return {
    name: 'statsd',
    instance,
    acc,
    log: pino({ level: 'silent' }),
    http: { route: () => () => {} } as unknown as InputContext['http'],
    host: { hostname: 'test-host', ip: '127.0.0.1', nodeName: '' },
    dataDir: '/tmp',
    k8s: undefined,
    metrics: new Registry(),
    signal: new AbortController().signal,
    points,
    errors,
  };
}

/** The value of a prom-client counter/gauge with the given labels (0 when absent). */
export async function metricValue(reg: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = reg.getSingleMetric(name);
  if (!m) return 0;
  const data = await m.get();
  let sum = 0;
  for (const v of data.values) {
    if (Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x)) sum += v.value;
  }
  return sum;
}
