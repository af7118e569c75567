/**
 * The disk buffer behind the sender: batches a sink could not deliver are
 * spilled here and replayed, in order, when the sink answers again, while live
 * data keeps flowing through the sender.
 *
 * One {@link DiskQueue} per sink and category, in `<path>/<sink>/<category>/`
 * (DataKit keeps one WAL per category). Each record holds one batch:
 * `u8 version(1) | u32le metaLength | meta JSON {sink, category, encoding:"pb", points, at} | PBPoints body`
 * (`at`: spill time, ms since the epoch).
 * Point times are fixed at spill time (the batch's default time fills the gaps).
 *
 * Replay: one loop per queue takes the oldest record and sends it through the
 * sink (`sink.send`, bypassing the sender, so a replayed batch is never spilled
 * twice). A retryable failure waits with exponential backoff and jitter (1 s to
 * 30 s; the replay loop is also the sink's health probe); a permanent one drops
 * the record (counted), except a 400 that names how many records it took: then,
 * as on the live path, the refused records are isolated by splitting the batch
 * (isolate.ts) and only they are dropped. What is on disk at start-up is replayed too.
 *
 * Records older than 12 h (`maxAgeMs`) are dropped at replay, counted (DataKit does the same).
 *
 * Raw uploads (session replay) a sink could not deliver go to one more queue
 * per sink, `<path>/<sink>/uploads/` (record `u8 2 | u32le metaLength | meta
 * JSON {sink, kind, path, headers, tags, globalTags, at} | body`), replayed
 * through `sink.upload` the same way (agent/delivery/uploads.ts spills them).
 *
 * Capacity per queue: `ENV_DATAWAY_WAL_CAPACITY` (default 2 GiB). When full,
 * the newest batch is refused (counted as dropped by the sender), except for
 * the categories in `ENV_DATAWAY_WAL_NO_DROP_CATEGORIES`, whose spill waits
 * for space (back-pressure up to the inputs) — DataKit's semantics.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { CATEGORIES, isCategory, type Category, type Point } from '../../model/point.js';
import { decodePBPoints, encodePBPoints } from '../../model/pbpoint.js';
import type { Batch, SendResult, Sink, Upload } from '../sinks/types.js';
import type { EnvDoc } from '../../config/env.js';
import { RateLimitedLog } from '../../telemetry/log.js';
import { DiskQueue, DiskQueueClosedError } from './disk-queue.js';
import { isolateRefused } from '../isolate.js';
import { parseBytes } from './util.js';

export const BUFFER_ENV: readonly EnvDoc[] = [
  { name: 'ENV_DATAWAY_WAL_CAPACITY', default: '2', doc: 'Disk buffer cap per sink and category: a bare number is GiB as in DataKit (`2`, `0.5`), or a size such as `512MB`, `2GiB`, `1073741824B`.' },
  { name: 'ENV_DATAWAY_WAL_PATH', default: '<data dir>/buffer', doc: 'Folder of the disk buffer (mount a host path there to keep it across pod restarts).' },
  {
    name: 'ENV_DATAWAY_WAL_NO_DROP_CATEGORIES',
    default: '',
    doc: 'Categories that never drop when the disk buffer is full (sending waits instead): names or DataKit letters, e.g. `L,T,N` or `logging,tracing`.',
  },
];

const ALIASES: Record<string, Category> = {
  M: 'metric',
  N: 'network',
  E: 'keyevent',
  O: 'object',
  CO: 'custom_object',
  L: 'logging',
  T: 'tracing',
  R: 'rum',
  S: 'security',
  P: 'profiling',
};

export interface BufferSettings {
  path: string;
  capacityBytes: number;
  noDrop: ReadonlySet<Category>;
}

/** Reads the ENV_DATAWAY_WAL_* settings; throws on a malformed value. */
export function bufferSettingsFromEnv(env: Record<string, string | undefined>, dataDir: string): BufferSettings {
  const capText = env.ENV_DATAWAY_WAL_CAPACITY?.trim() || '2';
  let capacityBytes: number | undefined;
  if (/^\d+(\.\d+)?$/.test(capText)) {
    const n = Number(capText);
    capacityBytes = n > 1 << 20 ? Math.floor(n) : Math.floor(n * 2 ** 30);
  } else capacityBytes = parseBytes(capText);
  if (capacityBytes === undefined || capacityBytes < 1 << 16) throw new Error(`ENV_DATAWAY_WAL_CAPACITY: expected a size of at least 64KiB such as "2GB" or "2" (GiB), got ${JSON.stringify(capText)}`);
  const noDrop = new Set<Category>();
  for (const raw of (env.ENV_DATAWAY_WAL_NO_DROP_CATEGORIES ?? '').split(/[\s,]+/)) {
    const s = raw.trim();
    if (s === '') continue;
    const c = ALIASES[s.toUpperCase()] ?? (isCategory(s.toLowerCase()) ? (s.toLowerCase() as Category) : undefined);
    if (!c) throw new Error(`ENV_DATAWAY_WAL_NO_DROP_CATEGORIES: unknown category ${JSON.stringify(s)} (use ${CATEGORIES.join(', ')} or ${Object.keys(ALIASES).join(', ')})`);
    noDrop.add(c);
  }
  return { path: env.ENV_DATAWAY_WAL_PATH?.trim() || path.join(dataDir, 'buffer'), capacityBytes, noDrop };
}

