/**
 * A durable FIFO of opaque records on disk: the agent's disk buffer (WAL).
 *
 * Layout: `<dir>/<seq>.seg` append-only segment files (seq = 16 hex digits)
 * and `<dir>/cursor` (JSON `{seg, off}`: the first unacknowledged record).
 * Each record is `u32le length | u32le crc32(payload) | payload`.
 *
 * Why segmented files and not SQLite: the access pattern is strictly FIFO
 * (append at the tail, consume at the head), so a fully consumed segment is
 * freed with one unlink, writes are sequential, and the format has no native
 * dependency (better-sqlite3 needs a compiled addon per Node ABI and platform).
 *
 * Durability: every `append()` is written and, with `sync: true` (the default),
 * fsync'd before it resolves; callers append one encoded batch per call, so
 * this is one fsync per batch. The cursor is rewritten (temp file + rename,
 * no fsync) on every `ack()`: after `kill -9` the page cache still holds it;
 * after a power loss the cursor may be older than the data, so records are
 * delivered at least once, never lost.
 *
 * Recovery: on open, writing starts in a new segment, so a torn tail left by a
 * crash is never appended to. While reading, a record whose length runs past
 * the end of its segment (torn tail) ends that segment; a record whose CRC does
 * not match is skipped. Both are counted in
 * `telekit_buffer_corrupt_records_total`; neither throws.
 *
 * Concurrency: any number of producers may `append()`; one consumer uses
 * `peek()` then `ack()` (or `drain()`). Operations are serialised internally.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { bufferMetrics, type BufferMetrics } from './metrics.js';
import { Mutex } from './util.js';

export type OnFull = 'drop-newest' | 'drop-oldest' | 'block';

export interface DiskQueueOptions {
  /** Cap on unacknowledged bytes (headers included). */
  maxBytes: number;
  /** A segment is closed and a new one started once it reaches this size. Default 32 MiB (at most maxBytes / 4). */
  segmentBytes?: number;
  /**
   * What `append()` does when the record does not fit: `drop-newest` (DataKit's
   * default: the new record is refused), `drop-oldest` (whole oldest segments are
   * deleted) or `block` (waits for acks; DataKit's "no-drop" categories).
   */
  onFull?: OnFull;
  /** fsync each append (default true). */
  sync?: boolean;
  /** Metric label `queue` (bounded: one per sink and category). Default: the directory's base name. */
  name?: string;
  metrics?: Registry;
  log?: Logger;
}

const HEADER = 8;
const SEG_RE = /^([0-9a-f]{16})\.seg$/;

interface Segment {
  seq: number;
  /** Bytes written (for the write segment: only complete records). */
  size: number;
  /** Records not yet consumed (known from the header scan on open, then counted). */
  records: number;
}


export class DiskQueueClosedError extends Error {
  constructor() {
    super('disk queue is closed');
  }
}

export class DiskQueue {
  private readonly segs: Segment[] = [];
  private readOff = 0;
  private readFh: { seq: number; fh: fsp.FileHandle } | undefined;
  private writeFh: { seq: number; fh: fsp.FileHandle } | undefined;
  private peeked: { payload: Buffer; next: number } | undefined;
  private readonly lock = new Mutex();
  private spaceWaiters: (() => void)[] = [];
  private dataWaiters: (() => void)[] = [];
  private closed = false;
  /** Sequence number of the next segment to create. */
  private nextSeq = 0;
  private unacked = 0;
  private count = 0;
  private readonly m: BufferMetrics | undefined;
  private readonly label: string;
  private readonly segmentBytes: number;
  private readonly onFull: OnFull;
  private readonly sync: boolean;

  private constructor(
    readonly dir: string,
    private readonly opts: DiskQueueOptions,
  ) {
    this.label = opts.name ?? path.basename(dir);
    this.segmentBytes = Math.max(4096, Math.min(opts.segmentBytes ?? 32 << 20, Math.floor(opts.maxBytes / 4)));
    this.onFull = opts.onFull ?? 'drop-newest';
    this.sync = opts.sync ?? true;
    this.m = opts.metrics ? bufferMetrics(opts.metrics) : undefined;
  }

