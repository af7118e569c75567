// A worker's work per record (nginx.p run, its line protocol written: script-micro.mjs's "nginx.p + line protocol")
// A/B between builds in ONE process: each build's Script and ScriptedWriter over the same messages, builds taking
// turns round by round so the box's load hits them alike (script-micro.mjs runs one build per process: on a loaded
// box its figures move by more than a step). Checks the builds write the same bytes. CPU time per line
// (process.cpuUsage), median of the rounds, and each build's ratio to the first.
//
//   npm run build && cp -a dist dist-base   (then change, npm run build)
//   BUILDS=dist-base,dist node bench/logs/script-ab.mjs [rounds=20]   (dist folders relative to the repo)
import fs from 'node:fs';
import { nginxSample, streamTags } from './nginx-lines.mjs';

const W = new URL('../..', import.meta.url).pathname;
const src = fs.readFileSync(W + 'inputs/container/testdata/nginx.p', 'utf8');
const N = 1000;
const { buf, ends } = nginxSample(N);
const tags = streamTags;
const builds = [];
for (const d of (process.env.BUILDS ?? 'dist').split(',')) {
  const { Script } = await import(W + d + '/agent/services/pipeline/script.js');
  const { ScriptedWriter, FAILED } = await import(W + d + '/inputs/container/logs/scripted-lines.js');
  const { LineBuf } = await import(W + d + '/agent/model/linebuf.js');
  builds.push({ d, script: Script.compile('nginx.p', 'nginx.p', src, {}), writer: new ScriptedWriter('nginx', () => tags, false), FAILED, LineBuf });
}
function work(B) {
  const b = new B.LineBuf(512 << 10);
  for (let i = 0, s = 0; i < N; s = ends[i++]) {
    if (B.writer.scripted(b, B.script, buf.toString('utf8', s, ends[i]), buf, s, ends[i], undefined, 1714557600, 123456000, 'stdout', i + 1, '/x/0.log') === B.FAILED) throw new Error(`${B.d}: a line failed`);
  }
  return b;
}
const outs = builds.map((B) => {
  const b = work(B);
  return Buffer.from(b.data.subarray(0, b.off));
});
if (outs.some((x) => !x.equals(outs[0]))) throw new Error('the builds write different bytes');
const rounds = Number(process.argv[2] ?? 20);
const PER = 20;
const xs = builds.map(() => []);
for (let i = 0; i < 30; i++) builds.forEach(work);
for (let r = 0; r < rounds; r++) {
  builds.forEach((B, j) => {
    const c = process.cpuUsage();
    for (let i = 0; i < PER; i++) work(B);
    const d = process.cpuUsage(c);
    xs[j].push((d.user + d.system) / (PER * N));
  });
}
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log(`nginx.p + line protocol, µs CPU a line (median of ${rounds} rounds): ` + builds.map((B, j) => `${B.d} ${med(xs[j]).toFixed(2)} (${(med(xs[j]) / med(xs[0])).toFixed(3)})`).join('  '));
