// bench/rum's other process: the load generator (keep-alive POSTs of SDK-shaped
// batches, X-Forwarded-For from a pool of client addresses) and a counting
// dataway (reads X-Points, drains the body). Driven by messages from run.mjs;
// `count` answers with the points counted, the requests answered and this
// process's CPU time (load generator and dataway together).
import http from 'node:http';
import { Client, Pool } from 'undici';

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

// CLIENT=request: the load generator of sessions 6-7 (undici's Pool.request(): a promise, a body stream and a
// header object per request); default: undici's Client.dispatch() on the same keep-alive connections, one
// request at a time on each (as a browser posts), ~0.5 µs a point less of the box's CPU for the client.
async function load({ url, path, bodies: texts, ips, connections, pointsPerBody }) {
  const bodies = texts.map((t) => Buffer.from(t));
  stop = false;
  sent = { points: 0, requests: 0, refused: 0 };
  let i = 0;
  const answered = (status) => {
    sent.requests++;
    if (status === 200) sent.points += pointsPerBody;
    else sent.refused++;
  };
  if (process.env.CLIENT === 'request') {
    const pool = new Pool(url, { connections, pipelining: 1 });
    const worker = async () => {
      while (!stop) {
        const n = i++;
        const res = await pool.request({ method: 'POST', path, headers: { 'content-type': 'text/plain;charset=UTF-8', 'x-forwarded-for': `${ips[n % ips.length]}, 10.0.0.1` }, body: bodies[n % bodies.length] });
        await res.body.dump();
        answered(res.statusCode);
      }
    };
    await Promise.all(Array.from({ length: connections }, worker));
    await pool.close();
    return;
  }
  // one keep-alive connection: the next request goes when the last one is answered
  const connection = () =>
    new Promise((resolve) => {
      const client = new Client(url, { pipelining: 1 });
      const next = () => {
        if (stop) return void client.close().then(resolve);
        const n = i++;
        client.dispatch({ method: 'POST', path, headers: ['content-type', 'text/plain;charset=UTF-8', 'x-forwarded-for', `${ips[n % ips.length]}, 10.0.0.1`], body: bodies[n % bodies.length] }, handler);
      };
      const handler = {
        status: 0,
        onRequestStart() {},
        onResponseStart(_controller, status) {
          this.status = status;
        },
        onResponseData() {},
        onResponseEnd() {
          answered(this.status);
          next();
        },
        onResponseError(_controller, e) {
          if (!stop) console.error('load generator:', e.message);
          void client.close().then(resolve);
        },
      };
      next();
    });
  await Promise.all(Array.from({ length: connections }, connection));
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