interface Meta {
  sink: string;
  category: Category;
  encoding: 'pb';
  points: number;
  /** When the batch was spilled (ms since the epoch). */
  at?: number;
}

/** Encodes a batch as one disk record. */
export function encodeRecord(sinkName: string, batch: Batch): Buffer {
  const body = encodePBPoints(batch.points, batch.defaultTime);
  const meta: Meta = { sink: sinkName, category: batch.category, encoding: 'pb', points: batch.points.length, at: Date.now() };
  const m = Buffer.from(JSON.stringify(meta));
  const head = Buffer.alloc(5);
  head.writeUInt8(1, 0);
  head.writeUInt32LE(m.length, 1);
  return Buffer.concat([head, m, body]);
}

/** Decodes a disk record; throws on anything malformed. */
export function decodeRecord(rec: Buffer): { meta: Meta; batch: Batch } {
  if (rec.length < 5 || rec.readUInt8(0) !== 1) throw new Error('unknown record version');
  const mlen = rec.readUInt32LE(1);
  if (5 + mlen > rec.length) throw new Error('record meta out of bounds');
  const meta = JSON.parse(rec.subarray(5, 5 + mlen).toString('utf8')) as Meta;
  if (!isCategory(meta.category) || meta.encoding !== 'pb') throw new Error('bad record meta');
  const points: Point[] = decodePBPoints(rec.subarray(5 + mlen)).map((d) => ({ category: meta.category, name: d.name, tags: d.tags, fields: d.fields, time: d.time ?? 0n }));
  return { meta, batch: { category: meta.category, points, defaultTime: 0n } };
}

/** The folder (and lane) of a sink's raw uploads, beside its category folders. */
export const UPLOADS_LANE = 'uploads';

interface UploadMeta {
  sink: string;
  kind: string;
  path: string;
  headers: Record<string, string>;
  tags: Record<string, string>;
  globalTags: Record<string, string>;
  at: number;
}

/** Encodes a raw upload (session replay) as one disk record: `u8 2 | u32le metaLength | meta JSON | body as it came`. */
export function encodeUploadRecord(sinkName: string, u: Upload): Buffer {
  const meta: UploadMeta = { sink: sinkName, kind: u.kind, path: u.path, headers: { ...u.headers }, tags: { ...u.tags }, globalTags: { ...u.globalTags }, at: Date.now() };
  const m = Buffer.from(JSON.stringify(meta));
  const head = Buffer.alloc(5);
  head.writeUInt8(2, 0);
  head.writeUInt32LE(m.length, 1);
  return Buffer.concat([head, m, u.body]);
}

