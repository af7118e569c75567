// The scripted path's line-protocol writing alone (inputs/container/logs/scripted-lines.ts ScriptedWriter.scripted),
// A/B between builds in ONE process: nginx.p's results over the same messages as script-micro.mjs are computed
// once and replayed, and the builds' writers take turns round by round, so the box's load hits both alike.
// Checks the builds write the same bytes. CPU time per line (process.cpuUsage), median of the rounds.
//
//   npm run build && cp -a dist dist-base   (then change, npm run build)
//   BUILDS=dist-base,dist node bench/logs/script-write-ab.mjs [rounds=20]   (dist folders relative to the repo)
import fs from 'node:fs';
import { nginxSample, streamTags } from './nginx-lines.mjs';

const W = new URL('../..', import.meta.url).pathname;
const { Script } = await import(W + 'dist/agent/services/pipeline/script.js');
const builds = [];
for (const d of (process.env.BUILDS ?? 'dist').split(',')) {
  const { ScriptedWriter } = await import(W + d + '/inputs/container/logs/scripted-lines.js');
  const { LineBuf } = await import(W + d + '/agent/model/linebuf.js');
  builds.push({ d, ScriptedWriter, LineBuf });
}
const src = fs.readFileSync(W + 'inputs/container/testdata/nginx.p', 'utf8');
const N = 1000;
const { msgs, buf, ends } = nginxSample(N);
const script = Script.compile('nginx.p', 'nginx.p', src, {});
const tags = streamTags;
const strs = [];
const results = [];
for (let i = 0, s = 0; i < N; s = ends[i++]) {
  const m = buf.toString('utf8', s, ends[i]);
  strs.push(m);
  results.push(script.run(m, tags));
}
// a Script whose run gives the stored results in turn (the writer only reads them)
let k = 0;
const replay = { run: () => results[k++] };
function write(B, w) {
  const b = new B.LineBuf(1 << 20);
  k = 0;
  for (let i = 0, s = 0; i < N; s = ends[i++]) w.scripted(b, replay, strs[i], buf, s, ends[i], undefined, 1714557600, 123456000, 'stdout', i + 1, '/x/0.log');
  return b;
}
const writers = builds.map((B) => new B.ScriptedWriter('nginx', () => tags, false));
const outs = builds.map((B, j) => {
  const b = write(B, writers[j]);
  return Buffer.from(b.data.subarray(0, b.off));
});
if (outs.some((x) => !x.equals(outs[0]))) throw new Error('the builds write different bytes');
const rounds = Number(process.argv[2] ?? 20);
const PER = 50;
const xs = builds.map(() => []);
for (let i = 0; i < 30; i++) builds.forEach((B, j) => write(B, writers[j]));
for (let r = 0; r < rounds; r++) {
  builds.forEach((B, j) => {
    const c = process.cpuUsage();
    for (let i = 0; i < PER; i++) write(B, writers[j]);
    const d = process.cpuUsage(c);
    xs[j].push((d.user + d.system) / (PER * N));
  });
}
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log(`writing a scripted line, µs CPU (median of ${rounds} rounds): ` + builds.map((B, j) => `${B.d} ${med(xs[j]).toFixed(2)} (${(med(xs[j]) / med(xs[0])).toFixed(3)})`).join('  '));
