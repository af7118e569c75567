// The scripted path's per-line cost on one thread, without tailing, threads or the sender: what a script
// worker does per record (inputs/container/logs/script-worker.ts: the message decoded, nginx.p run, its line
// protocol written) beside the floor's one precompiled RegExp over the same messages, in one process.
// CPU time per line (process.cpuUsage: robust on a loaded box), median and min of 5 rounds.
//
//   npm run build && node bench/logs/script-micro.mjs [rounds=300]
//   DIST=/path/to/other/dist node bench/logs/script-micro.mjs   (another build, for an A/B)
//   node bench/logs/script-micro.mjs --dump > out.txt            (the lines written, to compare two builds byte for byte)
import fs from 'node:fs';

const D = process.env.DIST ?? new URL('../../dist', import.meta.url).pathname;
const { Script } = await import(D + '/agent/services/pipeline/script.js');
const { ScriptedWriter, FAILED } = await import(D + '/inputs/container/logs/scripted-lines.js');
const { LineBuf } = await import(D + '/agent/model/linebuf.js');

const src = fs.readFileSync(new URL('../../inputs/container/testdata/nginx.p', import.meta.url), 'utf8');
// bench/logs/run.mjs's nginx lines: 9 in 10 access lines, 5 User-Agents, error lines with an upstream
function nginxLine(rnd, i, t0) {
  const d = new Date(t0 + i * 7);
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()];
  const p2 = (n) => String(n).padStart(2, '0');
  if (rnd(10) === 0) {
    return `${d.getUTCFullYear()}/${p2(d.getUTCMonth() + 1)}/${p2(d.getUTCDate())} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} [${['error', 'warn', 'alert'][rnd(3)]}] ${rnd(90) + 10}#0: *${rnd(100000)} upstream timed out (110: Connection timed out) while reading response header from upstream, client: 10.${rnd(250)}.${rnd(250)}.${rnd(250)}, server: shop.example.com, request: "GET /api/v1/items/${rnd(99999)} HTTP/1.1", upstream: "http://10.0.3.${rnd(250)}:8080/api/v1/items", host: "shop.example.com"`;
  }
  const uas = [
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
    'curl/8.5.0',
    'Go-http-client/1.1',
  ];
  const code = [200, 200, 200, 200, 301, 304, 404, 500, 502][rnd(9)];
  return `10.${rnd(250)}.${rnd(250)}.${rnd(250)} - - [${p2(d.getUTCDate())}/${mon}/${d.getUTCFullYear()}:${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} +0000] "${['GET', 'GET', 'POST', 'PUT'][rnd(4)]} /api/v1/items/${rnd(99999)}?page=${rnd(50)} HTTP/1.1" ${code} ${rnd(20000)} "https://shop.example.com/list?q=${rnd(1000)}" "${uas[rnd(uas.length)]}"`;
}
let seed = 12345;
const rnd = (n) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
const N = 1000;
const t0 = Date.parse('2024-05-01T10:00:00Z');
const msgs = [];
for (let i = 0; i < N; i++) {
  msgs.push(nginxLine(rnd, i, t0));
  rnd(10); // run.mjs draws the stream here
}
const buf = Buffer.from(msgs.join(''));
const ends = [];
let o = 0;
for (const m of msgs) ends.push((o += Buffer.byteLength(m)));

const script = Script.compile('nginx.p', 'nginx.p', src, {});
// a container's tags, frozen and shared by a stream's lines, as the input gives them
const tags = Object.freeze({ host: 'bench', container_name: 'nginx', namespace: 'default', pod_name: 'bench_pod-0', service: 'nginx', image: 'nginx:1', container_id: 'abc', container_type: 'kubernetes', pod_ip: '10.0.0.1', deployment: 'x', node_name: 'b' });
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
]) {
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
