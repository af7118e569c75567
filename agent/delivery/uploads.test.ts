import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { SendResult, Sink, Upload } from './sinks/types.js';
import { UploadForwarder } from './uploads.js';

function upload(n: number, bytes = 10): Upload {
  return { kind: 'rum_replay', path: '/v1/write/rum/replay', headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: Buffer.alloc(bytes, n), tags: { n: String(n) }, globalTags: {} };
}

/** A sink that answers from a script of results (then ok) and records what it got. */
function sink(name: string, script: SendResult[] = [], gate?: Promise<void>): Sink & { got: Upload[] } {
  const got: Upload[] = [];
  return {
    name,
    got,
    accepts: () => true,
    async send() {
      return { ok: true };
    },
    async upload(u) {
      if (gate) await gate;
      got.push(u);
      return script.shift() ?? { ok: true };
    },
    async close() {},
  };
}

async function counts(registry: Registry): Promise<Record<string, number>> {
  const m = await registry.getSingleMetric('telekit_uploads_total')!.get();
  return Object.fromEntries(m.values.map((v) => [`${v.labels.sink}/${v.labels.result}`, v.value]));
}

const opts = (sinks: Sink[], registry: Registry, extra = {}) => ({ sinks, registry, log: pino({ level: 'silent' }), maxRetry: 3, retryDelayMs: 1, ...extra });