/** Decodes an upload record; throws on anything malformed. */
export function decodeUploadRecord(rec: Buffer): { meta: UploadMeta; upload: Upload } {
  if (rec.length < 5 || rec.readUInt8(0) !== 2) throw new Error('not an upload record');
  const mlen = rec.readUInt32LE(1);
  if (5 + mlen > rec.length) throw new Error('record meta out of bounds');
  const meta = JSON.parse(rec.subarray(5, 5 + mlen).toString('utf8')) as UploadMeta;
  if (typeof meta.kind !== 'string' || typeof meta.path !== 'string' || !meta.path.startsWith('/') || typeof meta.headers !== 'object' || meta.headers === null) throw new Error('bad upload record meta');
  return { meta, upload: { kind: meta.kind, path: meta.path, headers: meta.headers, tags: meta.tags ?? {}, globalTags: meta.globalTags ?? {}, body: Buffer.from(rec.subarray(5 + mlen)) } };
}

export interface DiskBufferOptions {
  settings: BufferSettings;
  metrics: Registry;
  log: Logger;
  /** Replay backoff bounds (tests shorten them). */
  minRetryMs?: number;
  maxRetryMs?: number;
  /** fsync each spilled batch (default true). */
  sync?: boolean;
  /** Records older than this are dropped at replay (default 12 h). */
  maxAgeMs?: number;
}

const safeName = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '_');

interface Lane {
  sink: Sink;
  queue: DiskQueue;
  loop: Promise<void>;
  /** Ends the replay's current backoff wait (set while it waits). */
  wake: (() => void) | undefined;
  /** Set by delivered(): the next failure starts the backoff from its minimum. */
  healthy: boolean;
}

export class DiskBuffer {
  private readonly lanes = new Map<string, Promise<Lane>>();
  private readonly closing = new AbortController();
  /** Aborted by release(): blocked spills give up, later ones never wait. */
  private readonly unblock = new AbortController();
  /** Aborted by pauseReplay() and close(): replay loops stop, their sends in flight are aborted. */
  private readonly replayStop = new AbortController();
  private readonly replayed: Counter<'queue' | 'result'>;
  /** A full or failing disk fails every spill: one line a minute per kind, with the count. */
  private readonly rl: RateLimitedLog;

  constructor(private readonly o: DiskBufferOptions) {
    this.rl = new RateLimitedLog(o.log);
    const name = 'telekit_buffer_replayed_points_total';
    this.replayed =
      (o.metrics.getSingleMetric(name) as Counter<'queue' | 'result'> | undefined) ??
      new Counter({ name, help: 'Points read back from the disk buffer, by result (sent, rejected, expired, corrupt; requeued or dropped: parts of a batch refused with 400 that then failed retryably)', labelNames: ['queue', 'result'], registers: [o.metrics] });
  }

  /** Opens the queues already on disk for these sinks and starts replaying them. */
  async start(sinks: readonly Sink[]): Promise<void> {
    for (const sink of sinks) {
      const dir = path.join(this.o.settings.path, safeName(sink.name));
      let names: string[];
      try {
        names = fs.readdirSync(dir);
      } catch {
        continue;
      }
      for (const n of names) {
        if (isCategory(n) && sink.accepts(n)) await this.lane(sink, n);
        else if (n === UPLOADS_LANE && typeof sink.upload === 'function') await this.lane(sink, UPLOADS_LANE);
      }
    }
  }

  /** Unacknowledged bytes over every queue. */
  async bytes(): Promise<number> {
    let n = 0;
    for (const l of this.lanes.values()) n += (await l).queue.bytes;
    return n;
  }

  private lane(sink: Sink, category: Category | typeof UPLOADS_LANE): Promise<Lane> {
    const key = `${sink.name}/${category}`;
    let l = this.lanes.get(key);
    if (!l) {
      l = (async () => {
        const queue = await DiskQueue.open(path.join(this.o.settings.path, safeName(sink.name), category), {
          maxBytes: this.o.settings.capacityBytes,
          onFull: category !== UPLOADS_LANE && this.o.settings.noDrop.has(category) ? 'block' : 'drop-newest',
          name: key,
          metrics: this.o.metrics,
          log: this.o.log,
          sync: this.o.sync,
        });
        const lane: Lane = { sink, queue, loop: Promise.resolve(), wake: undefined, healthy: false };
        lane.loop = this.replay(lane, key);
        return lane;
      })();
      this.lanes.set(key, l);
      l.catch(() => this.lanes.delete(key));
    }
    return l;
  }

