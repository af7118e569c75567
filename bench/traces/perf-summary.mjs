// CPU time of the agent's threads from `perf record` (CPU-clock samples: unlike V8's --cpu-prof, which samples a
// thread's wall time, so a call that wakes another thread on a busy box carries that thread's time), the main thread's
// split by what the work is for (the leaf-most frame that names an owner: HTTP in, hand-off, sender, gzip, HTTP out).
//
//   BENCH_AGENT_NODE_ARGS=--perf-basic-prof-only-functions node --expose-gc bench/traces/run.mjs --e2e-only --only ddtrace --runs 1 --seconds 9 &
//   perf record -F 999 -e cpu-clock -g -p <the agent's pid> -o /tmp/agent.perf -- sleep 6     (2-3 s after it started)
//   node bench/traces/perf-summary.mjs /tmp/agent.perf [top leaves]
import { execFileSync } from 'node:child_process';

const [file, topArg] = process.argv.slice(2);
const text = execFileSync('perf', ['script', '-i', file, '-F', 'tid,ip,sym'], { maxBuffer: 1 << 30, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
const samples = [];
let cur;
for (const line of text.split('\n')) {
  if (line.trim() === '') {
    if (cur) samples.push(cur);
    cur = undefined;
  } else if (!/^\s/.test(line)) cur = { tid: Number(line.trim().split(/\s+/)[0]), stack: [] };
  else cur?.stack.push(line.trim().split(' ').slice(1).join(' '));
}
if (cur) samples.push(cur);
// leaf-level kinds first (GC, page faults), then owners leaf-most first, then the socket machinery no owner claimed
const special = [
  ['GC', /Heap::|Scavenger|MarkCompact|GCTracer|Sweeper|ConcurrentMarking|MemoryAllocator|ArrayBufferSweeper|IncrementalMarking|MinorMC|ScavengeJob/],
  ['page faults, mmap', /^(clear_page|do_anonymous_page|__handle_mm_fault|handle_mm_fault|exc_page_fault|asm_exc_page_fault|unmap|zap_|free_pages|__do_munmap|do_mmap|release_pages)/],
];
const owners = [
  ['bench sampler', /agent-server/],
  ['gzip (JS side)', /zlib|ZlibContext|CompressionStream/],
  ['HTTP out', /http-pool|sinks\/dataway|_http_client|_http_agent/],
  ['sender', /delivery\/sender|linebuf|running-input/],
  ['hand-off', /offthread|internal\/worker|messageport|MessagePort|worker_threads|receiver\.js|ValueSerializer|ValueDeserializer/],
  ['gRPC in (grpc-js, HTTP/2)', /@grpc\/grpc-js|internal\/http2|nghttp2|Http2/],
  ['HTTP in', /_http_server|_http_incoming|server\/server|server\.js/],
  ['self-metrics', /prom-client|telemetry/],
];
const net = /_http_common|_http_outgoing|llhttp|node:net|stream_base|StreamBase|LibuvStreamWrap|internal\/streams|writev|readv|tcp_|sock_|recvfrom|sendmsg|epoll/;
const kind = (stack) => {
  for (const [k, re] of special) if (stack.slice(0, 25).some((f) => re.test(f))) return k;
  for (const f of stack) for (const [k, re] of owners) if (re.test(f)) return k;
  return stack.some((f) => net.test(f)) ? 'sockets (no owner on the stack: mostly reading request bodies)' : 'other';
};
const byTid = new Map();
for (const s of samples) byTid.set(s.tid, (byTid.get(s.tid) ?? 0) + 1);
const main = Math.min(...byTid.keys());
console.log(`${samples.length} samples; by thread (the main thread is ${main}):`);
for (const [t, n] of [...byTid].sort((a, b) => a[0] - b[0])) console.log(`  ${t}${t === main ? ' main' : ''}: ${n} (${((100 * n) / samples.length).toFixed(1)} %)`);
const kinds = new Map();
const leaves = new Map();
for (const s of samples) {
  if (s.tid !== main) continue;
  const k = kind(s.stack);
  kinds.set(k, (kinds.get(k) ?? 0) + 1);
  leaves.set(s.stack[0], (leaves.get(s.stack[0]) ?? 0) + 1);
}
const m = byTid.get(main);
console.log('main thread, by what the work is for:');
for (const [k, n] of [...kinds].sort((a, b) => b[1] - a[1])) console.log(`  ${((100 * n) / m).toFixed(1).padStart(5)} %  ${k}`);
console.log('main thread, leaf frames:');
for (const [l, n] of [...leaves].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg ?? 15))) console.log(`  ${((100 * n) / m).toFixed(1).padStart(5)} %  ${l.slice(0, 110)}`);
// V8's tier of the leaf-most JavaScript frame (perf map names: * TurboFan, + Maglev, ^ Sparkplug baseline, ~ interpreted)
const tiers = new Map();
for (const s of samples) {
  if (s.tid !== main) continue;
  const js = s.stack.find((f) => f.startsWith('JS:'));
  if (js) tiers.set(js[3], (tiers.get(js[3]) ?? 0) + 1);
}
console.log(`main thread, the tier of the leaf-most JavaScript frame: ${[...tiers].map(([t, n]) => `${t} ${n}`).join(', ')}`);
