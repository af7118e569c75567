// The scripted path's per-line cost on one thread, without tailing, threads or the sender: what a script
// worker does per record (inputs/container/logs/script-worker.ts: the message decoded, nginx.p run, its line
// protocol written) beside the floor's one precompiled RegExp over the same messages, in one process.
// CPU time per line (process.cpuUsage: robust on a loaded box), median and min of 5 rounds.
//
//   npm run build && node bench/logs/script-micro.mjs [rounds=300]
//   DIST=/path/to/other/dist node bench/logs/script-micro.mjs   (another build, for an A/B)
//   node bench/logs/script-micro.mjs --dump > out.txt            (the lines written, to compare two builds byte for byte)
//   ONLY='line protocol' node --cpu-prof bench/logs/script-micro.mjs   (one of the three, e.g. for a profile)
import fs from 'node:fs';
import { nginxSample, streamTags } from './nginx-lines.mjs';

const D = process.env.DIST ?? new URL('../../dist', import.meta.url).pathname;
const { Script } = await import(D + '/agent/services/pipeline/script.js');
const { ScriptedWriter, FAILED } = await import(D + '/inputs/container/logs/scripted-lines.js');
const { LineBuf } = await import(D + '/agent/model/linebuf.js');

const src = fs.readFileSync(new URL('../../inputs/container/testdata/nginx.p', import.meta.url), 'utf8');
const N = 1000;
const { msgs, buf, ends } = nginxSample(N);

const script = Script.compile('nginx.p', 'nginx.p', src, {});
// a container's tags, frozen and shared by a stream's lines, as the input gives them
const tags = streamTags;
const writer = new ScriptedWriter('nginx', () => tags, false);
const FLOOR = /^(\S+) (\S+) (\S+) \[(\d{1,2}\/\w+\/\d{4}:\d{2}:\d{2}:\d{2} [+-]?\d+)\] "(.*?) (.*) HTTP\/([\d.]+)" ([+-]?\d+) ([+-]?\d+) "(\S+)" "(.*)"|^(\d{2,4}[./]\d{1,2}[./]\d{1,2} \d{1,2}:\d{2}:\d{2}) \[(\w+)\] (.*)$/;

function scriptAndEncode() {
  const b = new LineBuf(512 << 10);
  let s = 0;
  for (let i = 0; i < N; i++) {
    const e = ends[i];
    if (writer.scripted(b, script, buf.toString('utf8', s, e), buf, s, e, undefined, 1714557600, 123456000, 'stdout', i + 1, '/x/0.log') === FAILED) throw new Error(`failed: ${msgs[i]}`);
    s = e;
  }
  return b;
}
function scriptOnly() {
  let s = 0;
  for (let i = 0; i < N; i++) {
    const e = ends[i];
    const r = script.run(buf.toString('utf8', s, e), tags);
    if (!r.ok) throw new Error(r.error);
    s = e;
  }
}
function floor() {
  let s = 0;
  let m = 0;
  for (let i = 0; i < N; i++) {
    const e = ends[i];
    if (FLOOR.exec(buf.toString('utf8', s, e)) !== null) m++;
    s = e;
  }
  if (m !== N) throw new Error('floor: a line did not match');
}

if (process.argv.includes('--dump')) {
  const b = scriptAndEncode();
  fs.writeSync(1, b.data.subarray(0, b.off));
  process.exit(0);
}
const rounds = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 300);
for (const [name, f] of [
  ['floor: 1 RegExp/line', floor],
  ['nginx.p (Script.run)', scriptOnly],
  ['nginx.p + line protocol', scriptAndEncode],
].filter(([name]) => process.env.ONLY === undefined || name.includes(process.env.ONLY))) {
  for (let i = 0; i < 30; i++) f();
  const xs = [];
  for (let k = 0; k < 5; k++) {
    const c = process.cpuUsage();
    for (let i = 0; i < rounds / 5; i++) f();
    const d = process.cpuUsage(c);
    xs.push((d.user + d.system) / ((rounds / 5) * N));
  }
  xs.sort((a, b) => a - b);
  console.log(`${name.padEnd(26)} ${xs[2].toFixed(2)} µs CPU a line (min ${xs[0].toFixed(2)})`);
}
