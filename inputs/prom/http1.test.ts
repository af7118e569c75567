import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { H1Client, type H1Origin } from './http1.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function origin(port: number): H1Origin {
  return { key: `http://127.0.0.1:${port}`, host: '127.0.0.1', port, secure: false, hostHeader: `127.0.0.1:${port}` };
}

async function listen(s: net.Server): Promise<number> {
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => s.close(r)));
  if (s instanceof http.Server) cleanups.push(() => s.closeAllConnections());
  return (s.address() as AddressInfo).port;
}

/** A raw server answering every request on a connection with `answer(n)` (n: the request's index on it). */
async function raw(answer: (n: number, socket: net.Socket) => void): Promise<number> {
  const sockets = new Set<net.Socket>();
  const s = net.createServer((socket) => {
    sockets.add(socket);
    let n = 0;
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      while (buf.includes('\r\n\r\n')) {
        buf = buf.slice(buf.indexOf('\r\n\r\n') + 4);
        answer(n++, socket);
      }
    });
    socket.on('error', () => undefined);
  });
  cleanups.push(() => sockets.forEach((x) => x.destroy()));
  return listen(s);
}

interface Got {
  status: number;
  length: number;
  type: string;
  enc: string;
  body: string;
  error?: string;
}

function get(c: H1Client, port: number, path = '/', headers = ''): Promise<Got> {
  return new Promise((resolve) => {
    const got: Got = { status: 0, length: NaN, type: '', enc: '', body: '' };
    const chunks: Buffer[] = [];
    c.get(origin(port), path, headers, {
      onHead(status, length, type, enc) {
        Object.assign(got, { status, length, type, enc });
        return true;
      },
      onData(chunk) {
        chunks.push(Buffer.from(chunk));
        return true;
      },
      onEnd() {
        resolve({ ...got, body: Buffer.concat(chunks).toString() });
      },
      onError(err) {
        resolve({ ...got, error: err.code ?? err.message });
      },
    });
  });
}

function client(connections = 2): H1Client {
  const c = new H1Client({ connections, keepAliveMs: 60_000 });
  cleanups.push(() => c.destroy());
  return c;
}

