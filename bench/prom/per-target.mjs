/**
 * Heap kept per scrape target: 100 parsers / converters, each after three
 * scrapes of Debian's node exporter body, measured with full GCs around.
 *
 *   npm run build && node --expose-gc bench/prom/per-target.mjs [targets=100]
 */
import fs from 'node:fs';
import path from 'node:path';
import { Converter } from '../../dist/inputs/prom/convert.js';
import { ExpositionParser } from '../../dist/inputs/prom/parser.js';
import { LineBuf } from '../../dist/agent/model/linebuf.js';
import { validate } from '../../dist/agent/config/schema.js';
import { schema } from '../../dist/inputs/prom/config.js';

if (typeof gc !== 'function') throw new Error('run with node --expose-gc');
const body = fs.readFileSync(path.join(path.dirname(new URL(import.meta.url).pathname), 'node-exporter.txt'), 'utf8');
const N = Number(process.argv[2] ?? 100);
const cfg = validate(schema, {}).value;
const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};
function perTarget(name, make) {
  const keep = [];
  const h0 = heap();
  for (let i = 0; i < N; i++) keep.push(make(i));
  console.log(`${name}: ${((heap() - h0) / N / 1024).toFixed(1)} KiB per target`);
  return keep.length;
}
perTarget('parser (the previous body\'s line cache)', () => {
  const p = new ExpositionParser(false, true);
  for (let k = 0; k < 3; k++) p.parse(body, () => {});
  return p;
});
perTarget('converter, lines mode (parser included)', (i) => {
  const c = new Converter(cfg);
  const base = Object.freeze({ instance: `127.0.0.1:${i}` });
  for (let k = 0; k < 3; k++) c.convertLines(body, false, base, 1n, { host: 'bench' }, new LineBuf(1 << 20));
  return c;
});
perTarget('converter, points mode (parser included)', (i) => {
  const c = new Converter(cfg);
  const base = Object.freeze({ instance: `127.0.0.1:${i}` });
  for (let k = 0; k < 3; k++) c.convert(body, false, base, 1n);
  return c;
});
