/**
 * Fault tests under steady load: the dataway goes down, answers slowly, fails
 * then recovers, and the disk buffer fills up. Each test keeps the books
 * (offered / accepted / acknowledged sequence numbers) and asserts that every
 * acknowledged point reaches the dataway, and that whatever was not
 * acknowledged is counted as dropped.
 */
import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import http from 'node:http';
import zlib from 'node:zlib';
import path from 'node:path';
import { startTestAgent, tempDir, type TestAgent } from '../helpers/agent.js';
import { TestDataway } from '../helpers/dataway.js';
import { freePort, waitFor } from '../helpers/wait.js';
import { decodeLines } from '../../agent/model/lineproto.js';
import { LoadBooks, loadgen, missing, receivedSeqs } from './loadgen.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function start(books: LoadBooks, env: Record<string, string> = {}, conf = '[[inputs.loadgen]]\nbatch = 50\ninterval_ms = 10\n'): Promise<TestAgent> {
  const t = await startTestAgent({
    conf: { 'loadgen.conf': conf },
    env: { ENV_DATAWAY_MAX_RETRY_COUNT: '2', ENV_DATAWAY_RETRY_DELAY: '50ms', ENV_IO_QUEUE_CAPACITY: '20000', ENV_DATAWAY_TIMEOUT: '2s', ...env },
    extra: { registry: [loadgen(books)] },
  });
  cleanups.push(() => t.stop());
  return t;
}

async function metricSum(t: TestAgent, name: string, filter: (labels: Partial<Record<string, string | number>>) => boolean = () => true): Promise<number> {
  const m = (await t.agent.metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).filter((v) => filter(v.labels)).reduce((a, v) => a + Number(v.value), 0);
}


/** Stops the load, waits until every accepted point is acknowledged or counted as dropped. */
async function settle(t: TestAgent, books: LoadBooks, timeoutMs = 20_000): Promise<void> {
  books.pause();
  await waitFor(
    async () => {
      const dropped = await metricSum(t, 'telekit_points_dropped_total', (l) => l.reason !== 'queue_full');
      return books.acked.size + dropped >= books.accepted.size;
    },
    { timeoutMs, what: 'every accepted point acknowledged or counted' },
  );
}