describe('UploadForwarder', () => {
  it('delivers every upload to every sink that takes uploads, retrying retryable failures', async () => {
    const registry = new Registry();
    const a = sink('dataway[0]', [{ ok: false, retryable: true, reason: 'HTTP 503' }]);
    const b = sink('file');
    const noUploads: Sink = { name: 'otlp', accepts: () => true, send: async () => ({ ok: true }), close: async () => {} };
    const f = new UploadForwarder(opts([a, b, noUploads], registry));
    expect(f.add(upload(1))).toBe(true);
    expect(f.add(upload(2))).toBe(true);
    await f.close(5000);
    expect(a.got).toHaveLength(3); // upload 1 twice (a 503, then ok), upload 2 once
    expect(new Set(a.got.map((u) => u.tags.n))).toEqual(new Set(['1', '2']));
    expect(b.got.map((u) => u.tags.n).sort()).toEqual(['1', '2']);
    expect(await counts(registry)).toMatchObject({ 'dataway[0]/sent': 2, 'dataway[0]/retried': 1, 'file/sent': 2 });
  });

  it('drops and counts permanent failures and uploads still failing after the last retry', async () => {
    const registry = new Registry();
    const a = sink('dataway[0]', [{ ok: false, retryable: false, reason: 'HTTP 400' }, { ok: false, retryable: true, reason: 'x' }, { ok: false, retryable: true, reason: 'x' }, { ok: false, retryable: true, reason: 'x' }]);
    const f = new UploadForwarder(opts([a], registry, { concurrency: 1 }));
    f.add(upload(1));
    f.add(upload(2));
    await f.close(5000);
    expect(await counts(registry)).toMatchObject({ 'dataway[0]/dropped': 2, 'dataway[0]/retried': 2 });
  });

  it('refuses uploads past its count or byte bound and while closing, and counts them', async () => {
    const registry = new Registry();
    let open!: () => void;
    const a = sink('dataway[0]', [], new Promise<void>((r) => (open = r)));
    const f = new UploadForwarder(opts([a], registry, { concurrency: 1, maxCount: 2, maxBytes: 100 }));
    expect(f.add(upload(1, 60))).toBe(true); // in flight
    expect(f.add(upload(2, 30))).toBe(true); // queued (90 bytes held)
    expect(f.add(upload(3, 30))).toBe(false); // over 100 bytes
    expect(f.add(upload(4, 1))).toBe(true);
    expect(f.add(upload(5, 1))).toBe(false); // 2 queued
    const closing = f.close(5000);
    expect(f.add(upload(6, 1))).toBe(false);
    open();
    await closing;
    expect(a.got.map((u) => u.tags.n)).toEqual(['1', '2', '4']);
    expect(await counts(registry)).toMatchObject({ 'queue/queue_full': 3, 'dataway[0]/sent': 3 });
  });

  it('abandons what is left at the close deadline (counted)', async () => {
    const registry = new Registry();
    const a = sink('dataway[0]', [], new Promise<void>(() => undefined)); // never answers
    const f = new UploadForwarder(opts([a], registry, { concurrency: 1 }));
    f.add(upload(1));
    f.add(upload(2));
    await f.close(50);
    expect(await counts(registry)).toMatchObject({ 'queue/dropped': 1 });
  });

  describe('with a disk buffer (spill)', () => {
    /** A spill that records what it took (false: full). */
    function spill(accept = true) {
      const got: { sink: string; n: string }[] = [];
      return { got, spillUpload: async (s: Sink, u: Upload) => (got.push({ sink: s.name, n: u.tags.n! }), accept) };
    }
    const down = (n: number): SendResult[] => Array.from({ length: n }, () => ({ ok: false, retryable: true, reason: 'HTTP 503' }));

    it('spills an upload still failing after the last retry instead of dropping it; a failing sink gets one attempt per new upload', async () => {
      const registry = new Registry();
      const a = sink('dataway[0]', down(4));
      const sp = spill();
      const f = new UploadForwarder(opts([a], registry, { concurrency: 1, spill: sp }));
      f.add(upload(1));
      f.add(upload(2));
      await f.close(5000);
      expect(a.got.map((u) => u.tags.n)).toEqual(['1', '1', '1', '2']); // 3 tries, then 1 while failing
      expect(sp.got).toEqual([{ sink: 'dataway[0]', n: '1' }, { sink: 'dataway[0]', n: '2' }]);
      expect(await counts(registry)).toMatchObject({ 'dataway[0]/spilled': 2, 'dataway[0]/retried': 2 });
      expect((await counts(registry))['dataway[0]/dropped']).toBeUndefined();
    });

    it('a success clears the failing state: the next upload gets its retries again', async () => {
      const registry = new Registry();
      const a = sink('dataway[0]', [...down(3), { ok: true }, ...down(1), { ok: true }]);
      const f = new UploadForwarder(opts([a], registry, { concurrency: 1, spill: spill() }));
      for (const n of [1, 2, 3]) f.add(upload(n));
      await f.close(5000);
      // 1: three failures, spilled; 2: one attempt (failing), ok; 3: a failure, retried, ok
      expect(a.got.map((u) => u.tags.n)).toEqual(['1', '1', '1', '2', '3', '3']);
      expect(await counts(registry)).toMatchObject({ 'dataway[0]/spilled': 1, 'dataway[0]/sent': 2 });
    });

    it('never spills permanent failures; drops (counted) when the buffer refuses', async () => {
      const registry = new Registry();
      const a = sink('dataway[0]', [{ ok: false, retryable: false, reason: 'HTTP 400' }, ...down(3)]);
      const sp = spill(false);
      const f = new UploadForwarder(opts([a], registry, { concurrency: 1, spill: sp }));
      f.add(upload(1));
      f.add(upload(2));
      await f.close(5000);
      expect(sp.got.map((x) => x.n)).toEqual(['2']);
      expect(await counts(registry)).toMatchObject({ 'dataway[0]/dropped': 2 });
    });

    it('at the close deadline, spills what is still queued and what was in flight', async () => {
      const registry = new Registry();
      const a: Sink & { got: Upload[] } = {
        ...sink('dataway[0]'),
        // never answers until aborted, then fails retryably (as the dataway sink does)
        upload: (u, signal) => new Promise<SendResult>((r) => signal!.addEventListener('abort', () => r({ ok: false, retryable: true, reason: 'aborted' }), { once: true })),
      };
      const sp = spill();
      const f = new UploadForwarder(opts([a], registry, { concurrency: 1, spill: sp }));
      f.add(upload(1));
      f.add(upload(2));
      await f.close(50);
      expect(sp.got.map((x) => x.n).sort()).toEqual(['1', '2']);
      expect(await counts(registry)).toMatchObject({ 'dataway[0]/spilled': 2 });
    });
  });
});
