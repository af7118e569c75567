import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { UInt, type Category, type Point } from '../../model/point.js';
import type { Batch, SendResult, Sink, Upload } from '../sinks/types.js';
import { DiskBuffer, bufferSettingsFromEnv, decodeRecord, decodeUploadRecord, encodeRecord, encodeUploadRecord } from './disk-buffer.js';

const log = pino({ level: 'silent' });
let dir: string;
beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'telekit-db-'));
});
afterEach(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

/** A sink that fails while `down` and records what it took. */
class FakeSink implements Sink {
  readonly name = 'dataway[0]';
  down = true;
  permanent = false;
  readonly got: Point[] = [];
  attempts = 0;
  accepts(): boolean {
    return true;
  }
  async send(batch: Batch): Promise<SendResult> {
    this.attempts++;
    if (this.permanent) return { ok: false, retryable: false, reason: 'HTTP 400' };
    if (this.down) return { ok: false, retryable: true, reason: 'down' };
    this.got.push(...batch.points);
    return { ok: true };
  }
  async close(): Promise<void> {}
}

const batch = (from: number, n: number, category: Category = 'metric'): Batch => ({
  category,
  defaultTime: 1_000n,
  points: Array.from({ length: n }, (_, i) => ({ category, name: 'm', tags: { i: String(from + i) }, fields: { v: from + i + 0.5, n: BigInt(from + i), u: new UInt(7n), s: 'x', b: true } })),
});

async function waitFor(fn: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error('timeout');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const settings = (env: Record<string, string> = {}) => bufferSettingsFromEnv({ ENV_DATAWAY_WAL_PATH: dir, ...env }, '/nowhere');

describe('DiskBuffer', () => {
  it('round-trips a batch through a record with every field type', () => {
    const b = batch(0, 3, 'logging');
    const { meta, batch: back } = decodeRecord(encodeRecord('dataway[0]', b));
    expect(meta).toMatchObject({ sink: 'dataway[0]', category: 'logging', points: 3 });
    expect(back.points).toEqual(b.points.map((p) => ({ ...p, time: 1_000n })));
  });

  it('replays spilled batches in order once the sink answers, and keeps them across a restart', async () => {
    const sink = new FakeSink();
    let buf = new DiskBuffer({ settings: settings(), metrics: new Registry(), log, minRetryMs: 5, maxRetryMs: 20 });
    await buf.start([sink]);
    for (let i = 0; i < 10; i++) expect(await buf.spill(sink, batch(i * 10, 10))).toBe(true);
    await buf.close();
    expect(sink.got.length).toBe(0);

    buf = new DiskBuffer({ settings: settings(), metrics: new Registry(), log, minRetryMs: 5, maxRetryMs: 20 });
    await buf.start([sink]);
    sink.down = false;
    await waitFor(() => sink.got.length === 100);
    expect(sink.got.map((p) => Number(p.tags.i))).toEqual(Array.from({ length: 100 }, (_, i) => i));
    let bytes = -1;
    for (let t = 0; t < 500 && bytes !== 0; t++) {
      bytes = await buf.bytes();
      if (bytes !== 0) await new Promise((r) => setTimeout(r, 10));
    }
    expect(bytes).toBe(0);
    // live spills keep replaying while running
    expect(await buf.spill(sink, batch(100, 5))).toBe(true);
    await waitFor(() => sink.got.length === 105);
    await buf.close();
  });

  it('delivered(sink) ends the replay backoff at once', async () => {
    const sink = new FakeSink();
    const buf = new DiskBuffer({ settings: settings(), metrics: new Registry(), log, minRetryMs: 60_000, maxRetryMs: 60_000 });
    expect(await buf.spill(sink, batch(0, 5))).toBe(true);
    await waitFor(() => sink.attempts === 1); // the replay tried once and now waits a minute
    sink.down = false;
    const t0 = Date.now();
    buf.delivered(sink);
    await waitFor(() => sink.got.length === 5, 2000);
    expect(Date.now() - t0).toBeLessThan(2000);
    await buf.close();
  });

  it('drops a permanently rejected record and counts it', async () => {
    const sink = new FakeSink();
    sink.permanent = true;
    const reg = new Registry();
    const buf = new DiskBuffer({ settings: settings(), metrics: reg, log, minRetryMs: 5 });
    expect(await buf.spill(sink, batch(0, 4))).toBe(true);
    const m = async () => (await reg.getSingleMetric('telekit_buffer_replayed_points_total')!.get()).values.find((v) => v.labels.result === 'rejected')?.value ?? 0;
    const end = Date.now() + 5000;
    while ((await m()) < 4 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    expect(await m()).toBe(4);
    await buf.close();
  });

  it('drops records older than maxAgeMs at replay, counted as expired', async () => {
    const sink = new FakeSink();
    const reg = new Registry();
    let buf = new DiskBuffer({ settings: settings(), metrics: reg, log });
    expect(await buf.spill(sink, batch(0, 3))).toBe(true);
    await buf.close();
    buf = new DiskBuffer({ settings: settings(), metrics: reg, log, maxAgeMs: 0, minRetryMs: 5 });
    await new Promise((r) => setTimeout(r, 5));
    sink.down = false;
    await buf.start([sink]);
    const m = async () => (await reg.getSingleMetric('telekit_buffer_replayed_points_total')!.get()).values.find((v) => v.labels.result === 'expired')?.value ?? 0;
    const end = Date.now() + 5000;
    while ((await m()) < 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    expect(await m()).toBe(3);
    expect(sink.got).toEqual([]);
    await buf.close();
  });

  it('refuses spills when full, except no-drop categories which wait', async () => {
    const sink = new FakeSink();
    const buf = new DiskBuffer({ settings: settings({ ENV_DATAWAY_WAL_CAPACITY: '65536B', ENV_DATAWAY_WAL_NO_DROP_CATEGORIES: 'L' }), metrics: new Registry(), log, minRetryMs: 5, maxRetryMs: 10 });
    let refused = 0;
    for (let i = 0; i < 200 && refused === 0; i++) if (!(await buf.spill(sink, batch(i * 20, 20)))) refused++;
    expect(refused).toBe(1);
    // logging blocks instead
    let n = 0;
    let blocked: Promise<boolean | 'disk_full'> | undefined;
    for (; n < 200; n++) {
      const p = buf.spill(sink, batch(n * 20, 20, 'logging'));
      const r = await Promise.race([p, new Promise<'pending'>((res) => setTimeout(() => res('pending'), 50))]);
      if (r === 'pending') {
        blocked = p;
        break;
      }
      expect(r).toBe(true);
    }
    expect(blocked).toBeDefined();
    sink.down = false; // replay frees space, the blocked spill completes
    expect(await blocked).toBe(true);
    await buf.close();
  });

  it('parses the WAL settings like DataKit', () => {
    expect(bufferSettingsFromEnv({}, '/data')).toMatchObject({ path: '/data/buffer', capacityBytes: 2 * 2 ** 30 });
    expect(bufferSettingsFromEnv({ ENV_DATAWAY_WAL_CAPACITY: '0.5' }, '/d').capacityBytes).toBe(2 ** 29);
    expect(bufferSettingsFromEnv({ ENV_DATAWAY_WAL_CAPACITY: '512MB' }, '/d').capacityBytes).toBe(512 * 2 ** 20);
    expect(bufferSettingsFromEnv({ ENV_DATAWAY_WAL_CAPACITY: '1073741824' }, '/d').capacityBytes).toBe(2 ** 30);
    expect([...bufferSettingsFromEnv({ ENV_DATAWAY_WAL_NO_DROP_CATEGORIES: 'L,T, metric,CO' }, '/d').noDrop].sort()).toEqual(['custom_object', 'logging', 'metric', 'tracing']);
    expect(() => bufferSettingsFromEnv({ ENV_DATAWAY_WAL_NO_DROP_CATEGORIES: 'X' }, '/d')).toThrow(/unknown category/);
    expect(() => bufferSettingsFromEnv({ ENV_DATAWAY_WAL_CAPACITY: 'big' }, '/d')).toThrow(/WAL_CAPACITY/);
  });
});

describe('DiskBuffer: raw uploads (session replay)', () => {
  const up = (n: number): Upload => ({ kind: 'rum_replay', path: '/v1/write/rum/replay', headers: { 'content-type': 'multipart/form-data; boundary=b' }, body: Buffer.from(`segment ${n} \u0000\u00ff`, 'latin1'), tags: { app_id: 'a', n: String(n) }, globalTags: { host: 'h' } });

  class UploadSink extends FakeSink {
    readonly uploads: Upload[] = [];
    async upload(u: Upload): Promise<SendResult> {
      this.attempts++;
      if (this.down) return { ok: false, retryable: true, reason: 'down' };
      this.uploads.push(u);
      return { ok: true };
    }
  }

  it('round-trips an upload through a record: path, headers, tags and the body byte for byte', () => {
    const u = up(1);
    const { meta, upload } = decodeUploadRecord(encodeUploadRecord('dataway[0]', u));
    expect(meta).toMatchObject({ sink: 'dataway[0]', kind: 'rum_replay' });
    expect(upload).toEqual(u);
    expect(() => decodeUploadRecord(encodeRecord('dataway[0]', batch(0, 1)))).toThrow();
  });

  it('keeps uploads a sink could not take on disk, in order, and replays them through sink.upload when it answers; a restart replays what is left', async () => {
    const sink = new UploadSink();
    const b1 = new DiskBuffer({ settings: settings(), metrics: new Registry(), log, minRetryMs: 5, maxRetryMs: 20, sync: false });
    await b1.start([sink]);
    expect(await b1.spillUpload(sink, up(1))).toBe(true);
    expect(await b1.spillUpload(sink, up(2))).toBe(true);
    await waitFor(() => sink.attempts >= 2); // the replay tries, the sink is down
    await b1.close();
    expect(await fsp.readdir(path.join(dir, 'dataway_0_'))).toEqual(['uploads']);

    const sink2 = new UploadSink();
    sink2.down = false;
    const registry = new Registry();
    const b2 = new DiskBuffer({ settings: settings(), metrics: registry, log, minRetryMs: 5, maxRetryMs: 20, sync: false });
    await b2.start([sink2]);
    await waitFor(() => sink2.uploads.length === 2);
    expect(sink2.uploads).toEqual([up(1), up(2)]);
    expect(sink2.got).toEqual([]); // not sent as points
    const m = await registry.getSingleMetric('telekit_buffer_replayed_points_total')!.get();
    expect(m.values.find((v) => v.labels.queue === 'dataway[0]/uploads' && v.labels.result === 'sent')?.value).toBe(2);
    await b2.close();
  });

  it('refuses uploads for a sink without upload()', async () => {
    const sink = new FakeSink();
    const b = new DiskBuffer({ settings: settings(), metrics: new Registry(), log, sync: false });
    expect(await b.spillUpload(sink, up(1))).toBe(false);
    await b.close();
  });
});
