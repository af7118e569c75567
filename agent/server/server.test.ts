/**
 * Input routes on the socket take the lean path (AgentServer.serveDirect), not
 * fastify's; inject() still takes fastify's. Both must answer alike: the same
 * status, body, CORS and retry headers, limits and error mapping.
 */
import net from 'node:net';
import zlib from 'node:zlib';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { request } from 'undici';
import { CoreMetrics } from '../telemetry/metrics.js';
import { AgentServer, HttpError } from './server.js';
import { waitFor } from '../../test/helpers/wait.js';
import type { HttpRequest } from './http-routes.js';

const servers: AgentServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function server(o: { overloaded?: () => boolean; bodyBudget?: number } = {}) {
  const metrics = new CoreMetrics(false);
  const s = new AgentServer({ bodyLimit: 1 << 20, bodyBudget: o.bodyBudget, metrics, log: pino({ level: 'silent' }), overloaded: o.overloaded ?? (() => false), corsOrigins: ['http://shop.example'] });
  servers.push(s);
  const seen: HttpRequest[] = [];
  s.route(['POST'], '/in', (req) => (seen.push(req), { status: 200, body: { n: req.body.length } }), { bodyLimit: 1000 });
  s.route(['POST'], '/teapot', () => {
    throw Object.assign(new HttpError(429, 'slow down'), { retryAfter: 3 });
  });
  s.route(['POST'], '/boom', () => {
    throw new Error('bug');
  });
  s.route(['GET'], '/text', () => ({ status: 202, body: 'hi', headers: { 'x-a': 'b' } }));
  const url = await s.listen('127.0.0.1', 0);
  return { s, url, seen, metrics };
}

async function both(s: AgentServer, url: string, method: 'GET' | 'POST', path: string, headers: Record<string, string> = {}, body?: Buffer | string) {
  const r = await request(url + path, { method, headers, body });
  const socket = { status: r.statusCode, headers: r.headers, body: await r.body.text() };
  const inj = await s.app.inject({ method, url: path, headers, payload: body });
  return { socket, inject: { status: inj.statusCode, headers: inj.headers, body: inj.body } };
}

