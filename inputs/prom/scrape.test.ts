import { afterEach, describe, expect, it } from 'vitest';
import { getEventListeners } from 'node:events';
import http from 'node:http';
import zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { makeClient, scrape, type ScrapeRequest } from './scrape.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serve(h: http.RequestListener): Promise<string> {
  const s = http.createServer(h);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => s.close(r)));
  cleanups.push(() => s.closeAllConnections());
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

const req = (url: string, o: Partial<ScrapeRequest> = {}): ScrapeRequest => ({ url, timeoutMs: 2000, maxBytes: 4096, headers: {}, ...o });

describe('scrape()', () => {
  it('decodes gzip, tells OpenMetrics apart, sends the bearer token and headers', async () => {
    let seen: http.IncomingHttpHeaders = {};
    const url = await serve((q, res) => {
      seen = q.headers;
      res.writeHead(200, { 'content-type': 'application/openmetrics-text; version=1.0.0', 'content-encoding': 'gzip' });
      res.end(zlib.gzipSync('a_b 1\n# EOF\n'));
    });
    const d = makeClient(undefined, 2);
    cleanups.push(() => d.close());
    const r = await scrape(d, req(`${url}/m?x=1`, { headers: { 'x-extra': 'y' }, token: () => 'tok' }), new AbortController().signal);
    expect(r).toEqual({ ok: true, text: 'a_b 1\n# EOF\n', openMetrics: true, bytes: 12 });
    expect(seen).toMatchObject({ authorization: 'Bearer tok', 'x-extra': 'y', 'accept-encoding': 'gzip', 'user-agent': 'telekit-prom' });
  });

  it('fails an error status, a body over the limit (declared or streamed) and keeps the connection usable', async () => {
    const url = await serve((q, res) => {
      if (q.url === '/500') return void res.writeHead(500).end('boom');
      if (q.url === '/declared') return void res.end('x'.repeat(5000));
      if (q.url === '/chunked') {
        res.write('x'.repeat(3000));
        setImmediate(() => res.end('y'.repeat(3000)));
        return;
      }
      res.end('a_b 1\n');
    });
    const d = makeClient(undefined, 1);
    cleanups.push(() => d.close());
    const stop = new AbortController().signal;
    expect(await scrape(d, req(`${url}/500`), stop)).toEqual({ ok: false, reason: 'http_status', message: 'HTTP 500' });
    expect(await scrape(d, req(`${url}/ok`), stop)).toMatchObject({ ok: true, text: 'a_b 1\n' });
    expect(await scrape(d, req(`${url}/declared`), stop)).toMatchObject({ ok: false, reason: 'too_large', message: 'content-length 5000 over 4096 bytes' });
    expect(await scrape(d, req(`${url}/chunked`), stop)).toMatchObject({ ok: false, reason: 'too_large', message: 'body over 4096 bytes' });
    expect(await scrape(d, req(`${url}/ok`), stop)).toMatchObject({ ok: true, text: 'a_b 1\n' });
    expect(await scrape(d, req('ftp://x/y'), stop)).toMatchObject({ ok: false, reason: 'invalid_url' });
  });

  it('follows redirects as Prometheus does (relative and to another host, at most 10), the bearer token only to the same host', async () => {
    const auth: Record<string, string | undefined> = {};
    const other = await serve((q, res) => {
      auth[`other${q.url}`] = q.headers.authorization;
      res.end('from_other 1\n');
    });
    const url = await serve((q, res) => {
      auth[q.url!] = q.headers.authorization;
      if (q.url === '/') return void res.writeHead(302, { location: '/metrics?x=1' }).end('moved');
      if (q.url === '/perm') return void res.writeHead(308, { location: `${url}/` }).end();
      if (q.url === '/away') return void res.writeHead(301, { location: `${other.replace('127.0.0.1', 'localhost')}/m` }).end();
      if (q.url!.startsWith('/loop')) return void res.writeHead(307, { location: `/loop${Number(q.url!.slice(5) || 0) + 1}` }).end();
      if (q.url === '/nowhere') return void res.writeHead(302).end();
      if (q.url === '/bad') return void res.writeHead(302, { location: 'ftp://x/y' }).end();
      res.end(`seen_at{path="${q.url}"} 1\n`);
    });
    const d = makeClient(undefined, 1);
    cleanups.push(() => d.close());
    const stop = new AbortController().signal;
    const tok = { token: () => 'tok' };
    expect(await scrape(d, req(`${url}/`, tok), stop)).toMatchObject({ ok: true, text: 'seen_at{path="/metrics?x=1"} 1\n' });
    expect(auth['/metrics?x=1']).toBe('Bearer tok');
    // two hops: 308 to /, then 302 to /metrics?x=1
    expect(await scrape(d, req(`${url}/perm`), stop)).toMatchObject({ ok: true, text: 'seen_at{path="/metrics?x=1"} 1\n' });
    // to another host: followed, without the token
    expect(await scrape(d, req(`${url}/away`, tok), stop)).toMatchObject({ ok: true, text: 'from_other 1\n' });
    expect(auth['/away']).toBe('Bearer tok');
    expect(auth['other/m']).toBeUndefined();
    expect(await scrape(d, req(`${url}/loop`), stop)).toEqual({ ok: false, reason: 'http_status', message: 'HTTP 307: more than 10 redirects' });
    expect(await scrape(d, req(`${url}/nowhere`), stop)).toEqual({ ok: false, reason: 'http_status', message: 'HTTP 302' });
    expect(await scrape(d, req(`${url}/bad`), stop)).toMatchObject({ ok: false, reason: 'http_status', message: expect.stringContaining('HTTP 302: bad Location "ftp://x/y"') });
    // the connection is still usable
    expect(await scrape(d, req(`${url}/ok`), stop)).toMatchObject({ ok: true, text: 'seen_at{path="/ok"} 1\n' });
  });

  it('times out, and a stop ends a scrape in flight as aborted', async () => {
    const url = await serve(() => undefined); // never answers
    const d = makeClient(undefined, 4);
    cleanups.push(() => d.destroy());
    expect(await scrape(d, req(url, { timeoutMs: 100 }), new AbortController().signal)).toMatchObject({ ok: false, reason: 'timeout' });
    const stop = new AbortController();
    const pending = scrape(d, req(url, { timeoutMs: 60_000 }), stop.signal);
    setImmediate(() => stop.abort());
    expect(await pending).toEqual({ ok: false, reason: 'aborted', message: 'stopped' });
    expect(await scrape(d, req(url), stop.signal)).toEqual({ ok: false, reason: 'aborted', message: 'stopped' });
    expect(await scrape(d, req('http://127.0.0.1:1/'), new AbortController().signal)).toMatchObject({ ok: false, reason: 'connect' });
  });

  it('listens to a target\'s stop signal once however many scrapes it runs', async () => {
    const url = await serve((_q, res) => res.end('a_b 1\n'));
    const d = makeClient(undefined, 2);
    cleanups.push(() => d.close());
    const stop = new AbortController();
    for (let i = 0; i < 5; i++) expect(await scrape(d, req(url), stop.signal)).toMatchObject({ ok: true });
    await Promise.all([scrape(d, req(url), stop.signal), scrape(d, req(url), stop.signal)]);
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(1);
  });
});
