/**
 * CPU and heap allocated per convertLines() of the node exporter body (lines mode, the agent's
 * path with line-protocol sinks), 100 converters of one config as 100 targets of an instance,
 * for one or more builds alternating in one process (A/B). The body is decoded per scrape, as a
 * scrape does; the lines written are compared between builds (byte-identical output).
 *
 *   node --max-semi-space-size=2 bench/prom/lines-micro.mjs [rounds=6] dist [other-dist...]
 *   ALLOC=1 node --max-semi-space-size=64 bench/prom/lines-micro.mjs 3 dist ...   (bytes allocated per scrape)
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';

const here = path.dirname(new URL(import.meta.url).pathname);
const [roundsArg, ...dists] = process.argv.slice(2);
const rounds = Number(roundsArg ?? 6);
const body = fs.readFileSync(path.join(here, 'node-exporter.txt'));
const N = 100;
const PER = 20;
const builds = [];
for (const d of dists.length ? dists : ['dist']) {
  const root = path.resolve(d);
  const { Converter } = await import(path.join(root, 'inputs/prom/convert.js'));
  const { LineBuf } = await import(path.join(root, 'agent/model/linebuf.js'));
  const { validate } = await import(path.join(root, 'agent/config/schema.js'));
  const { schema } = await import(path.join(root, 'inputs/prom/config.js'));
  const cfg = validate(schema, {}).value;
  const convs = Array.from({ length: N }, (_, i) => [new Converter(cfg), Object.freeze({ instance: `127.0.0.1:${9100 + i}` })]);
  const out = new LineBuf(256 << 10);
  const scrape = (i) => {
    const [c, base] = convs[i % N];
    const r = c.convertLines(body.toString('utf8'), false, base, 1700000000000000000n, { host: 'bench' }, out);
    if (r === undefined) throw new Error('not lines mode');
  };
  // the lines of one scrape of each target, for comparing builds
  const h = crypto.createHash('sha256');
  for (let i = 0; i < N; i++) {
    scrape(i);
    h.update(out.data.subarray(0, out.off));
    out.reset();
  }
  builds.push({ name: d, scrape, out, digest: h.digest('hex').slice(0, 16), cpu: [], alloc: [] });
}
const newUsed = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_used_size;
for (let r = 0; r < rounds; r++) {
  for (const b of builds) {
    let i = 0;
    for (let w = 0; w < 5 * N; w++, i++) { b.scrape(i); b.out.reset(); }
    if (process.env.ALLOC) {
      for (let k = 0; k < 20; k++) {
        const a = newUsed();
        for (let j = 0; j < PER; j++, i++) { b.scrape(i); b.out.reset(); }
        const d = newUsed() - a;
        if (d > 0) b.alloc.push(d / PER);
      }
    }
    const s = process.cpuUsage();
    for (let j = 0; j < 10 * N; j++, i++) { b.scrape(i); b.out.reset(); }
    const d = process.cpuUsage(s);
    b.cpu.push((d.user + d.system) / (10 * N));
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const b of builds) {
  console.log(`${b.name}: lines ${b.digest}, ${median(b.cpu).toFixed(1)} µs CPU per scrape (rounds ${b.cpu.map((x) => x.toFixed(0)).join(' ')})${b.alloc.length ? `, ${(median(b.alloc) / 1024).toFixed(1)} KiB allocated per scrape` : ''}`);
}
