/**
 * Whatever a kubelet (or something posing as one) answers with a valid outer
 * shape, conversion never throws and every point encodes as line protocol.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeLine } from '../../../agent/model/lineproto.js';
import { ContainerFilter } from '../filter.js';
import { isSummary } from './kubelet.js';
import { RateTracker } from './rates.js';
import { summaryToPoints } from './summary.js';

const junk = fc.oneof(fc.constant(null), fc.boolean(), fc.double(), fc.integer(), fc.string({ maxLength: 8 }), fc.constant({}), fc.constant([]), fc.date().map((d) => (Number.isNaN(d.getTime()) ? 'x' : d.toISOString())));
const maybe = <T>(a: fc.Arbitrary<T>) => fc.oneof(a, junk);
const stats = fc.record(
  { time: maybe(fc.date({ min: new Date(2020, 0, 1), max: new Date(2030, 0, 1), noInvalidDate: true }).map((d) => d.toISOString())), usageCoreNanoSeconds: maybe(fc.double({ min: 0, max: 1e18, noNaN: true })), usageNanoCores: maybe(fc.nat()), workingSetBytes: maybe(fc.nat()), rssBytes: maybe(fc.nat()), availableBytes: maybe(fc.nat()), usedBytes: maybe(fc.nat()), capacityBytes: maybe(fc.nat()), rxBytes: maybe(fc.nat()), txBytes: maybe(fc.nat()), interfaces: maybe(fc.array(maybe(fc.record({ name: fc.string(), rxBytes: maybe(fc.nat()), txBytes: maybe(fc.nat()) })), { maxLength: 3 })) },
  { requiredKeys: [] },
);
const container = maybe(fc.record({ name: maybe(fc.string({ minLength: 1, maxLength: 6 })), startTime: maybe(fc.string()), cpu: maybe(stats), memory: maybe(stats), rootfs: maybe(stats) }, { requiredKeys: [] }));
const pod = fc.record(
  {
    podRef: fc.record({ name: fc.string({ minLength: 1, maxLength: 6 }), namespace: fc.string({ minLength: 1, maxLength: 6 }), uid: fc.string({ minLength: 1, maxLength: 6 }) }),
    startTime: maybe(fc.string()),
    containers: maybe(fc.array(container, { maxLength: 4 })),
    cpu: maybe(stats),
    memory: maybe(stats),
    network: maybe(stats),
    'ephemeral-storage': maybe(stats),
  },
  { requiredKeys: ['podRef'] },
);
const summary = fc.record({ node: fc.record({ nodeName: maybe(fc.string()), memory: maybe(stats) }, { requiredKeys: [] }), pods: fc.array(pod, { maxLength: 5 }) }, { requiredKeys: [] });

describe('summaryToPoints on arbitrary Summary-shaped input', () => {
  it('never throws and produces encodable points, over two rounds', () => {
    fc.assert(
      fc.property(summary, summary, (a, b) => {
        const rates = new RateTracker();
        for (const [i, s] of [a, b].entries()) {
          if (!isSummary(s)) continue;
          rates.beginRound();
          const r = summaryToPoints(s, rates, { containers: true, pods: true, filter: new ContainerFilter([], ['image:*x*']), podInfo: () => undefined, nodeName: 'n', cpuCount: 2, nowMs: 1_764_000_000_000 + i * 10_000 });
          rates.endRound();
          for (const p of r.points) {
            // tags must be strings, fields finite
            for (const v of Object.values(p.tags)) expect(typeof v).toBe('string');
            for (const v of Object.values(p.fields)) if (typeof v === 'number') expect(Number.isFinite(v)).toBe(true);
            expect(() => encodeLine(p)).not.toThrow();
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
