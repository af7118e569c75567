// What trace worker isolates cost: the agent (bench/traces/agent-server.mjs, ddtrace and
// zipkin, a discarding dataway) idle, after one ddtrace request (one worker starts), and
// after 80 more, 4 at a time (a second worker), and 70 s later (idle workers end after
// 60 s, agent/services/trace/offthread.ts). RSS and threads of the agent process.
//
//   npm run build && node bench/memory/workers.mjs
//   (ARGS='--max-semi-space-size=1' passes node flags to the agent)
import { fork } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { ddtraceBody } from '../traces/payloads.mjs';

const sink = http.createServer((q, r) => { q.resume(); q.on('end', () => r.end('{}')); }).listen(0, '127.0.0.1');
await new Promise((r) => sink.once('listening', r));
const agent = new URL('../traces/agent-server.mjs', import.meta.url).pathname;
const child = fork(agent, [`http://127.0.0.1:${sink.address().port}?token=tkn_bench`, 'v1'], { execArgv: (process.env.ARGS ?? '').split(' ').filter(Boolean), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const ready = await new Promise((r) => child.on('message', (m) => m.type === 'ready' && r(m)));
const st = () => {
  const s = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
  return `RSS ${(Number(/VmRSS:\s+(\d+)/.exec(s)[1]) / 1024).toFixed(1)} MiB, ${/Threads:\s+(\d+)/.exec(s)[1]} threads`;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const body = ddtraceBody();
const post = () => fetch(`${ready.url}/v0.4/traces`, { method: 'POST', body, headers: { 'content-type': 'application/msgpack' } }).then((r) => r.text());
await sleep(3000);
console.log(`idle (ddtrace and zipkin inputs): ${st()}`);
await post();
await sleep(3000);
console.log(`3 s after one request (one worker): ${st()}`);
for (let i = 0; i < 20; i++) await Promise.all([post(), post(), post(), post()]);
await sleep(3000);
console.log(`3 s after 80 requests, 4 at a time: ${st()}`);
await sleep(70_000);
console.log(`70 s later (idle workers ended): ${st()}`);
child.kill();
sink.close();
