// bench/statsd/cardinality.mjs: memory when cardinality explodes. Sends 1M
// lines that are each a new series (a unique tag value) and reports the heap
// held by the aggregator at max_series, and what was dropped.
//
//   npm run build && node --expose-gc bench/statsd/cardinality.mjs
import { validate } from '../../dist/agent/config/schema.js';
import { schema } from '../../dist/inputs/statsd/config.js';
import { Aggregator } from '../../dist/inputs/statsd/aggregator.js';
import { aggregatorOptions } from '../../dist/inputs/statsd/statsd.js';

const heap = () => {
  globalThis.gc();
  return process.memoryUsage().heapUsed;
};
for (const [type, maxSeries] of [['c', 10_000], ['c', 100_000], ['ms', 100_000]]) {
  const v = validate(schema, { max_series: maxSeries });
  const before = heap();
  const a = new Aggregator(aggregatorOptions(v.value));
  const c0 = process.cpuUsage();
  const lines = [];
  for (let i = 0; i < 1_000_000; i++) {
    lines.push(`app.requests:${i % 100}|${type}|#user:u${i},env:prod`);
    if (lines.length === 32) a.ingest(lines.splice(0).join('\n'));
  }
  const cpu = process.cpuUsage(c0);
  const held = heap() - before;
  const c = a.takeCounts();
  console.log(
    `type ${type}, max_series ${maxSeries}: ${a.size} series, ${c.dropped.get('series_limit') ?? 0} lines dropped (series_limit), ` +
      `line-shape cache ${a.cacheSize}, heap held ${(held / 2 ** 20).toFixed(1)} MiB (${Math.round(held / a.size)} B per series), ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s CPU for the 1M lines`,
  );
  a.flush();
}
