import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { DiskQueue, DiskQueueClosedError } from './disk-queue.js';
import { parseBytes } from './util.js';

let dir: string;
beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'telekit-dq-'));
});
afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

const rec = (i: number, size = 100) => Buffer.from(`record-${i}-`.padEnd(size, 'x'));

async function drainAll(q: DiskQueue): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const r = await q.peek();
    if (!r) return out;
    out.push(r.toString());
    await q.ack();
  }
}

async function metric(reg: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await reg.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return Number(v?.value ?? 0);
}

const segFiles = () => fs.readdirSync(dir).filter((n) => n.endsWith('.seg')).sort();

describe('DiskQueue', () => {
  it('returns records in order across segments and frees consumed segments', async () => {
    const q = await DiskQueue.open(dir, { maxBytes: 1 << 20, segmentBytes: 4096 });
    for (let i = 0; i < 200; i++) expect(await q.append(rec(i))).toBe(true);
    expect(q.length).toBe(200);
    expect(q.bytes).toBe(200 * 108);
    expect(segFiles().length).toBeGreaterThan(3);
    const got = await drainAll(q);
    expect(got).toEqual(Array.from({ length: 200 }, (_, i) => rec(i).toString()));
    expect(q.bytes).toBe(0);
    expect(q.length).toBe(0);
    expect(segFiles().length).toBe(1); // only the write segment is left
    await q.close();
  });

  it('peek returns the same record until ack', async () => {
    const q = await DiskQueue.open(dir, { maxBytes: 1 << 20 });
    await q.append(rec(1));
    await q.append(rec(2));
    expect((await q.peek())!.toString()).toBe(rec(1).toString());
    expect((await q.peek())!.toString()).toBe(rec(1).toString());
    await q.ack();
    expect((await q.peek())!.toString()).toBe(rec(2).toString());
    await q.close();
  });

  it('survives a reopen: unacknowledged records come back, acknowledged ones do not', async () => {
    let q = await DiskQueue.open(dir, { maxBytes: 1 << 20, segmentBytes: 4096 });
    for (let i = 0; i < 100; i++) await q.append(rec(i));
    for (let i = 0; i < 60; i++) {
      await q.peek();
      await q.ack();
    }
    await q.close();
    q = await DiskQueue.open(dir, { maxBytes: 1 << 20, segmentBytes: 4096 });
    expect(q.length).toBe(40);
    expect(q.bytes).toBe(40 * 108);
    for (let i = 100; i < 110; i++) await q.append(rec(i));
    const got = await drainAll(q);
    expect(got).toEqual(Array.from({ length: 50 }, (_, i) => rec(i + 60).toString()));
    await q.close();
    q = await DiskQueue.open(dir, { maxBytes: 1 << 20 });
    expect(await q.peek()).toBeUndefined();
    await q.close();
  });

  it('does not lose records appended after everything was consumed, across reopen', async () => {
    let q = await DiskQueue.open(dir, { maxBytes: 1 << 20 });
    await q.append(rec(1));
    await drainAll(q);
    await q.close();
    q = await DiskQueue.open(dir, { maxBytes: 1 << 20 });
    await q.append(rec(2));
    await q.close();
    q = await DiskQueue.open(dir, { maxBytes: 1 << 20 });
    expect(await drainAll(q)).toEqual([rec(2).toString()]);
    await q.close();
  });

  it('skips a torn tail and a corrupt record, counts them, never throws', async () => {
    const reg = new Registry();
    let q = await DiskQueue.open(dir, { maxBytes: 1 << 20, metrics: reg, name: 'test' });
    for (let i = 0; i < 5; i++) await q.append(rec(i));
    await q.close();
    const seg = path.join(dir, segFiles()[0]!);
    // Flip a payload byte of record 2 (CRC failure), then tear the last record in half.
    const buf = fs.readFileSync(seg);
    buf[2 * 108 + 8 + 10]! ^= 0xff;
    fs.writeFileSync(seg, buf.subarray(0, 4 * 108 + 50));
    q = await DiskQueue.open(dir, { maxBytes: 1 << 20, metrics: reg, name: 'test' });
    await q.append(rec(5));
    const got = await drainAll(q);
    expect(got).toEqual([0, 1, 3, 5].map((i) => rec(i).toString()));
    expect(await metric(reg, 'telekit_buffer_corrupt_records_total', { queue: 'test' })).toBe(2);
    expect(q.bytes).toBe(0);
    expect(q.length).toBe(0);
    await q.close();
  });

  it('handles a garbage cursor and garbage segments', async () => {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'cursor'), '{not json');
    fs.writeFileSync(path.join(dir, '0000000000000000.seg'), Buffer.from([0xff, 0xff, 0xff, 0x7f, 1, 2, 3]));
    const q = await DiskQueue.open(dir, { maxBytes: 1 << 20 });
    await q.append(rec(9));
    expect(await drainAll(q)).toEqual([rec(9).toString()]);
    await q.close();
  });

  it('drop-newest refuses records when full and counts them', async () => {
    const reg = new Registry();
    const q = await DiskQueue.open(dir, { maxBytes: 1080, onFull: 'drop-newest', metrics: reg, name: 'n' });
    let ok = 0;
    for (let i = 0; i < 15; i++) if (await q.append(rec(i))) ok++;
    expect(ok).toBe(10);
    expect(await metric(reg, 'telekit_buffer_dropped_records_total', { queue: 'n', reason: 'full' })).toBe(5);
    expect((await drainAll(q)).length).toBe(10);
    expect(await q.append(Buffer.alloc(2000))).toBe(false);
    expect(await metric(reg, 'telekit_buffer_dropped_records_total', { reason: 'too_large' })).toBe(1);
    await q.close();
  });

  it('drop-oldest deletes whole oldest segments and keeps the newest', async () => {
    const reg = new Registry();
    const q = await DiskQueue.open(dir, { maxBytes: 16384, segmentBytes: 4096, onFull: 'drop-oldest', metrics: reg, name: 'o' });
    for (let i = 0; i < 500; i++) expect(await q.append(rec(i))).toBe(true);
    expect(q.bytes).toBeLessThanOrEqual(16384);
    const got = await drainAll(q);
    expect(got[got.length - 1]).toBe(rec(499).toString());
    const firstIdx = Number(/record-(\d+)-/.exec(got[0]!)![1]);
    expect(got).toEqual(Array.from({ length: 500 - firstIdx }, (_, i) => rec(firstIdx + i).toString()));
    expect(await metric(reg, 'telekit_buffer_dropped_records_total', { reason: 'oldest' })).toBe(firstIdx);
    await q.close();
  });

  it('block waits for an ack, gives up (false) on abort, and rejects on close', async () => {
    const q = await DiskQueue.open(dir, { maxBytes: 216, onFull: 'block' });
    await q.append(rec(0));
    await q.append(rec(1));
    let done = false;
    const p = q.append(rec(2)).then((r) => (done = r));
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    await q.peek();
    await q.ack();
    await p;
    expect(done).toBe(true);
    const ac = new AbortController();
    const p2 = q.append(rec(3), ac.signal);
    ac.abort(new Error('stop'));
    expect(await p2).toBe(false);
    expect(await q.append(rec(3), ac.signal)).toBe(false); // an aborted signal never waits
    await q.peek();
    await q.ack();
    expect(await q.append(rec(3), ac.signal)).toBe(true); // but still appends when there is room
    const p3 = q.append(rec(4));
    await q.close();
    await expect(p3).rejects.toBeInstanceOf(DiskQueueClosedError);
  });

  it('concurrent appends and a consumer keep FIFO order without loss', async () => {
    const q = await DiskQueue.open(dir, { maxBytes: 1 << 20, segmentBytes: 4096, sync: false });
    const producer = (async () => {
      for (let i = 0; i < 300; i++) await q.append(rec(i));
    })();
    const got: string[] = [];
    while (got.length < 300) {
      const r = await q.peek();
      if (!r) {
        await q.waitForData(50);
        continue;
      }
      got.push(r.toString());
      await q.ack();
    }
    await producer;
    expect(got).toEqual(Array.from({ length: 300 }, (_, i) => rec(i).toString()));
    await q.close();
  });

  it('an idle consumer does not pile up waiters', async () => {
    const q = await DiskQueue.open(dir, { maxBytes: 1 << 20 });
    for (let i = 0; i < 50; i++) await q.waitForData(1);
    expect((q as unknown as { dataWaiters: unknown[] }).dataWaiters.length).toBe(0);
    await q.close();
  });

  it('parses byte sizes', () => {
    expect(parseBytes('2GB')).toBe(2 * 1024 ** 3);
    expect(parseBytes('512MiB')).toBe(512 * 1024 ** 2);
    expect(parseBytes('100k')).toBe(102400);
    expect(parseBytes('12345')).toBe(12345);
    expect(parseBytes('1.5m')).toBe(1.5 * 1024 ** 2);
    expect(parseBytes('lots')).toBeUndefined();
  });
});
