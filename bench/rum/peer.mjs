// bench/rum's other process: the load generator (keep-alive POSTs of SDK-shaped
// batches, X-Forwarded-For from a pool of client addresses) and a counting
// dataway (reads X-Points, drains the body). Driven by messages from run.mjs;
// `count` answers with the points counted, the requests answered and this
// process's CPU time (load generator and dataway together).
import http from 'node:http';
import { Pool } from 'undici';

const server = http.createServer((req, res) => {
  if (req.url?.startsWith('/v1/write/')) counted += Number(req.headers['x-points'] ?? 0);
  req.resume();
  req.on('end', () => res.writeHead(200).end('{}'));
});
server.keepAliveTimeout = 60_000;
let counted = 0;
await new Promise((r) => server.listen(0, '127.0.0.1', r));
process.send({ type: 'dataway', url: `http://127.0.0.1:${server.address().port}?token=tkn_bench` });

let stop = false;
let sent = { points: 0, requests: 0, refused: 0 };

async function load({ url, path, bodies: texts, ips, connections, pointsPerBody }) {
  const bodies = texts.map((t) => Buffer.from(t));
  stop = false;
  sent = { points: 0, requests: 0, refused: 0 };
  const pool = new Pool(url, { connections, pipelining: 1 });
  let i = 0;
  const worker = async () => {
    while (!stop) {
      const n = i++;
      const res = await pool.request({ method: 'POST', path, headers: { 'content-type': 'text/plain;charset=UTF-8', 'x-forwarded-for': `${ips[n % ips.length]}, 10.0.0.1` }, body: bodies[n % bodies.length] });
      await res.body.dump();
      sent.requests++;
      if (res.statusCode === 200) sent.points += pointsPerBody;
      else sent.refused++;
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  await pool.close();
}

process.on('message', (m) => {
  if (m.type === 'load') void load(m).then(() => process.send({ type: 'stopped', sent }));
  else if (m.type === 'stop') stop = true;
  else if (m.type === 'count') {
    const u = process.cpuUsage();
    process.send({ type: 'count', counted, requests: sent.requests, cpuUs: u.user + u.system });
  }
  else if (m.type === 'exit') server.close(() => process.exit(0));
});
