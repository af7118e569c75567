import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Sender, approxBytes, type SpillHook } from './sender.js';
import { CoreMetrics } from '../telemetry/metrics.js';
import type { Batch, EncodedLines, RecordFormat, SendResult, Sink } from './sinks/types.js';
import type { Point } from '../model/point.js';
import { encodePBPoints } from '../model/pbpoint.js';
import { waitFor } from '../../test/helpers/wait.js';

/** A sink that holds every batch until released. */
class HeldSink implements Sink {
  readonly name = 'held';
  readonly held: { batch: Batch; done: (r: SendResult) => void }[] = [];
  accepts() {
    return true;
  }
  send(batch: Batch): Promise<SendResult> {
    return new Promise((done) => this.held.push({ batch, done }));
  }
  release() {
    for (const h of this.held.splice(0)) h.done({ ok: true });
  }
  async close() {}
}

const log = (n: number, size: number): Point[] =>
  Array.from({ length: n }, (_, i) => ({ category: 'logging', name: 'app', tags: { i: String(i) }, fields: { message: 'x'.repeat(size) } }));

function sender(sink: Sink, o: { capacity?: number; maxBytes?: number; spill?: SpillHook; batchBytes?: number; concurrency?: number; flushMs?: number; spareIdleMs?: number } = {}) {
  const metrics = new CoreMetrics(false);
  const s = new Sender({
    sinks: [sink],
    metrics,
    log: pino({ level: 'silent' }),
    flushIntervalMs: o.flushMs ?? 60_000,
    maxCacheCount: 10,
    spareIdleMs: o.spareIdleMs,
    maxBatchBytes: o.batchBytes,
    queueCapacity: o.capacity ?? 100_000,
    queueMaxBytes: o.maxBytes ?? 1 << 30,
    maxRetry: 3,
    retryDelayMs: 10,
    concurrency: o.concurrency ?? 2,
    spill: o.spill,
  });
  return { s, metrics };
}

describe('sender queue bounds', () => {
  it('reports overloaded once another offer as large as the last would be refused (inputs can answer 503 before decoding)', async () => {
    const sink = new HeldSink();
    const { s } = sender(sink, { capacity: 100 });
    expect(s.offer('logging', log(30, 10))).toBe(30);
    expect(s.offer('logging', log(30, 10))).toBe(30);
    expect(s.overloaded('logging')).toBe(false); // 60 queued: a third call of 30 still fits
    expect(s.offer('logging', log(30, 10))).toBe(30);
    expect(s.queued('logging')).toBe(90);
    expect(s.overloaded('logging')).toBe(true); // below capacity, but a call of 30 would be refused
    expect(s.offer('logging', log(30, 10))).toBe(0);
    expect(s.offer('logging', log(5, 10))).toBe(5); // smaller calls still fit, and set the new yardstick
    expect(s.overloaded('logging')).toBe(false);
    expect(s.overloaded('metric')).toBe(false);
    const t = setInterval(() => sink.release(), 5); // the batches beyond `concurrency` are sent (held) after the first release
    await s.close(1000);
    clearInterval(t);
  });

  it('bounds a category by estimated bytes, not only by points', async () => {
    const sink = new HeldSink();
    const { s, metrics } = sender(sink, { maxBytes: 100_000 });
    let accepted = 0;
    for (let i = 0; i < 50; i++) accepted += s.offer('logging', log(10, 5000));
    // 10 points of ~5 KB each per call: about two calls fit in 100 kB
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(40);
    expect(s.queuedBytes('logging')).toBeLessThanOrEqual(100_000 + approxBytes(log(10, 5000)));
    expect(s.offer('logging', log(10, 5000))).toBe(0);
    expect(s.offer('metric', log(10, 5000).map((p) => ({ ...p, category: 'metric' as const })))).toBe(10);
    const dropped = (await metrics.dropped.get()).values.find((v) => v.labels.reason === 'queue_full');
    expect(dropped?.value).toBe(510 - accepted);
    sink.release();
    await s.close(1000);
    expect(s.queuedBytes('logging')).toBe(0);
  });

  it('makes offerWait wait for room and resume once the sink takes batches', async () => {
    const sink = new HeldSink();
    const { s } = sender(sink, { maxBytes: 60_000 });
    await s.offerWait('logging', log(10, 5000));
    let resumed = false;
    const p = s.offerWait('logging', log(10, 5000)).then(() => (resumed = true));
    await new Promise((r) => setImmediate(r));
    expect(resumed).toBe(false);
    s.cutAll();
    await new Promise((r) => setImmediate(r));
    sink.release();
    await p;
    expect(resumed).toBe(true);
    s.cutAll();
    await new Promise((r) => setImmediate(r));
    sink.release();
    await s.close(1000);
  });

  it('acknowledges a call only after every batch holding its points is sent', async () => {
    const sink = new HeldSink();
    const { s } = sender(sink);
    const acks: string[] = [];
    s.offer('metric', log(15, 1).map((p) => ({ ...p, category: 'metric' as const })), () => acks.push('a'));
    s.cutAll();
    expect(sink.held).toHaveLength(2);
    // finish the second batch first: the ack must wait for the first one too
    sink.held[1]!.done({ ok: true });
    await new Promise((r) => setImmediate(r));
    expect(acks).toEqual([]);
    sink.held[0]!.done({ ok: true });
    await new Promise((r) => setImmediate(r));
    expect(acks).toEqual(['a']);
    await s.close(100);
  });
});

