// bench/statsd/parse.mjs: CPU per metric of telekit's statsd parsing +
// aggregation in-process (no sockets), next to a floor that only decodes the
// packet and splits its lines.
//
//   npm run build && node bench/statsd/parse.mjs
import { validate } from '../../dist/agent/config/schema.js';
import { schema } from '../../dist/inputs/statsd/config.js';
import { Aggregator } from '../../dist/inputs/statsd/aggregator.js';
import { aggregatorOptions } from '../../dist/inputs/statsd/statsd.js';

const v = validate(schema, {});
let k = 0;
const build = (per, line) => Array.from({ length: 1000 }, () => Buffer.from(Array.from({ length: per }, () => line(k++)).join('\n')));
const loads = [
  ['counters, 32 per packet', 32, build(32, (i) => `bench.svc${i % 10}.endpoint${i % 97}.requests:1|c`)],
  ['DogStatsD timings, tags, @0.5, 20 per packet', 20, build(20, (i) => `bench.svc${i % 10}.latency:${i % 100}|ms|@0.5|#env:prod,route:/r${i % 20},pod:p${i % 5}`)],
];
const N = 20_000;
const cpuNs = (c) => (c.user + c.system) * 1000;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [name, per, pkts] of loads) {
  const t = [];
  const f = [];
  for (let r = 0; r < 5; r++) {
    const a = new Aggregator(aggregatorOptions(v.value));
    let c0 = process.cpuUsage();
    for (let i = 0; i < N; i++) a.ingest(pkts[i % 1000].toString('utf8'));
    a.flush();
    t.push(cpuNs(process.cpuUsage(c0)) / (N * per));
    c0 = process.cpuUsage();
    let lines = 0;
    for (let i = 0; i < N; i++) lines += pkts[i % 1000].toString('utf8').split('\n').length;
    f.push(cpuNs(process.cpuUsage(c0)) / lines);
  }
  console.log(`${name}: telekit ${median(t).toFixed(0)} ns CPU/metric, floor (decode + split) ${median(f).toFixed(0)} ns (median of 5)`);
}
