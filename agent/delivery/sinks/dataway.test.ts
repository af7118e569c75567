import http from 'node:http';
import zlib from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { DatawaySink } from './dataway.js';
import type { Batch } from './types.js';

/** A local dataway keeping each request's raw (gzipped) body. */
async function dataway() {
  const bodies: Buffer[] = [];
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      bodies.push(Buffer.concat(parts));
      res.writeHead(200).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { bodies, url: `http://127.0.0.1:${port}?token=tkn_x`, close: () => new Promise((r) => server.close(r)) };
}

/** A logging batch of already encoded lines, compressible enough for levels to differ. */
function batch(n: number): Batch {
  const lines = Array.from({ length: n }, (_, i) => `nginx,host=h,service=web message="GET /api/v1/items/${i * 7919} 200 ${i % 13} ms",status="info" ${1700000000000000000 + i}\n`);
  const data = Buffer.from(lines.join(''));
  const ends: number[] = [];
  let at = 0;
  for (const l of lines) ends.push((at += Buffer.byteLength(l)));
  return { category: 'logging', points: [], lines: { data, ends }, format: 'lp', defaultTime: 0n };
}

let close: (() => Promise<unknown>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

describe('DatawaySink gzip level', () => {
  it('compresses at the busy level while busy() says so, at the configured level otherwise', async () => {
    const dw = await dataway();
    let busy = false;
    let asked = 0;
    const sink = new DatawaySink({ url: dw.url, index: 0, encoding: 'v1', timeoutMs: 5000, maxBodyBytes: 1 << 20, gzipLevel: 6, busyGzipLevel: 1, busy: () => (asked++, busy), connections: 2, userAgent: 't' });
    close = async () => (await sink.close(), await dw.close());
    const b = batch(3000);
    const raw = b.lines!.data;
    expect(zlib.gzipSync(raw, { level: 1 }).equals(zlib.gzipSync(raw, { level: 6 }))).toBe(false);
    expect(await sink.send(b)).toEqual({ ok: true });
    busy = true;
    expect(await sink.send(batch(3000))).toEqual({ ok: true });
    busy = false;
    expect(await sink.send(batch(3000))).toEqual({ ok: true });
    expect(dw.bodies.map((x) => (x.equals(zlib.gzipSync(raw, { level: 6 })) ? 6 : x.equals(zlib.gzipSync(raw, { level: 1 })) ? 1 : -1))).toEqual([6, 1, 6]);
    expect(asked).toBe(3);
  });

  it('never asks, and never raises the level, when the busy level is not lower', async () => {
    const dw = await dataway();
    let asked = 0;
    const sink = new DatawaySink({ url: dw.url, index: 0, encoding: 'v1', timeoutMs: 5000, maxBodyBytes: 1 << 20, gzipLevel: 2, busyGzipLevel: 6, busy: () => (asked++, true), connections: 1, userAgent: 't' });
    close = async () => (await sink.close(), await dw.close());
    const b = batch(2000);
    expect(await sink.send(b)).toEqual({ ok: true });
    expect(dw.bodies[0]!.equals(zlib.gzipSync(b.lines!.data, { level: 2 }))).toBe(true);
    expect(asked).toBe(0);
  });
});