describe('disk buffer threshold', () => {
  it('does not spill a burst to a sink that answers quickly, however long its queue', async () => {
    let spilled = 0;
    const spill: SpillHook = { spill: async () => (spilled++, true) };
    const fast: Sink = { name: 'fast', accepts: () => true, send: () => new Promise((r) => setImmediate(() => r({ ok: true }))), close: async () => {} };
    const { s, metrics } = sender(fast, { spill });
    for (let i = 0; i < 100; i++) s.offer('logging', log(10, 100));
    expect(await s.flush(5000)).toBe(true);
    expect(spilled).toBe(0);
    const sent = (await metrics.sinkPoints.get()).values.find((v) => v.labels.result === 'sent');
    expect(sent?.value).toBe(1000);
    await s.close(100);
  });

  it('spills what waits behind a failing sink once its queue passes the threshold', async () => {
    let spilled = 0;
    const spill: SpillHook = { spill: async () => (spilled++, true) };
    const down: Sink = { name: 'down', accepts: () => true, send: async () => ({ ok: false, retryable: true, reason: '503' }), close: async () => {} };
    const { s } = sender(down, { spill });
    s.offer('logging', log(10, 100));
    s.cutAll();
    await new Promise((r) => setTimeout(r, 20)); // the first attempt fails: the sink is now failing
    for (let i = 0; i < 10; i++) s.offer('logging', log(10, 100));
    expect(spilled).toBeGreaterThanOrEqual(7); // 10 batches beyond `concurrency` (2) waiting ones
    await s.close(50);
  });
});

