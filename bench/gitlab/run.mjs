#!/usr/bin/env node
// GitLab webhook: CPU per Pipeline Hook event in the /v1/gitlab handler (token
// check, dedupe hash, JSON parse, conversion), against the floor of only
// JSON.parse-ing the same body. Bodies differ per request (no dedupe hits).
// Run: npm run build && node bench/gitlab/run.mjs
import { readFileSync } from 'node:fs';
import { fakeContext } from '../../dist/test/helpers/fake-context.js';
import { validate } from '../../dist/agent/config/schema.js';
import { gitlab, PATH } from '../../dist/inputs/gitlab/index.js';
import { schema } from '../../dist/inputs/gitlab/config.js';

const N = Number(process.env.N ?? 20000);
const doc = JSON.parse(readFileSync(new URL('../../inputs/gitlab/testdata/pipeline.json', import.meta.url), 'utf8'));
const bodies = Array.from({ length: N }, (_, i) => Buffer.from(JSON.stringify({ ...doc, object_attributes: { ...doc.object_attributes, id: i } })));
const ctx = fakeContext('gitlab');
ctx.acc.add = () => 1; // measure the input, not a growing array
const input = gitlab.create(validate(schema, { secret_token: 'tok' }).value, ctx);
await input.start();
const handler = ctx.routes.get(`POST ${PATH}`);
const req = (body) => ({ method: 'POST', path: PATH, query: {}, headers: { 'x-gitlab-event': 'Pipeline Hook', 'x-gitlab-token': 'tok' }, body, remoteAddress: '127.0.0.1' });
const cpu = () => { const u = process.cpuUsage(); return u.user + u.system; };
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function run(fn) {
  const out = [];
  for (let r = 0; r < 5; r++) {
    const c0 = cpu();
    for (let i = r; i < N; i += 5) fn(bodies[i]);
    out.push((cpu() - c0) / (N / 5));
  }
  return median(out);
}
for (let i = 0; i < 2000; i++) JSON.parse(bodies[i].toString('utf8')); // warm up
const floor = run((b) => JSON.parse(b.toString('utf8')));
const handled = run((b) => { if (handler(req(b)).status !== 200) throw new Error('not accepted'); });
await input.stop();
console.log(`body ${bodies[0].length} bytes, ${N} events`);
console.log(`handler  ${handled.toFixed(1)} µs CPU per event  (${Math.round(1e6 / handled)} events/s on one core)`);
console.log(`floor    ${floor.toFixed(1)} µs CPU per event: JSON.parse only`);
