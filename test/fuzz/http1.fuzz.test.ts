/**
 * The prom input's own HTTP/1.1 client (inputs/prom/http1.ts) against
 * whatever a scrape target may answer: well-formed responses cut into random
 * pieces, and mutated, truncated or random bytes. Whatever comes, a GET ends
 * exactly once (onEnd or onError), nothing throws, and a well-formed answer's
 * body arrives whole however it was split. One raw server and one client serve
 * every run, so a run that leaves the connection pool in a bad state fails the
 * next one.
 */
import fc from 'fast-check';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { H1Client } from '../../inputs/prom/http1.js';
import { fuzzAsync, inputs, RUNS } from './harness.js';

const BODY = '# TYPE up gauge\nup 1\nnode_load1 0.5\n';
const chunked = (parts: string[]) => parts.map((p) => `${Buffer.byteLength(p).toString(16)};ext=1\r\n${p}\r\n`).join('') + '0\r\nx-trailer: 1\r\n\r\n';
/** Well-formed answers, each with the body a client must read from it. */
const GOOD: { answer: string; body: string }[] = [
  { answer: `HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: ${BODY.length}\r\n\r\n${BODY}`, body: BODY },
  { answer: `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunked([BODY.slice(0, 7), BODY.slice(7)])}`, body: BODY },
  { answer: `HTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`, body: BODY },
  { answer: `HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\n${BODY}`, body: BODY },
  { answer: 'HTTP/1.1 204 No Content\r\n\r\n', body: '' },
];

let port = 0;
let next: { bytes: Buffer; cuts: number[] } = { bytes: Buffer.alloc(0), cuts: [] };
const sockets = new Set<net.Socket>();
const server = net.createServer((socket) => {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
  socket.on('error', () => undefined);
  let head = '';
  socket.on('data', (d) => {
    head += d.toString('latin1');
    if (!head.includes('\r\n\r\n')) return;
    head = '';
    // the answer in its pieces, one write each on successive turns, then the connection ends: a malformed
    // answer cannot leave the client waiting for more
    const { bytes, cuts } = next;
    let at = 0;
    const write = (i: number): void => {
      if (socket.destroyed) return;
      if (i > cuts.length) return void socket.end();
      const end = i === cuts.length ? bytes.length : Math.max(at, Math.min(bytes.length, cuts[i]!));
      socket.write(bytes.subarray(at, end));
      at = end;
      setImmediate(() => write(i + 1));
    };
    write(0);
  });
});
const client = new H1Client({ connections: 1, keepAliveMs: 60_000 });

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  client.destroy();
  sockets.forEach((s) => s.destroy());
  await new Promise((r) => server.close(r));
});

/** One GET: how many times it ended, and how (the body or the error's code). */
function get(): Promise<{ ends: number; body?: string; error?: string }> {
  return new Promise((resolve, reject) => {
    let ends = 0;
    const chunks: Buffer[] = [];
    let result: { body?: string; error?: string } | undefined;
    const settle = (r: { body?: string; error?: string }) => {
      ends++;
      result ??= r;
      // a second end would come on a later turn: wait one, then report the count
      setTimeout(() => resolve({ ends, ...result }), 5);
    };
    const timer = setTimeout(() => reject(new Error('the GET never ended')), 5_000);
    client.get({ key: `http://127.0.0.1:${port}`, host: '127.0.0.1', port, secure: false, hostHeader: `127.0.0.1:${port}` }, '/metrics', 'accept: text/plain\r\n', {
      onHead: () => true,
      onData(chunk) {
        chunks.push(Buffer.from(chunk));
        return true;
      },
      onEnd() {
        clearTimeout(timer);
        settle({ body: Buffer.concat(chunks).toString('latin1') });
      },
      onError(err) {
        clearTimeout(timer);
        settle({ error: err.code ?? err.message });
      },
    });
  });
}

const cutsArb = fc.array(fc.nat(400), { maxLength: 6 }).map((c) => c.sort((a, b) => a - b));

describe('prom HTTP/1.1 client (fuzz)', () => {
  it('reads every well-formed answer whole, however the server splits it', async () => {
    await fuzzAsync(fc.tuple(fc.nat(GOOD.length - 1), cutsArb), async ([i, cuts]) => {
      const g = GOOD[i]!;
      next = { bytes: Buffer.from(g.answer, 'latin1'), cuts };
      const r = await get();
      expect(r).toEqual({ ends: 1, body: g.body });
    }, { numRuns: Math.ceil(RUNS / 3), maxMsPerRun: 2_000 });
  });

  it('ends every GET exactly once on mutated, truncated or random answers, and keeps serving', async () => {
    const seeds = GOOD.map((g) => g.answer);
    await fuzzAsync(fc.tuple(inputs(seeds, 1024), cutsArb), async ([bytes, cuts]) => {
      next = { bytes, cuts };
      const r = await get();
      expect(r.ends).toBe(1);
      expect(r.body !== undefined || r.error !== undefined).toBe(true);
    }, { numRuns: Math.ceil(RUNS / 2), maxMsPerRun: 2_000 });
    // the pool still works after all of that
    next = { bytes: Buffer.from(GOOD[0]!.answer, 'latin1'), cuts: [] };
    expect(await get()).toEqual({ ends: 1, body: BODY });
  });
});
