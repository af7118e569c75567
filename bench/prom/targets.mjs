/**
 * Child process for bench/prom/schedule.mjs: serves N scrape targets
 * (`GET /t/<i>` → the body file) and a sink that accepts and discards writes
 * (telekit's dataway `POST /v1/write/*`, vmagent's remote write). Counts GETs
 * by user agent and reports them on IPC request, so only the scraper's CPU is
 * measured in its own process.
 */
import http from 'node:http';
import fs from 'node:fs';

const body = fs.readFileSync(process.argv[2]);
const counts = new Map();
const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url.startsWith('/t/')) {
    const ua = (req.headers['user-agent'] ?? '').split('/')[0];
    counts.set(ua, (counts.get(ua) ?? 0) + 1);
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-length': body.length });
    res.end(body);
    return;
  }
  req.resume();
  req.on('end', () => res.writeHead(204).end());
});
server.keepAliveTimeout = 120_000;
server.maxRequestsPerSocket = 0;
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
process.on('message', (m) => {
  if (m === 'counts') process.send({ counts: Object.fromEntries(counts) });
  if (m === 'exit') process.exit(0);
});
