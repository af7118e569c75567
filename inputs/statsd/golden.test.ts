/**
 * Golden cases: testdata/golden/<case>/{config.json, input.txt, expected.json}.
 * input.txt is received as one packet, then the input flushes; the points
 * (without time: flush time is now) and the malformed/dropped counts must equal
 * expected.json. `UPDATE_GOLDEN=1 npx vitest run inputs/statsd/golden` rewrites
 * the expected files (review the diff).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { validate } from '../../agent/config/schema.js';
import type { Point } from '../../agent/model/point.js';
import { schema } from './config.js';
import { StatsdInput } from './statsd.js';
import { fakeContext } from '../../test/helpers/fake-context.js';

const root = path.join(import.meta.dirname, 'testdata', 'golden');

function normalize(points: Point[]): unknown[] {
  return points
    .map((p) => ({
      category: p.category,
      name: p.name,
      tags: Object.fromEntries(Object.entries(p.tags).sort(([a], [b]) => a.localeCompare(b))),
      fields: Object.fromEntries(
        Object.entries(p.fields)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, v]) => [k, typeof v === 'bigint' ? `${v}i` : v]),
      ),
    }))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

async function counts(reg: import('prom-client').Registry, name: string): Promise<Record<string, number>> {
  const m = reg.getSingleMetric(name);
  const out: Record<string, number> = {};
  for (const v of (await m!.get()).values) if (v.value > 0) out[String(v.labels.reason)] = v.value;
  return out;
}

describe.each(fs.readdirSync(root).sort())('golden %s', (name) => {
  it('matches expected.json', async () => {
    const dir = path.join(root, name);
    const v = validate(schema, JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')));
    if (!v.ok) throw new Error(JSON.stringify(v.issues));
    const ctx = fakeContext('statsd');
    const input = new StatsdInput(v.value, ctx);
    input.receive([fs.readFileSync(path.join(dir, 'input.txt'))]);
    await input.flush();
    const got = {
      points: normalize(ctx.points),
      malformed: await counts(ctx.metrics, 'telekit_statsd_malformed_total'),
      dropped: await counts(ctx.metrics, 'telekit_statsd_dropped_total'),
    };
    const file = path.join(dir, 'expected.json');
    if (process.env.UPDATE_GOLDEN) fs.writeFileSync(file, `${JSON.stringify(got, null, 2)}\n`);
    expect(got).toEqual(JSON.parse(fs.readFileSync(file, 'utf8')));
    await input.stop();
  });
});