  /** The SpillHook: persists a batch `sink` could not deliver. Resolves true once durable; `disk_full` on ENOSPC. */
  async spill(sink: Sink, batch: Batch): Promise<boolean | 'disk_full'> {
    if (this.closing.signal.aborted) return false;
    try {
      const lane = await this.lane(sink, batch.category);
      return await lane.queue.append(encodeRecord(sink.name, batch), this.unblock.signal);
    } catch (e) {
      if (!(e instanceof DiskQueueClosedError) && !this.closing.signal.aborted) {
        this.rl.warn(`write:${sink.name}/${batch.category}`, { sink: sink.name, category: batch.category, err: (e as Error).message }, 'disk buffer write failed; batch dropped');
      }
      return (e as NodeJS.ErrnoException).code === 'ENOSPC' ? 'disk_full' : false;
    }
  }

  /**
   * The UploadSpill hook: persists a raw upload (session replay) `sink` could
   * not deliver, in `<path>/<sink>/uploads/`; replayed through `sink.upload`
   * like batches. Resolves true once durable, false when full, `disk_full` on ENOSPC.
   */
  async spillUpload(sink: Sink, u: Upload): Promise<boolean | 'disk_full'> {
    if (this.closing.signal.aborted || typeof sink.upload !== 'function') return false;
    try {
      const lane = await this.lane(sink, UPLOADS_LANE);
      return await lane.queue.append(encodeUploadRecord(sink.name, u), this.unblock.signal);
    } catch (e) {
      if (!(e instanceof DiskQueueClosedError) && !this.closing.signal.aborted) {
        this.rl.warn(`write:${sink.name}/${UPLOADS_LANE}`, { sink: sink.name, kind: u.kind, err: (e as Error).message }, 'disk buffer write failed; upload dropped');
      }
      return (e as NodeJS.ErrnoException).code === 'ENOSPC' ? 'disk_full' : false;
    }
  }

  /** The sender's live path got a batch through `sink`: replay its spilled batches now. */
  delivered(sink: Sink): void {
    for (const l of this.lanes.values()) {
      void l.then(
        (lane) => {
          if (lane.sink !== sink) return;
          lane.healthy = true;
          lane.wake?.();
        },
        () => undefined,
      );
    }
  }