describe('input routes on the socket (the lean path) answer as fastify does', () => {
  it('passes the path, query, headers, inflated body and peer address; answers JSON with CORS headers for an allowed Origin', async () => {
    const { s, url, seen, metrics } = await server();
    const gz = zlib.gzipSync('hello');
    const { socket, inject } = await both(s, url, 'POST', '/in?precision=ms&x=1', { 'content-encoding': 'gzip', origin: 'http://shop.example' }, gz);
    for (const r of [socket, inject]) {
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toEqual({ n: 5 });
      expect(r.headers['content-type']).toMatch(/^application\/json/);
      expect(r.headers['access-control-allow-origin']).toBe('http://shop.example');
      expect(r.headers['access-control-allow-credentials']).toBe('true');
      expect(r.headers.vary).toContain('Origin');
    }
    expect(seen[0]).toMatchObject({ method: 'POST', path: '/in', query: { precision: 'ms', x: '1' }, body: Buffer.from('hello'), remoteAddress: '127.0.0.1' });
    const refused = await request(url + '/in', { method: 'POST', headers: { origin: 'https://evil.example' }, body: 'x' });
    expect(refused.statusCode).toBe(200);
    expect(refused.headers['access-control-allow-origin']).toBeUndefined();
    await refused.body.dump();
    expect(await metrics.registry.getSingleMetricAsString('telekit_http_requests_total')).toContain('route="/in",code="200"} 3');
  });

  it('maps handler errors (HttpError with Retry-After, a throw → 500) and sends text bodies and handler headers', async () => {
    const { s, url } = await server();
    const t = await both(s, url, 'POST', '/teapot', {}, 'x');
    const b = await both(s, url, 'POST', '/boom', {}, 'x');
    const g = await both(s, url, 'GET', '/text');
    for (const k of ['socket', 'inject'] as const) {
      expect(t[k]).toMatchObject({ status: 429, body: JSON.stringify({ error: 'slow down' }) });
      expect(t[k].headers['retry-after']).toBe('3');
      expect(b[k]).toMatchObject({ status: 500, body: JSON.stringify({ error: 'internal error' }) });
      expect(g[k]).toMatchObject({ status: 202, body: 'hi' });
      expect(g[k].headers['x-a']).toBe('b');
      expect(g[k].headers['content-type']).toMatch(/^text\/plain/);
    }
  });

  it('refuses bodies over the route limit (declared or chunked: 413, connection closed), bad gzip (400) and writes while overloaded (503)', async () => {
    let over = false;
    const { url } = await server({ overloaded: () => over });
    const big = await request(url + '/in', { method: 'POST', body: 'x'.repeat(2000) });
    expect(big.statusCode).toBe(413);
    expect(big.headers.connection).toBe('close');
    await big.body.dump();
    const chunked = await request(url + '/in', { method: 'POST', body: Readable.from([0, 1, 2, 3, 4].map(() => Buffer.alloc(400, 120))) });
    expect(chunked.statusCode).toBe(413);
    await chunked.body.dump();
    const bad = await request(url + '/in', { method: 'POST', headers: { 'content-encoding': 'gzip' }, body: 'not gzip' });
    expect(bad.statusCode).toBe(400);
    await bad.body.dump();
    over = true;
    const shed = await request(url + '/in', { method: 'POST', body: 'x' });
    expect(shed.statusCode).toBe(503);
    expect(shed.headers['retry-after']).toBe('1');
    await shed.body.dump();
  });

  it('reads a declared body that arrives in several chunks whole, byte for byte, and one that arrives at once as it is', async () => {
    const { s, url, seen } = await server();
    const sockets: net.Socket[] = [];
    s.app.server.on('connection', (c: net.Socket) => sockets.push(c));
    const body = Buffer.from(Array.from({ length: 900 }, (_, i) => (i * 7) % 256));
    const client = net.connect(Number(new URL(url).port), '127.0.0.1');
    let answer = '';
    client.on('data', (d) => (answer += d.toString('latin1')));
    const head = `POST /in?a=1 HTTP/1.1\r\nhost: x\r\ncontent-length: ${body.length}\r\n\r\n`;
    // each part is written after the server has read the one before: the body reaches the route in three chunks
    const parts = [body.subarray(0, 100), body.subarray(100, 550), body.subarray(550)];
    let sent = head.length;
    client.write(head);
    for (const part of parts) {
      client.write(part);
      sent += part.length;
      await waitFor(() => sockets[0] !== undefined && sockets[0].bytesRead >= sent, { what: 'the server to read the part' });
    }
    await waitFor(() => answer.includes('{"n":900}'), { what: 'the answer' });
    client.destroy();
    const one = await request(url + '/in?a=1', { method: 'POST', body });
    expect(await one.body.json()).toEqual({ n: 900 });
    expect(seen).toHaveLength(2);
    expect(seen[0]!.body.equals(body)).toBe(true);
    expect(seen[1]!.body.equals(body)).toBe(true);
    expect(seen[0]!.query).toEqual({ a: '1' });
    expect(seen[1]!.query).not.toBe(seen[0]!.query); // each request its own query object
  });

  it('leaves paths without an input route, wrong methods and preflights to fastify', async () => {
    const { url } = await server();
    const none = await request(url + '/nope', { method: 'POST', body: 'x' });
    expect(none.statusCode).toBe(404);
    await none.body.dump();
    const wrong = await request(url + '/in', { method: 'PUT', body: 'x' });
    expect(wrong.statusCode).toBe(405);
    await wrong.body.dump();
    const pre = await request(url + '/in', { method: 'OPTIONS', headers: { origin: 'http://shop.example', 'access-control-request-method': 'POST' } });
    expect(pre.statusCode).toBe(204);
    await pre.body.dump();
  });
});

describe("fastify's schema compilers", () => {
  it('are loaded on the first route with a schema, and validate and serialize as fastify does', async () => {
    const s = new AgentServer({ bodyLimit: 1 << 20, metrics: new CoreMetrics(false), log: pino({ level: 'silent' }), overloaded: () => false });
    servers.push(s);
    s.app.get('/typed', { schema: { querystring: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] }, response: { 200: { type: 'object', properties: { twice: { type: 'integer' } } } } } }, (req) => ({ twice: (req.query as { n: number }).n * 2, dropped: 'by the serializer' }));
    const ok = await s.app.inject({ method: 'GET', url: '/typed?n=21' });
    expect(ok.statusCode).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ twice: 42 }); // fast-json-stringify drops what the schema does not name
    const bad = await s.app.inject({ method: 'GET', url: '/typed?n=x' });
    expect(bad.statusCode).toBe(400); // ajv coerced and refused
    expect(JSON.parse(bad.body).error).toMatch(/querystring\/n must be integer/);
  });
});