  /** Opens (creating if needed) the queue in `dir`, recovering what a previous run left. */
  static async open(dir: string, opts: DiskQueueOptions): Promise<DiskQueue> {
    if (!(opts.maxBytes > HEADER)) throw new RangeError(`maxBytes must be > ${HEADER}`);
    const q = new DiskQueue(dir, opts);
    await q.recover();
    return q;
  }

  /** Unacknowledged bytes on disk (headers included). */
  get bytes(): number {
    return this.unacked;
  }

  /** Unacknowledged records. */
  get length(): number {
    return this.count;
  }

  private segPath(seq: number): string {
    return path.join(this.dir, `${seq.toString(16).padStart(16, '0')}.seg`);
  }

  private async recover(): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true });
    const names = await fsp.readdir(this.dir);
    const seqs = names
      .map((n) => SEG_RE.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => parseInt(m[1]!, 16))
      .sort((a, b) => a - b);
    let cursor = { seg: -1, off: 0 };
    try {
      const c = JSON.parse(await fsp.readFile(path.join(this.dir, 'cursor'), 'utf8')) as { seg?: unknown; off?: unknown };
      if (Number.isSafeInteger(c.seg) && Number.isSafeInteger(c.off) && (c.off as number) >= 0) cursor = { seg: c.seg as number, off: c.off as number };
    } catch {
      // no cursor (fresh queue) or an unreadable one: replay from the first segment
    }
    this.nextSeq = Math.max(cursor.seg, (seqs[seqs.length - 1] ?? -1) + 1, 0);
    for (const seq of seqs) {
      if (seq < cursor.seg) {
        await fsp.rm(this.segPath(seq), { force: true });
        continue;
      }
      const size = (await fsp.stat(this.segPath(seq))).size;
      const start = seq === cursor.seg ? Math.min(cursor.off, size) : 0;
      const records = await this.scan(seq, start, size);
      this.segs.push({ seq, size, records });
      if (this.segs.length === 1) this.readOff = start;
      this.unacked += size - start;
      this.count += records;
    }
    this.updateGauges();
    if (this.count > 0) this.opts.log?.info({ queue: this.label, records: this.count, bytes: this.unacked }, 'Disk buffer holds records from a previous run');
  }

  /** Counts the records from `start` by walking the headers (no CRC check). */
  private async scan(seq: number, start: number, size: number): Promise<number> {
    const fh = await fsp.open(this.segPath(seq), 'r');
    try {
      const h = Buffer.alloc(HEADER);
      let off = start;
      let n = 0;
      while (off + HEADER <= size) {
        const { bytesRead } = await fh.read(h, 0, HEADER, off);
        if (bytesRead < HEADER) break;
        const len = h.readUInt32LE(0);
        if (off + HEADER + len > size) break;
        off += HEADER + len;
        n++;
      }
      return n;
    } finally {
      await fh.close();
    }
  }

  private updateGauges(): void {
    this.m?.bytes.set({ queue: this.label }, this.unacked);
    this.m?.records.set({ queue: this.label }, this.count);
  }

  private wake(list: 'space' | 'data'): void {
    const w = list === 'space' ? this.spaceWaiters : this.dataWaiters;
    if (list === 'space') this.spaceWaiters = [];
    else this.dataWaiters = [];
    for (const f of w) f();
  }

  /**
   * Appends one record durably. Resolves `true` when written, `false` when the
   * record was refused (`drop-newest` and full, or larger than the whole queue);
   * with `block` it waits for space, and resolves `false` if `signal` is (or
   * gets) aborted first. Rejects with {@link DiskQueueClosedError} when closed.
   */
  async append(payload: Uint8Array, signal?: AbortSignal): Promise<boolean> {
    const need = HEADER + payload.length;
    if (need > this.opts.maxBytes || payload.length > 0xffffffff) {
      this.m?.dropped.inc({ queue: this.label, reason: 'too_large' });
      return false;
    }
    for (;;) {
      if (this.closed) throw new DiskQueueClosedError();
      let space: Promise<void> | undefined;
      const r = await this.lock.run(async () => {
        if (this.closed) throw new DiskQueueClosedError();
        if (this.unacked + need > this.opts.maxBytes) {
          if (this.onFull === 'drop-newest' || (this.onFull === 'block' && signal?.aborted)) return false;
          if (this.onFull === 'block') {
            // Registered under the lock so an ack between here and the await cannot be missed.
            space = new Promise<void>((resolve) => {
              const onAbort = () => resolve(); // the loop sees the aborted signal and gives up
              signal?.addEventListener('abort', onAbort, { once: true });
              this.spaceWaiters.push(() => {
                signal?.removeEventListener('abort', onAbort);
                resolve();
              });
            });
            return 'wait' as const;
          }
          await this.dropOldest(need);
          if (this.unacked + need > this.opts.maxBytes) return false;
        }
        await this.write(payload);
        return true;
      });
      if (r === true) {
        this.m?.appended.inc({ queue: this.label });
        this.updateGauges();
        this.wake('data');
        return true;
      }
      if (r === false) {
        this.m?.dropped.inc({ queue: this.label, reason: 'full' });
        return false;
      }
      await space;
    }
  }

  private async write(payload: Uint8Array): Promise<void> {
    let last = this.segs[this.segs.length - 1];
    if (!this.writeFh || !last || last.seq !== this.writeFh.seq || last.size >= this.segmentBytes) {
      if (this.writeFh) await this.writeFh.fh.close();
      const seq = this.nextSeq++;
      this.writeFh = { seq, fh: await fsp.open(this.segPath(seq), 'wx') };
      last = { seq, size: 0, records: 0 };
      this.segs.push(last);
    }
    const rec = Buffer.allocUnsafe(HEADER + payload.length);
    rec.writeUInt32LE(payload.length, 0);
    rec.writeUInt32LE(zlib.crc32(payload), 4);
    rec.set(payload, HEADER);
    let off = 0;
    try {
      while (off < rec.length) off += (await this.writeFh.fh.write(rec, off, rec.length - off, last.size + off)).bytesWritten;
      if (this.sync) await this.writeFh.fh.datasync();
    } catch (e) {
      // A partial record must never be followed by another: start a new segment next time.
      last.size += off;
      await this.writeFh.fh.close().catch(() => {});
      this.writeFh = undefined;
      this.unacked += off;
      throw e;
    }
    last.size += rec.length;
    last.records++;
    this.unacked += rec.length;
    this.count++;
  }

  /** Deletes whole oldest segments until `need` more bytes fit (never the segment being written). */
  private async dropOldest(need: number): Promise<void> {
    while (this.unacked + need > this.opts.maxBytes && this.segs.length > 0) {
      const first = this.segs[0]!;
      if (this.writeFh?.seq === first.seq) {
        // Only the write segment is left: close it so it can go.
        await this.writeFh.fh.close();
        this.writeFh = undefined;
      }
      await this.dropFirstSegment();
      this.m?.dropped.inc({ queue: this.label, reason: 'oldest' }, first.records);
    }
  }

  private async dropFirstSegment(): Promise<void> {
    const first = this.segs.shift()!;
    this.unacked -= first.size - this.readOff;
    this.count -= first.records;
    this.readOff = 0;
    this.peeked = undefined;
    if (this.readFh?.seq === first.seq) {
      await this.readFh.fh.close();
      this.readFh = undefined;
    }
    await fsp.rm(this.segPath(first.seq), { force: true });
    await this.saveCursor();
    this.wake('space');
  }

  private async saveCursor(): Promise<void> {
    const first = this.segs[0];
    const tmp = path.join(this.dir, 'cursor.tmp');
    await fsp.writeFile(tmp, JSON.stringify({ seg: first?.seq ?? this.nextSeq, off: first ? this.readOff : 0 }));
    await fsp.rename(tmp, path.join(this.dir, 'cursor'));
  }

  /** The oldest unacknowledged record, or undefined when the queue is empty. Repeated calls return the same record until ack(). */
  async peek(): Promise<Buffer | undefined> {
    return this.lock.run(async () => {
      if (this.closed) throw new DiskQueueClosedError();
      for (;;) {
        if (this.peeked) return this.peeked.payload;
        const seg = this.segs[0];
        if (!seg) return undefined;
        const isWriteSeg = this.writeFh?.seq === seg.seq;
        if (this.readOff >= seg.size) {
          if (isWriteSeg) return undefined;
          await this.dropFirstSegment();
          continue;
        }
        if (!this.readFh || this.readFh.seq !== seg.seq) {
          if (this.readFh) await this.readFh.fh.close();
          this.readFh = { seq: seg.seq, fh: await fsp.open(this.segPath(seg.seq), 'r') };
        }
        const h = Buffer.alloc(HEADER);
        const remaining = seg.size - this.readOff;
        const got = remaining >= HEADER ? (await this.readFh.fh.read(h, 0, HEADER, this.readOff)).bytesRead : 0;
        const len = h.readUInt32LE(0);
        if (got < HEADER || len > remaining - HEADER) {
          // Torn tail (a crash mid-append) or a corrupt length: the rest of this segment is unusable.
          this.corrupt(seg, remaining, true, 'torn or truncated record at the end of a segment');
          continue;
        }
        const payload = Buffer.allocUnsafe(len);
        let n = 0;
        while (n < len) {
          const { bytesRead } = await this.readFh.fh.read(payload, n, len - n, this.readOff + HEADER + n);
          if (bytesRead === 0) break;
          n += bytesRead;
        }
        if (n < len) {
          this.corrupt(seg, remaining, true, 'segment shorter than expected');
          continue;
        }
        if (zlib.crc32(payload) !== h.readUInt32LE(4)) {
          this.corrupt(seg, HEADER + len, false, 'record failed its CRC check');
          continue;
        }
        this.peeked = { payload, next: this.readOff + HEADER + len };
        return payload;
      }
    });
  }

  /** Skips `skip` bytes: one bad record, or (`toEnd`) the rest of the segment. */
  private corrupt(seg: Segment, skip: number, toEnd: boolean, why: string): void {
    this.m?.corrupt.inc({ queue: this.label });
    this.opts.log?.warn({ queue: this.label, segment: seg.seq, offset: this.readOff, skipped: skip }, `Disk buffer: ${why}; skipped`);
    this.readOff += skip;
    this.unacked -= skip;
    const lost = toEnd ? seg.records : Math.min(1, seg.records);
    seg.records -= lost;
    this.count -= lost;
    this.updateGauges();
  }

  /** Acknowledges the record returned by the last peek(): it will not be returned again, even after a restart. */
  async ack(): Promise<void> {
    await this.lock.run(async () => {
      const p = this.peeked;
      const seg = this.segs[0];
      if (!p || !seg) return;
      this.unacked -= p.next - this.readOff;
      this.readOff = p.next;
      this.peeked = undefined;
      seg.records--;
      this.count--;
      if (this.readOff >= seg.size && this.writeFh?.seq !== seg.seq) await this.dropFirstSegment();
      else await this.saveCursor();
      this.m?.acked.inc({ queue: this.label });
      this.updateGauges();
      this.wake('space');
    });
  }

  /** Resolves when a record may be available (after an append), or after `timeoutMs`. */
  async waitForData(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.count > 0 || this.closed) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        signal?.removeEventListener('abort', done);
        const i = this.dataWaiters.indexOf(done);
        if (i >= 0) this.dataWaiters.splice(i, 1); // an idle queue must not collect stale waiters
        resolve();
      };
      const t = setTimeout(done, timeoutMs);
      t.unref?.();
      signal?.addEventListener('abort', done, { once: true });
      this.dataWaiters.push(done);
    });
  }

  /** Closes the files. Blocked appends reject. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.lock.run(async () => {
      this.closed = true;
      await this.writeFh?.fh.close().catch(() => {});
      await this.readFh?.fh.close().catch(() => {});
      this.writeFh = this.readFh = undefined;
    });
    this.wake('space');
    this.wake('data');
  }
}
