/**
 * Samples/s parsed and converted to points for a large exposition, with a
 * floor measured in the same run: a bare line split + Number() over the same
 * body (no labels, no points), and the npm parse-prometheus-text-format package
 * if installed (it is not a dependency; see BENCHMARKS.md).
 *
 *   npm run build && node bench/prom/parse.mjs [samples] [runs]
 */
import { makeExposition } from './exposition.mjs';
import { Converter } from '../../dist/inputs/prom/convert.js';
import { ExpositionParser } from '../../dist/inputs/prom/parser.js';

const samples = Number(process.argv[2] ?? 200_000);
const runs = Number(process.argv[3] ?? 7);
const { text, samples: n } = makeExposition(samples);
const opts = {
  metric_types: [], metric_name_filter: [], metric_name_filter_ignore: [], measurement_prefix: '', measurement_name: '',
  measurements: [], keep_exist_metric_name: false, honor_timestamps: true, tags_ignore: [], ignore_tag_kv_match: {},
  tags_rename: { overwrite_exist_tags: false, mapping: {} }, disable_info_tag: false,
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function time(fn) {
  const t = [];
  for (let i = 0; i < 5; i++) fn(); // warm-up: a long-running agent scrapes the same target again and again
  for (let i = 0; i < runs; i++) {
    // CPU time, not wall time: the machine is shared, so wall time measures the neighbours
    const s = process.cpuUsage();
    fn();
    const d = process.cpuUsage(s);
    t.push((d.user + d.system) / 1000);
  }
  return median(t);
}
const base = { instance: '10.0.0.5:9100' };
const conv = new Converter(opts);
let points = 0;
// a fresh string per run, as a scrape decodes a new body each time
const body = Buffer.from(text);
const full = time(() => { points = conv.convert(body.toString('utf8'), false, base, 1n).points.length; });
const parseOnly = time(() => { new ExpositionParser(false).parse(body.toString('utf8'), () => {}); });
const steadyParser = new ExpositionParser(false, true);
const parseSteady = time(() => { steadyParser.parse(body.toString('utf8'), () => {}); });
const decode = time(() => body.toString('utf8'));
const floor = time(() => {
  let s = 0;
  for (const line of body.toString('utf8').split('\n')) { if (line === '' || line[0] === '#') continue; s += Number(line.slice(line.lastIndexOf(' ') + 1)); }
  return s;
});
let peer = 'not installed';
try {
  const mod = await import('parse-prometheus-text-format');
  const f = mod.default ?? mod;
  const ms = time(() => f(text));
  peer = `${(n / ms / 1000).toFixed(2)}M samples/s (${ms.toFixed(1)} ms)`;
} catch {}
// a real small target: Debian's node exporter body (bench/prom/node-exporter.txt), converted 200 times per run
import fs from 'node:fs';
const ne = fs.readFileSync(new URL('./node-exporter.txt', import.meta.url));
const neSamples = ne.toString().split('\n').filter((l) => l && l[0] !== '#').length;
const neConv = new Converter(opts);
const neMs = time(() => { for (let k = 0; k < 200; k++) neConv.convert(ne.toString('utf8'), false, base, 1n); }) / 200;
const mb = (Buffer.byteLength(text) / 1e6).toFixed(1);
console.log(`exposition: ${n} samples, ${mb} MB, ${points} points after merging; median of ${runs} runs`);
console.log(`telekit parse+convert: ${(n / full / 1000).toFixed(2)}M samples/s (${full.toFixed(1)} ms)`);
console.log(`telekit parse only, first body:   ${(n / parseOnly / 1000).toFixed(2)}M samples/s (${parseOnly.toFixed(1)} ms)`);
console.log(`telekit parse only, steady state: ${(n / parseSteady / 1000).toFixed(2)}M samples/s (${parseSteady.toFixed(1)} ms)`);
console.log(`  of which decoding the body to a string: ${decode.toFixed(1)} ms; steady-state parse without it: ${(n / (parseSteady - decode) / 1000).toFixed(2)}M samples/s`);
console.log(`floor split+Number:    ${(n / floor / 1000).toFixed(2)}M samples/s (${floor.toFixed(1)} ms)`);
console.log(`parse-prometheus-text-format (npm): ${peer}`);
console.log(`node exporter body (${neSamples} samples, ${ne.length} bytes): ${(neMs * 1000).toFixed(0)} µs CPU per scrape parse+convert = ${(neSamples / neMs / 1000).toFixed(2)}M samples/s`);