describe('H1Client', () => {
  it('reads content-length, chunked and empty bodies over one kept-alive connection, and sends the header lines', async () => {
    const peers = new Set<number>();
    let seen: http.IncomingHttpHeaders = {};
    const port = await listen(
      http.createServer((q, res) => {
        peers.add(q.socket.remotePort!);
        seen = q.headers;
        if (q.url === '/chunked') {
          res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
          res.write('a'.repeat(3000));
          setImmediate(() => res.end('b'.repeat(70_000)));
        } else if (q.url === '/empty') res.writeHead(204).end();
        else res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': 5 }).end('hello');
      }),
    );
    const c = client(1);
    expect(await get(c, port, '/x?y=1', 'x-extra: 1\r\nauthorization: Bearer t\r\n')).toEqual({ status: 200, length: 5, type: '', enc: 'gzip', body: 'hello' });
    expect(seen).toMatchObject({ host: `127.0.0.1:${port}`, 'x-extra': '1', authorization: 'Bearer t' });
    const ch = await get(c, port, '/chunked');
    expect(ch).toMatchObject({ status: 200, type: 'text/plain; version=0.0.4' });
    expect(ch.length).toBeNaN();
    expect(ch.body).toBe('a'.repeat(3000) + 'b'.repeat(70_000));
    expect(await get(c, port, '/empty')).toMatchObject({ status: 204, body: '' });
    expect(await get(c, port, '/')).toMatchObject({ body: 'hello' });
    expect(peers.size).toBe(1);
  });

  it('parses chunked bodies split anywhere, with extensions and trailers', async () => {
    const response = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nx-trailer: 1\r\n\r\n';
    for (const step of [1, 2, 3, 7, 1000]) {
      const port = await raw((_n, s) => {
        // the response written in pieces of `step` bytes, each a separate write
        const parts: string[] = [];
        for (let i = 0; i < response.length; i += step) parts.push(response.slice(i, i + step));
        const next = () => {
          const p = parts.shift();
          if (p !== undefined) s.write(p, () => setImmediate(next));
        };
        next();
      });
      expect(await get(client(), port)).toMatchObject({ status: 200, body: 'hello0123456789' });
    }
  });

  it('reads a body that ends with the connection, skips an interim response, and fails malformed ones', async () => {
    const port = await raw((_n, s) => {
      s.write('HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil ');
      setImmediate(() => s.end('the end'));
    });
    expect(await get(client(), port)).toMatchObject({ status: 200, type: 'text/plain', body: 'until the end' });
    const bad = await raw((_n, s) => s.end('SPDY/3 200 OK\r\n\r\n'));
    expect((await get(client(), bad)).error).toBe('HPE_INVALID_RESPONSE');
    const badLength = await raw((_n, s) => s.end('HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello'));
    expect((await get(client(), badLength)).error).toBe('HPE_INVALID_RESPONSE');
    const cut = await raw((_n, s) => s.end('HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\nhello'));
    expect((await get(client(), cut)).error).toBe('ECONNRESET');
    expect((await get(client(), 1)).error).toBe('ECONNREFUSED');
  });

  it('sends a GET again on a new connection when a kept-alive one was closed by the server, once', async () => {
    let conns = 0;
    const port = await raw((n, s) => {
      if (n === 0) {
        conns++;
        s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        return;
      }
      // the second GET on a connection: closed without an answer, as a server dropping an idle connection does
      s.destroy();
    });
    const c = client(1);
    expect(await get(c, port)).toMatchObject({ body: 'ok' });
    expect(await get(c, port)).toMatchObject({ body: 'ok' });
    expect(conns).toBe(2);
    // a fresh connection that closes without answering is not retried
    const silent = await raw((_n, s) => s.destroy());
    expect((await get(client(), silent)).error).toBe('ECONNRESET');
  });

  it('queues GETs beyond its connections, closes on `connection: close`, and an aborted GET drops its connection', async () => {
    const peers: number[] = [];
    const port = await listen(
      http.createServer((q, res) => {
        peers.push(q.socket.remotePort!);
        if (q.url === '/close') res.setHeader('connection', 'close');
        if (q.url === '/hang') return;
        setTimeout(() => res.end(q.url), 5);
      }),
    );
    const c = client(2);
    const all = await Promise.all(['/1', '/2', '/3', '/4', '/5'].map((p) => get(c, port, p)));
    expect(all.map((g) => g.body)).toEqual(['/1', '/2', '/3', '/4', '/5']);
    expect(new Set(peers).size).toBe(2);
    peers.length = 0;
    const c1 = client(1);
    for (const p of ['/before', '/close', '/after']) expect(await get(c1, port, p)).toMatchObject({ body: p });
    expect(peers[1]).toBe(peers[0]);
    expect(peers[2]).not.toBe(peers[1]);
    // an aborted GET in flight, and one waiting for a connection: neither is heard of again
    const one = client(1);
    const heard: string[] = [];
    const h = { onHead: () => true, onData: () => true, onEnd: () => heard.push('end'), onError: () => heard.push('error') };
    const a = one.get(origin(port), '/hang', '', h);
    const b = one.get(origin(port), '/2', '', h);
    await new Promise((r) => setTimeout(r, 20));
    b.abort();
    a.abort();
    expect(await get(one, port, '/3')).toMatchObject({ body: '/3' });
    expect(heard).toEqual([]);
  });

  it('forgets an origin once its last connection closed (idle past keepAliveMs)', async () => {
    const port = await listen(http.createServer((_q, res) => res.end('ok')));
    const c = new H1Client({ connections: 2, keepAliveMs: 30 });
    cleanups.push(() => c.destroy());
    await Promise.all([get(c, port), get(c, port)]);
    expect(c.origins).toBe(1);
    await new Promise((r) => setTimeout(r, 200));
    expect(c.origins).toBe(0);
    expect(await get(c, port)).toMatchObject({ body: 'ok' });
  });

  it('GETs over TLS, checking the server against its CA, and fails an unknown certificate', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'h1-tls-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=prom-test', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem')], { stdio: 'ignore' });
    const cert = fs.readFileSync(path.join(dir, 'c.pem'));
    const port = await listen(https.createServer({ key: fs.readFileSync(path.join(dir, 'k.pem')), cert }, (q, res) => res.end(`tls ${q.url}`)));
    const o = { ...origin(port), key: `https://127.0.0.1:${port}`, secure: true };
    const run = (c: H1Client) =>
      new Promise<string>((resolve) => {
        let body = '';
        c.get(o, '/m', '', { onHead: () => true, onData: (d) => ((body += d.toString()), true), onEnd: () => resolve(body), onError: (e) => resolve(`error ${e.code}`) });
      });
    const trusting = new H1Client({ connections: 1, keepAliveMs: 1000, tls: { ca: cert } });
    cleanups.push(() => trusting.destroy());
    expect(await run(trusting)).toBe('tls /m');
    expect(await run(trusting)).toBe('tls /m');
    expect(await run(client())).toBe('error DEPTH_ZERO_SELF_SIGNED_CERT');
  });
});