  private async replay(lane: Lane, key: string): Promise<void> {
    const signal = this.replayStop.signal;
    const minMs = this.o.minRetryMs ?? 1000;
    const maxMs = this.o.maxRetryMs ?? 30_000;
    let delay = minMs;
    let announced = false;
    while (!signal.aborted) {
      let rec: Buffer | undefined;
      try {
        rec = await lane.queue.peek();
      } catch {
        return; // closed
      }
      if (!rec) {
        announced = false;
        await lane.queue.waitForData(60_000, signal);
        continue;
      }
      // a record: a batch of points (v1), or a raw upload (v2) in the uploads lane
      let decoded: { at: number | undefined; count: number; send: () => Promise<SendResult>; batch?: Batch };
      try {
        if (rec[0] === 2) {
          const { meta, upload } = decodeUploadRecord(rec);
          const sink = lane.sink;
          decoded = { at: meta.at, count: 1, send: () => sink.upload!(upload, signal) };
        } else {
          const { meta, batch } = decodeRecord(rec);
          decoded = { at: meta.at, count: batch.points.length, send: () => lane.sink.send(batch, signal), batch };
        }
      } catch (e) {
        this.replayed.inc({ queue: key, result: 'corrupt' });
        this.rl.warn(`decode:${key}`, { queue: key, err: (e as Error).message }, 'disk buffer record could not be decoded; skipped');
        await lane.queue.ack().catch(() => undefined);
        continue;
      }
      if (decoded.at !== undefined && Date.now() - decoded.at > (this.o.maxAgeMs ?? 12 * 3600_000)) {
        this.replayed.inc({ queue: key, result: 'expired' }, decoded.count);
        await lane.queue.ack().catch(() => undefined);
        continue;
      }
      if (!announced) {
        this.o.log.info({ queue: key, records: lane.queue.length, bytes: lane.queue.bytes }, 'replaying the disk buffer');
        announced = true;
      }
      const r: SendResult = await decoded.send().catch((e: Error) => ({ ok: false, retryable: true, reason: e.message }));
      if (signal.aborted) return;
      if (!r.ok && !r.retryable && r.status === 400 && r.delivered !== undefined && decoded.batch && decoded.count - r.delivered > 1) {
        // as on the live path: one client's bad point must not drop the others' in the same batch
        await this.isolateReplayed(lane, key, decoded.batch, r.delivered, r.reason, signal);
        delay = minMs;
        continue;
      }
      if (r.ok || !r.retryable) {
        this.replayed.inc({ queue: key, result: r.ok ? 'sent' : 'rejected' }, decoded.count);
        if (!r.ok) this.rl.warn(`rejected:${key}`, { queue: key, reason: r.reason, points: decoded.count }, 'sink rejected a replayed batch; dropped');
        await lane.queue.ack().catch(() => undefined);
        delay = minMs;
        continue;
      }
      if (lane.healthy) delay = minMs;
      lane.healthy = false;
      const wait = Math.max(r.retryAfterMs ?? 0, delay / 2 + Math.random() * (delay / 2));
      delay = Math.min(delay * 2, maxMs);
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, wait);
        function done() {
          clearTimeout(t);
          signal.removeEventListener('abort', done);
          lane.wake = undefined;
          resolve();
        }
        signal.addEventListener('abort', done, { once: true });
        lane.wake = done;
      });
    }
  }

  /**
   * A replayed batch refused with 400 after `delivered` records: the refused
   * records are isolated by splitting (isolate.ts) and counted as rejected, the
   * rest counted as sent; parts that fail retryably (or that shutdown cut off)
   * are appended to the lane again before the record is acknowledged, so
   * nothing deliverable is lost.
   */
  private async isolateReplayed(lane: Lane, key: string, batch: Batch, delivered: number, reason: string, signal: AbortSignal): Promise<void> {
    const out = await isolateRefused(batch, delivered, reason, (part) => lane.sink.send(part, signal), { stopped: () => signal.aborted });
    this.replayed.inc({ queue: key, result: 'sent' }, delivered + out.sent);
    if (out.refused > 0) {
      this.replayed.inc({ queue: key, result: 'rejected' }, out.refused);
      this.rl.warn(`rejected:${key}`, { queue: key, reason: out.reason, points: out.refused, batchPoints: batch.points.length }, 'sink rejected points of a replayed batch; dropped');
    }
    for (const f of out.failed) {
      const again = await lane.queue.append(encodeRecord(lane.sink.name, f.batch), this.unblock.signal).catch(() => false);
      this.replayed.inc({ queue: key, result: again === true ? 'requeued' : 'dropped' }, f.batch.points.length);
    }
    await lane.queue.ack().catch(() => undefined);
  }

  /**
   * At shutdown, before the sender's final flush: spills of no-drop categories stop waiting for space
   * (a full buffer with the dataway down would otherwise hold the shutdown forever); they resolve false
   * and the sender counts the batch as dropped.
   */
  release(): void {
    this.unblock.abort();
  }

  /**
   * At shutdown: replay stops (a send in flight is aborted; its record stays on
   * disk) while spills are still taken, so the sender's last batches can land
   * here without a replay holding the sinks' connections open.
   */
  pauseReplay(): void {
    this.replayStop.abort();
  }

  /** Stops replaying and closes the queues; blocked spills resolve false. Idempotent. */
  async close(): Promise<void> {
    if (this.closing.signal.aborted) return;
    this.unblock.abort();
    this.replayStop.abort();
    this.closing.abort();
    const lanes = await Promise.allSettled([...this.lanes.values()]);
    for (const l of lanes) if (l.status === 'fulfilled') await l.value.queue.close();
    for (const l of lanes) if (l.status === 'fulfilled') await l.value.loop;
  }
}