describe('pre-encoded lines (every sink of the category accepts lines)', () => {
  class LineSink extends HeldSink {
    records(): RecordFormat {
      return 'lp';
    }
  }

  it('queues lines instead of points, in order, with the times filled in at push', async () => {
    const sink = new LineSink();
    const { s } = sender(sink);
    const pts = log(12, 5);
    pts[3]!.fields = {}; // no field: never encoded, as encodeV1 would skip it
    pts[0]!.time = 7n;
    expect(s.offer('logging', pts)).toBe(12);
    expect(s.queued('logging')).toBe(11);
    s.cutAll();
    const batches = sink.held.map((h) => h.batch);
    expect(batches.map((b) => b.points.length)).toEqual([0, 0]);
    const text = batches.map((b) => b.lines!.data.toString('utf8', 0, b.lines!.ends.at(-1))).join('');
    const lines = text.split('\n').slice(0, -1);
    expect(lines).toHaveLength(11);
    expect(lines[0]).toBe('app,i=0 message="xxxxx" 7');
    expect(lines[3]).toMatch(/^app,i=4 message="xxxxx" \d+$/);
    sink.release();
    expect(await s.flush(1000)).toBe(true);
    await s.close(100);
  });

  it('acknowledges a call none of whose points could be encoded', async () => {
    const { s } = sender(new LineSink());
    let acked = false;
    s.offer('logging', [{ category: 'logging', name: '', tags: {}, fields: { a: 1 } }], () => (acked = true));
    expect(acked).toBe(true);
    await s.close(100);
  });

  it('hands the disk buffer points decoded from the lines (it stores protobuf points)', async () => {
    const spilled: Batch[] = [];
    const spill: SpillHook = { spill: async (_s, b) => (spilled.push(b), true) };
    const down: Sink = { name: 'down', accepts: () => true, records: () => 'lp' as const, send: async () => ({ ok: false, retryable: true, reason: '503' }), close: async () => {} };
    const { s } = sender(down, { spill });
    const p: Point = { category: 'logging', name: 'app', tags: { t: 'a b' }, fields: { f: 1.5, i: 3n, s: 'q"\\x', b: true }, time: 42n };
    s.offer('logging', [p]);
    await s.close(200);
    expect(spilled.length).toBeGreaterThan(0);
    expect(spilled[0]!.lines).toBeUndefined();
    expect(spilled[0]!.points).toEqual([p]);
  });

  it('with sinks that take protobuf records (v2 bodies): queues PBPoints records, cut at the byte limit, decoded for the disk buffer', async () => {
    class PbSink extends HeldSink {
      records(): RecordFormat {
        return 'pb';
      }
    }
    const sink = new PbSink();
    const { s } = sender(sink, { batchBytes: 120 });
    expect(s.recordFormat('logging')).toBe('pb');
    expect(s.takesLines('logging')).toBe(false);
    const points: Point[] = Array.from({ length: 7 }, (_, i) => ({ category: 'logging', name: 'app', tags: { i: String(i) }, fields: { message: 'x'.repeat(20), n: BigInt(i) }, time: BigInt(i + 1) }));
    expect(s.offer('logging', points)).toBe(7);
    s.cutAll();
    const got: Batch[] = [];
    while (got.reduce((n, b) => n + b.lines!.ends.length, 0) < 7) {
      await new Promise((r) => setImmediate(r));
      for (const h of sink.held) got.push(h.batch);
      sink.release();
    }
    expect(got.every((b) => b.format === 'pb' && b.points.length === 0)).toBe(true);
    for (const b of got) if (b.lines!.ends.length > 1) expect(b.lines!.ends.at(-1)).toBeLessThanOrEqual(120);
    expect(got.length).toBeGreaterThan(1);
    // the records of all batches, back to back, are the PBPoints body of the points
    const body = Buffer.concat(got.map((b) => b.lines!.data.subarray(0, b.lines!.ends.at(-1))));
    expect(body).toEqual(Buffer.from(encodePBPoints(points, 0n)));
    await s.close(100);
    // a batch that cannot be delivered goes to the disk buffer as points, decoded from its records
    const spilled: Batch[] = [];
    const down = Object.assign(new PbSink(), { send: async () => ({ ok: false as const, retryable: true as const, reason: '503' }) });
    const { s: s2 } = sender(down, { spill: { spill: async (_s, b) => (spilled.push(b), true) } });
    const p: Point = { category: 'logging', name: 'app', tags: { t: 'a b' }, fields: { f: 1.5, i: 3n, s: 'q"\\x', b: true }, time: 42n };
    s2.offer('logging', [p]);
    await s2.close(200);
    expect(spilled[0]!.lines).toBeUndefined();
    expect(spilled[0]!.points).toEqual([p]);
  });

  it('queues lines encoded elsewhere (offerLines), cut at maxCacheCount, acknowledged once sent', async () => {
    const sink = new LineSink();
    const { s } = sender(sink);
    const text = Array.from({ length: 25 }, (_, i) => `app,i=${i} v=${i} ${i + 1}\n`).join('');
    const data = Buffer.from(text);
    const ends: number[] = [];
    for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, i + 1)) ends.push(i + 1);
    let acked = false;
    expect(s.offerLines('logging', data, ends, () => (acked = true))).toBe(25);
    s.cutAll();
    expect(acked).toBe(false);
    const got: EncodedLines[] = [];
    while (got.length < 3) {
      await new Promise((r) => setImmediate(r));
      for (const h of sink.held) got.push(h.batch.lines!);
      sink.release();
    }
    expect(got.map((l) => l.ends.length)).toEqual([10, 10, 5]);
    expect(got.map((l) => l.data.toString('utf8', 0, l.ends.at(-1))).join('')).toBe(text);
    expect(await s.flush(1000)).toBe(true);
    expect(acked).toBe(true);
    await s.close(100);
  });

  it('reuses the buffers of sent batches for new ones while batches grow a little each time', async () => {
    const sink = new LineSink();
    const { s } = sender(sink);
    const buffers = new Set<ArrayBufferLike>();
    // batches of 10 lines (maxCacheCount), each batch's lines a few percent longer than the last's
    for (let k = 0; k < 12; k++) {
      const text = Array.from({ length: 10 }, (_, i) => `app,i=${i} v="${'x'.repeat(10_000 + k * 400)}" ${i + 1}\n`).join('');
      const data = Buffer.from(text);
      const ends: number[] = [];
      for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, i + 1)) ends.push(i + 1);
      expect(s.offerLines('logging', data, ends)).toBe(10);
      while (sink.held.length === 0) await new Promise((r) => setImmediate(r));
      for (const h of sink.held) buffers.add(h.batch.lines!.data.buffer);
      sink.release();
      expect(await s.flush(1000)).toBe(true);
    }
    // the first batch's (grown from the default size), the second's (made before the first was sent), and one
    // grown when the batches passed the spares' size; a fresh one for each of the 12 when spares had to hold 1.25 × the last batch
    expect(buffers.size).toBeLessThanOrEqual(4);
    await s.close(100);
  });

  it('cuts batches of lines before they pass maxBatchBytes (one body each), by offerLines and by offer', async () => {
    const sink = new LineSink();
    const { s } = sender(sink, { batchBytes: 100 });
    // lines of 25 bytes (line 7 is 136 bytes, over the limit alone)
    const lines = Array.from({ length: 12 }, (_, i) => `app,i=${String(i).padStart(2, '0')} v="${i === 7 ? 'x'.repeat(120) : 'y'.repeat(9)}" 1\n`);
    expect(lines[0]!.length).toBe(25);
    const data = Buffer.from(lines.join(''));
    const ends: number[] = [];
    for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, i + 1)) ends.push(i + 1);
    expect(s.offerLines('logging', data, ends)).toBe(12);
    // points written into the lines batch follow the same rule
    expect(s.offer('logging', Array.from({ length: 6 }, (_, i) => ({ category: 'logging' as const, name: 'app', tags: { i: String(i) }, fields: { v: 'y'.repeat(7) }, time: 1n })))).toBe(6);
    s.cutAll();
    const got: EncodedLines[] = [];
    while (got.length < 6) {
      await new Promise((r) => setImmediate(r));
      for (const h of sink.held) got.push(h.batch.lines!);
      sink.release();
    }
    const sizes = got.map((l) => l.ends.at(-1)!);
    expect(got.map((l) => l.ends.length)).toEqual([4, 3, 1, 4, 4, 2]);
    for (const [k, n] of sizes.entries()) if (got[k]!.ends.length > 1) expect(n).toBeLessThanOrEqual(100);
    expect(got.map((l) => l.data.toString('utf8', 0, l.ends.at(-1))).join('').startsWith(lines.join(''))).toBe(true);
    await s.close(100);
  });

  it('reuses its batch buffers when batches grow by a few bytes (a spare just short of the next batch was passed over for a new one)', async () => {
    const sink = new LineSink();
    const { s } = sender(sink);
    const buffers = new Set<Buffer>();
    for (let k = 0; k < 20; k++) {
      // 10 lines (maxCacheCount) of ~6 KB, a byte longer each time: the next batch is sized 1.25 × this one
      const data = Buffer.from(Array.from({ length: 10 }, (_, i) => `app,i=${i} v="${'x'.repeat(6000 + k)}" 1\n`).join(''));
      const ends: number[] = [];
      for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, i + 1)) ends.push(i + 1);
      expect(s.offerLines('logging', data, ends)).toBe(10);
      await new Promise((r) => setImmediate(r));
      for (const h of sink.held) buffers.add(h.batch.lines!.data);
      sink.release();
      await new Promise((r) => setImmediate(r));
    }
    expect(await s.flush(1000)).toBe(true);
    expect(buffers.size).toBeLessThanOrEqual(3);
    await s.close(100);
  });

  it('frees spare batch buffers not reused within spareIdleMs, and keeps those in use', async () => {
    const sink = new LineSink();
    const { s } = sender(sink, { concurrency: 4, flushMs: 10, spareIdleMs: 300 });
    const data = Buffer.from(Array.from({ length: 10 }, (_, i) => `app,i=${i} v="${'x'.repeat(1000)}" 1\n`).join(''));
    const ends: number[] = [];
    for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, i + 1)) ends.push(i + 1);
    const send = async (batches: number) => {
      for (let k = 0; k < batches; k++) expect(s.offerLines('logging', data, ends)).toBe(10);
      for (let sent = 0; sent < batches; ) {
        await new Promise((r) => setImmediate(r));
        sent += sink.held.length;
        sink.release();
      }
      expect(await s.flush(1000)).toBe(true);
    };
    // a burst: 8 batches at once leave 8 spares
    await send(8);
    expect(s.spareBuffers).toBe(8);
    // one batch every 30 ms keeps reusing (and giving back) one spare; the other 7 age out
    const until = performance.now() + 800;
    while (performance.now() < until) {
      await send(1);
      await new Promise((r) => setTimeout(r, 30));
    }
    expect(s.spareBuffers).toBe(1);
    // nothing sent: the last one goes too
    await waitFor(() => s.spareBuffers === 0, { timeoutMs: 2000, what: "the last spare freed" });
    await s.close(100);
  });

  it('keeps the buffers of two rounds of concurrent sends for reuse, so a deeper queue for a moment is not allocated again', async () => {
    const sink = new LineSink();
    const { s } = sender(sink, { concurrency: 4 });
    const data = Buffer.from(Array.from({ length: 10 }, (_, i) => `app,i=${i} v="${'x'.repeat(1000)}" 1\n`).join(''));
    const ends: number[] = [];
    for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, i + 1)) ends.push(i + 1);
    const buffers = new Set<Buffer>();
    for (let round = 0; round < 2; round++) {
      // 8 batches at once: 4 being sent, 4 waiting behind them
      for (let k = 0; k < 8; k++) expect(s.offerLines('logging', data, ends)).toBe(10);
      for (let sent = 0; sent < 8; ) {
        await new Promise((r) => setImmediate(r));
        for (const h of sink.held) buffers.add(h.batch.lines!.data);
        sent += sink.held.length;
        sink.release();
      }
      expect(await s.flush(1000)).toBe(true);
    }
    // 8 for the first round's batches and 1 for the batch pending after them; the second round reuses them (13 with 4 spares)
    expect(buffers.size).toBeLessThanOrEqual(9);
    await s.close(100);
  });

  it('decodes offered lines back to points for a category whose sinks need points', async () => {
    const sink = new HeldSink();
    const { s } = sender(sink);
    const data = Buffer.from('app,t=a f="x" 5\napp,t=b f="y" 6\n');
    expect(s.offerLines('tracing', data, [16, 32])).toBe(2);
    s.cutAll();
    expect(sink.held[0]!.batch.points).toEqual([
      { category: 'tracing', name: 'app', tags: { t: 'a' }, fields: { f: 'x' }, time: 5n },
      { category: 'tracing', name: 'app', tags: { t: 'b' }, fields: { f: 'y' }, time: 6n },
    ]);
    sink.release();
    await s.close(100);
  });

  it('refuses offered lines all or none when the category is full', async () => {
    const sink = new LineSink();
    const { s, metrics } = sender(sink, { capacity: 3 });
    const data = Buffer.from('a v=1 1\na v=2 2\n');
    expect(s.offerLines('logging', data, [8, 16])).toBe(2);
    expect(s.offerLines('logging', data, [8, 16])).toBe(0);
    expect(s.queued('logging')).toBe(2);
    expect((await metrics.registry.getSingleMetric('telekit_points_dropped_total')!.get()).values.find((v) => v.labels.reason === 'queue_full')?.value).toBe(2);
    s.cutAll();
    await new Promise((r) => setImmediate(r));
    sink.release();
    await s.close(100);
  });

  it('keeps points when a sink of the category does not accept lines (OTLP)', async () => {
    const sink = new HeldSink();
    const { s } = sender(sink);
    s.offer('logging', log(3, 5));
    s.cutAll();
    expect(sink.held[0]!.batch.lines).toBeUndefined();
    expect(sink.held[0]!.batch.points).toHaveLength(3);
    sink.release();
    await s.close(100);
  });
});