describe('dataway faults under steady load', () => {
  it('dataway down for a stretch: everything acknowledged arrives after recovery (via the disk buffer)', async () => {
    const books = new LoadBooks();
    const t = await start(books);
    await waitFor(() => books.acked.size > 500, { what: 'steady state' });
    t.dataway.respond(() => ({ status: 503 }));
    const before = books.acked.size;
    await waitFor(async () => (await metricSum(t, 'telekit_sink_points_total', (l) => l.result === 'spilled')) > 2000, { what: 'spilling', timeoutMs: 15_000 });
    expect(books.acked.size).toBeGreaterThan(before); // spilled batches are acknowledged: producers move on
    t.dataway.respond(undefined);
    await settle(t, books);
    const got = await waitFor(() => {
      const s = receivedSeqs(t.dataway.points('metric', 'load'));
      return missing(books.acked, s).length === 0 ? s : undefined;
    }, { timeoutMs: 20_000, what: 'every acknowledged point at the dataway' });
    expect(got.size).toBeGreaterThanOrEqual(books.acked.size);
    expect(await metricSum(t, 'telekit_buffer_replayed_points_total', (l) => l.result === 'sent')).toBeGreaterThan(0);
    // nothing accepted was silently lost
    expect(books.acked.size + (await metricSum(t, 'telekit_points_dropped_total', (l) => l.reason !== 'queue_full'))).toBe(books.accepted.size);
  }, 45_000);

  it('with slow retries, batches beyond the in-flight ones spill at once instead of filling memory and dropping', async () => {
    const books = new LoadBooks();
    const t = await start(books, { ENV_DATAWAY_MAX_RETRY_COUNT: '1000', ENV_DATAWAY_RETRY_DELAY: '300ms', ENV_IO_QUEUE_CAPACITY: '20000' });
    t.dataway.respond(() => ({ status: 503 }));
    await waitFor(async () => (await metricSum(t, 'telekit_sink_points_total', (l) => l.result === 'spilled')) > 8_000, { what: 'spilling while retrying', timeoutMs: 20_000 });
    expect(await metricSum(t, 'telekit_points_dropped_total')).toBe(0);
    expect(books.accepted.size).toBe(books.offered);
    t.dataway.respond(undefined);
    await settle(t, books);
    await waitFor(() => missing(books.acked, receivedSeqs(t.dataway.points('metric', 'load'))).length === 0, { timeoutMs: 20_000, what: 'all acknowledged points' });
  }, 45_000);

  it('a no-drop category with a full disk buffer: sending waits (back-pressure) instead of dropping what was accepted', async () => {
    const books = new LoadBooks();
    const t = await start(books, { ENV_DATAWAY_WAL_CAPACITY: '256KiB', ENV_DATAWAY_WAL_NO_DROP_CATEGORIES: 'M', ENV_IO_QUEUE_CAPACITY: '10000' });
    t.dataway.respond(() => ({ status: 503 }));
    // The buffer fills, spills wait, the queue fills: the producer is refused at the door (queue_full), counted.
    await waitFor(async () => (await metricSum(t, 'telekit_points_dropped_total', (l) => l.reason === 'queue_full')) > 0, { what: 'back-pressure', timeoutMs: 20_000 });
    expect(await metricSum(t, 'telekit_points_dropped_total', (l) => l.reason !== 'queue_full')).toBe(0);
    expect(await metricSum(t, 'telekit_buffer_dropped_records_total')).toBe(0);
    t.dataway.respond(undefined);
    await settle(t, books);
    await waitFor(() => missing(books.acked, receivedSeqs(t.dataway.points('metric', 'load'))).length === 0, { timeoutMs: 20_000, what: 'all acknowledged points' });
    // Everything accepted was delivered: nothing dropped after acceptance.
    expect(books.acked.size).toBe(books.accepted.size);
    expect(await metricSum(t, 'telekit_points_dropped_total', (l) => l.reason !== 'queue_full')).toBe(0);
  }, 45_000);

  it('stopping while no-drop spills wait on a full buffer ends within the shutdown deadline; the drops are counted', async () => {
    const books = new LoadBooks();
    const t = await start(books, { ENV_DATAWAY_WAL_CAPACITY: '128KiB', ENV_DATAWAY_WAL_NO_DROP_CATEGORIES: 'metric', ENV_SHUTDOWN_TIMEOUT: '1s' });
    t.dataway.respond(() => ({ status: 503 }));
    await waitFor(async () => (await metricSum(t, 'telekit_points_dropped_total', (l) => l.reason === 'queue_full')) > 0, { what: 'spills blocked', timeoutMs: 20_000 });
    const t0 = Date.now();
    await t.agent.stop();
    expect(Date.now() - t0).toBeLessThan(5000);
    const after = await metricSum(t, 'telekit_points_dropped_total', (l) => l.reason !== 'queue_full');
    expect(books.acked.size + after).toBeGreaterThanOrEqual(books.accepted.size);
  }, 45_000);

  it('stopping during an outage puts what is queued on disk; the next start on the same data dir sends it', async () => {
    const books = new LoadBooks();
    const dataDir = tempDir('telekit-restart-');
    cleanups.push(async () => fs.rmSync(dataDir, { recursive: true, force: true }));
    const dw = await TestDataway.start();
    cleanups.push(() => dw.close());
    dw.respond(() => ({ status: 503 }));
    const env = { ENV_DATAWAY_MAX_RETRY_COUNT: '1000', ENV_DATAWAY_RETRY_DELAY: '200ms', ENV_SHUTDOWN_TIMEOUT: '500ms' };
    const a = await startTestAgent({ dataway: dw, dataDir, conf: { 'loadgen.conf': '[[inputs.loadgen]]\n' }, env, extra: { registry: [loadgen(books)] } });
    await waitFor(() => books.accepted.size > 3000, { what: 'load accepted' });
    await a.stop(); // flush deadline passes: queued and in-flight batches are spilled
    expect(books.acked.size).toBeGreaterThan(0);
    expect(books.acked.size).toBe(books.accepted.size);
    expect(dw.points('metric', 'load')).toHaveLength(0);
    dw.respond(undefined);
    const b = await startTestAgent({ dataway: dw, dataDir, env, extra: { registry: [loadgen(new LoadBooks())] } });
    cleanups.push(() => b.stop());
    await waitFor(() => missing(books.acked, receivedSeqs(dw.points('metric', 'load'))).length === 0, { timeoutMs: 20_000, what: 'the first run\'s points' });
  }, 45_000);

  it('connection refused, then connections reset mid-request, then a healthy dataway: nothing acknowledged is lost', async () => {
    const port = await freePort();
    const books = new LoadBooks();
    const got = new Set<number>();
    const t = await startTestAgent({
      conf: { 'loadgen.conf': '[[inputs.loadgen]]\n' },
      env: { ENV_DATAWAY: `http://127.0.0.1:${port}?token=tkn_x`, ENV_DATAWAY_MAX_RETRY_COUNT: '2', ENV_DATAWAY_RETRY_DELAY: '50ms' },
      extra: { registry: [loadgen(books)] },
    });
    cleanups.push(() => t.stop());
    await waitFor(() => books.acked.size > 2000, { what: 'spilled while refused', timeoutMs: 15_000 });
    let resets = 0;
    const server = http.createServer((req, res) => {
      if (resets++ < 3) {
        req.socket.destroy(); // reset before any answer
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = req.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(Buffer.concat(chunks)) : Buffer.concat(chunks);
        for (const p of decodeLines(body.toString('utf8'))) if (p.name === 'load') got.add(Number(p.fields.seq as bigint));
        res.writeHead(200).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    // Live batches get through first; that wakes the replay of the spilled ones out of its backoff.
    await waitFor(() => got.size > 0, { what: 'live points through', timeoutMs: 15_000 });
    await settle(t, books);
    await waitFor(() => missing(books.acked, got).length === 0, { timeoutMs: 10_000, what: 'all acknowledged points' });
    expect(resets).toBeGreaterThan(3);
  }, 45_000);

  it('a dataway answering 500 a few times then 200 loses nothing', async () => {
    const books = new LoadBooks();
    const t = await start(books);
    let fails = 0;
    t.dataway.respond(() => (fails++ < 15 ? { status: 500, body: 'boom' } : undefined));
    await waitFor(() => fails > 15 && books.acked.size > 3000, { what: 'recovery', timeoutMs: 20_000 });
    await settle(t, books);
    await waitFor(() => missing(books.acked, receivedSeqs(t.dataway.points('metric', 'load'))).length === 0, { timeoutMs: 20_000, what: 'all acknowledged points' });
    expect(books.acked.size).toBe(books.accepted.size);
  }, 45_000);

  it('a dataway taking 5 s per request: producers are not blocked, the backlog spills to disk, acknowledged points arrive', async () => {
    const books = new LoadBooks();
    const t = await start(books, { ENV_DATAWAY_TIMEOUT: '30s', ENV_IO_QUEUE_CAPACITY: '40000' });
    t.dataway.respond(() => ({ status: 200, delayMs: 5000 }));
    // The agent keeps answering while its sends hang.
    const t0 = Date.now();
    expect((await fetch(`${t.url}/v1/ping`)).ok).toBe(true);
    expect(Date.now() - t0).toBeLessThan(1000);
    await waitFor(() => books.acked.size > 0, { timeoutMs: 15_000, what: 'first slow acknowledgements' });
    const mark = books.offered;
    await waitFor(() => books.offered > mark + 10_000, { what: 'more load while the dataway is slow' });
    books.pause();
    t.dataway.respond(undefined);
    await settle(t, books, 25_000);
    await waitFor(() => missing(books.acked, receivedSeqs(t.dataway.points('metric', 'load'))).length === 0, { timeoutMs: 20_000, what: 'all acknowledged points' });
    const queueFull = await metricSum(t, 'telekit_points_dropped_total', (l) => l.reason === 'queue_full');
    expect(books.offered - books.accepted.size).toBe(queueFull); // every refusal counted
    expect(queueFull).toBe(0);
    expect(await metricSum(t, 'telekit_sink_points_total', (l) => l.result === 'spilled')).toBeGreaterThan(0);
  }, 45_000);

  it('disk buffer full: spills beyond the cap are refused and counted, the rest arrives', async () => {
    const books = new LoadBooks();
    const t = await start(books, { ENV_DATAWAY_WAL_CAPACITY: '256KiB' });
    t.dataway.respond(() => ({ status: 503 }));
    await waitFor(async () => (await metricSum(t, 'telekit_buffer_dropped_records_total', (l) => l.reason === 'full')) > 3, { what: 'buffer full', timeoutMs: 20_000 });
    const files = fs.readdirSync(path.join(t.dataDir, 'buffer', 'dataway_0_', 'metric'));
    expect(files.some((f) => f.endsWith('.seg'))).toBe(true);
    t.dataway.respond(undefined);
    await settle(t, books);
    await waitFor(() => missing(books.acked, receivedSeqs(t.dataway.points('metric', 'load'))).length === 0, { timeoutMs: 20_000, what: 'all acknowledged points' });
    const dropped = await metricSum(t, 'telekit_points_dropped_total', (l) => l.reason === 'retries_exhausted');
    expect(dropped).toBeGreaterThan(0);
    // every accepted point is acknowledged or counted; a call with a dropped point is never acknowledged
    expect(books.acked.size + dropped).toBeGreaterThanOrEqual(books.accepted.size);
    expect(books.acked.size).toBeLessThanOrEqual(books.accepted.size - dropped);
  }, 45_000);
});
