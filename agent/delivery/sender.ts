/**
 * Batching and delivery: the one place that owns queues, batch cutting,
 * retries with exponential backoff and jitter, per-sink concurrency, the
 * disk-buffer hook and the delivery self-metrics. Sinks only `send(batch)`.
 *
 * Per category, points collect in a pending batch that is cut at
 * `maxCacheCount` points or every `flushIntervalMs` (and, for batches of
 * encoded records, before they pass `maxBatchBytes`). A cut batch goes to every
 * sink that accepts the category; it stays "in flight" until each of them has
 * sent it, rejected it, or handed it to the disk buffer. Pending plus in-flight
 * points are bounded by `queueCapacity` per category: beyond it `offer` drops
 * (counted) and `offerWait` waits, so memory stays bounded when a sink is slow.
 */
import type { UploadForwarder } from './uploads.js';
import type { Logger } from 'pino';
import { nowNs, Utf8String, type Category, type Point } from '../model/point.js';
import { batchSize, type Batch, type RecordFormat, type SendResult, type Sink } from './sinks/types.js';
import { appendPBRecord, decodePBPoints } from '../model/pbpoint.js';
import { decodeLines, type DecodedPoint } from '../model/lineproto.js';
import { LineBuf } from '../model/linebuf.js';
import { isolateRefused } from './isolate.js';
import type { CoreMetrics } from '../telemetry/metrics.js';
import { RateLimitedLog } from '../telemetry/log.js';

/** Where batches go when a sink cannot take them (the disk buffer). */
export interface SpillHook {
  /**
   * Persists a batch that `sink` could not deliver, to be replayed later.
   * Resolves true once durable, false if the buffer refused it (full), or
   * `disk_full` when the file system is out of space (ENOSPC).
   */
  spill(sink: Sink, batch: Batch): Promise<boolean | 'disk_full'>;
  /** Told when `sink` took a live batch, so the replay of what was spilled for it starts now, not after its backoff. */
  delivered?(sink: Sink): void;
}

export interface SenderOptions {
  sinks: readonly Sink[];
  metrics: CoreMetrics;
  log: Logger;
  flushIntervalMs: number;
  maxCacheCount: number;
  /**
   * A batch of encoded records (lines, PBPoints entries) is cut before its
   * records pass this many bytes (the dataway's body limit), so that it
   * makes one body: 1,000 trace lines of ~1.2 KiB made a full body and a
   * small one, two POSTs and two gzip streams for what fits in one and a bit.
   */
  maxBatchBytes?: number;
  queueCapacity: number;
  /** Estimated bytes (approxBytes) per category queued or in flight before producers wait or drop. */
  queueMaxBytes: number;
  /** Attempts per batch and sink before it is spilled (or dropped without a disk buffer). */
  maxRetry: number;
  retryDelayMs: number;
  maxRetryDelayMs?: number;
  /** Concurrent sends per sink. */
  concurrency: number;
  spill?: SpillHook;
  /** A spare batch buffer not reused for this long is freed (default SPARE_IDLE_MS). */
  spareIdleMs?: number;
}

/**
 * An add() call's onAck. It is never called when any point of the call was
 * dropped (rejected, retries exhausted without a disk buffer, no sink): every
 * batch holding one of the call's points marks it `lost` when it drops them.
 */
interface AckRef {
  fn: () => void;
  lost: boolean;
}

interface Job {
  batch: Batch;
  /** Fired once this batch and every earlier batch of its category are finished. */
  acks: AckRef[];
  /** The calls with points in this batch. */
  touched: AckRef[];
  /** Sinks still to finish with this batch. */
  remaining: number;
  finished: boolean;
  bytes: number;
}

interface Pending {
  points: Point[];
  /** Set instead of `points` when the category's sinks all take records of one format (see Batch.lines). */
  lines: LineBuf | undefined;
  format: RecordFormat | undefined;
  /** Estimated memory of the points (see approxBytes). */
  bytes: number;
  acks: AckRef[];
  touched: AckRef[];
}

/** The batch's points are dropped: the calls they came from must not be acknowledged. */
function pendingCount(p: Pending): number {
  return p.lines ? p.lines.ends.length : p.points.length;
}

function markLost(job: Job): void {
  for (const r of job.touched) r.lost = true;
}

/**
 * The memory a point's tags hold. A frozen tags object is shared by many points
 * (a log stream's, a Prometheus series') and kept by its input anyway, so a
 * point holds only a reference to it.
 */
function tagBytes(t: Readonly<Record<string, string>>): number {
  if (Object.isFrozen(t)) return 8;
  let n = 0;
  for (const k in t) n += 24 + k.length + t[k]!.length;
  return n;
}

/**
 * A cheap estimate of the memory a point holds: strings count their length,
 * everything else a fixed overhead. Tracing and logging points carry a message
 * of kilobytes, so a bound in points alone would let their queues grow to
 * hundreds of MiB.
 */
export function approxBytes(points: readonly Point[]): number {
  let n = 0;
  for (const p of points) {
    n += 64 + p.name.length + tagBytes(p.tags);
    const f = p.fields;
    for (const k in f) {
      const v = f[k];
      n += 24 + k.length + (typeof v === 'string' ? v.length : v instanceof Utf8String ? v.bytes.length : 8);
    }
  }
  return n;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

export class Sender {
  private readonly pending = new Map<Category, Pending>();
  private readonly inflight = new Map<Category, number>();
  private readonly inflightBytes = new Map<Category, number>();
  private readonly waiters = new Map<Category, (() => void)[]>();
  private readonly workers: SinkWorker[];
  private readonly timer: NodeJS.Timeout;
  private readonly closing = new AbortController();
  private idleWaiters: (() => void)[] = [];
  /** Extra back-pressure signal (the memory guard). */
  pressure: () => boolean = () => false;
  /** Where raw uploads (session replay) go; set by the agent. */
  uploads: UploadForwarder | undefined;

  constructor(private readonly o: SenderOptions) {
    this.workers = o.sinks.map((s) => new SinkWorker(s, o, this.closing.signal, (job) => this.finished(job)));
    this.timer = setInterval(() => {
      this.cutAll();
      this.dropStaleSpares();
    }, o.flushIntervalMs);
    this.timer.unref();
  }

  /** Points queued or in flight for a category. */
  queued(category: Category): number {
    const p = this.pending.get(category);
    return (p ? pendingCount(p) : 0) + (this.inflight.get(category) ?? 0);
  }

  /** Estimated bytes of the points queued or in flight for a category. */
  queuedBytes(category: Category): number {
    return (this.pending.get(category)?.bytes ?? 0) + (this.inflightBytes.get(category) ?? 0);
  }

  capacity(): number {
    return this.o.queueCapacity;
  }

  /** Whether `points` more points of `bytes` would pass a bound (an empty queue always takes one call). */
  private full(category: Category, points: number, bytes: number): boolean {
    const q = this.queued(category);
    if (q === 0) return false;
    return q + points > this.o.queueCapacity || this.queuedBytes(category) + bytes > this.o.queueMaxBytes;
  }

  categories(): Category[] {
    return [...new Set([...this.pending.keys(), ...this.inflight.keys()])];
  }

  /**
   * Whether the category is full, or would refuse another call as large as its
   * last offer(): HTTP inputs check this before decoding a request, so they
   * answer 503 instead of decoding spans only to see them refused.
   */
  overloaded(category: Category): boolean {
    const last = this.lastOffer.get(category);
    if (last !== undefined && this.full(category, last.points, last.bytes)) return true;
    return this.queued(category) >= this.o.queueCapacity || this.queuedBytes(category) >= this.o.queueMaxBytes || this.pressure();
  }

  /** The size of the last offer() per category (see overloaded()). */
  private readonly lastOffer = new Map<Category, { points: number; bytes: number }>();

  /** Queues points without waiting; drops them (counted) when the category is full. */
  offer(category: Category, points: Point[], ack?: () => void): number {
    if (points.length === 0) {
      ack?.();
      return 0;
    }
    const bytes = approxBytes(points);
    if (!this.admits(category, points.length, bytes)) return 0;
    this.push(category, points, bytes, ack);
    return points.length;
  }

  /**
   * Whether a call of `n` points and `bytes` may be queued now; if not, they
   * are counted as dropped. `force`: the caller already waited for room.
   */
  private admits(category: Category, n: number, bytes: number, force = false): boolean {
    this.lastOffer.set(category, { points: n, bytes });
    if (this.closing.signal.aborted || (!force && this.full(category, n, bytes))) {
      this.o.metrics.dropped.inc({ category, reason: this.closing.signal.aborted ? 'shutdown' : 'queue_full' }, n);
      return false;
    }
    if (!force && this.pressure()) {
      // Above the soft memory limit (agent/runtime/memlimit.ts): producers that cannot wait drop, counted.
      this.o.metrics.dropped.inc({ category, reason: 'memory' }, n);
      return false;
    }
    return true;
  }

  /**
   * Queues records already encoded (by a worker thread, the log tailer), all
   * or none like offer(): `ends[i]` is the offset just after record i. They
   * must be in the category's recordFormat(); where it has none (a sink needs
   * points: OTLP, mixed sinks) they must be line protocol, and are decoded
   * back to points, which is correct but slow. `force`: the caller already
   * waited for room (offerLinesWait).
   */
  offerLines(category: Category, data: Uint8Array, ends: ArrayLike<number>, ack?: () => void, force = false): number {
    const n = ends.length;
    if (n === 0) {
      ack?.();
      return 0;
    }
    const bytes = ends[n - 1]!;
    if (!this.admits(category, n, bytes, force)) return 0;
    let pend = this.pending.get(category);
    if (!pend) {
      pend = this.newPending(category);
      this.pending.set(category, pend);
    }
    if (!pend.lines) {
      this.push(category, pointsOfLines(category, data, bytes), bytes, ack);
      return n;
    }
    const ref: AckRef | undefined = ack ? { fn: ack, lost: false } : undefined;
    const perLine = bytes / n;
    const maxBytes = this.o.maxBatchBytes ?? Infinity;
    let i = 0;
    while (i < n) {
      let j = i + Math.min(n - i, Math.max(1, this.o.maxCacheCount - pendingCount(pend)));
      const base = i === 0 ? 0 : ends[i - 1]!;
      const left = maxBytes - pend.lines!.off;
      let full = false;
      if (ends[j - 1]! - base > left) {
        // the last record that still fits, by bisection over the record ends
        let lo = i;
        let hi = j - 1;
        while (lo < hi) {
          const mid = (lo + hi + 1) >> 1;
          if (ends[mid - 1]! - base <= left) lo = mid;
          else hi = mid - 1;
        }
        j = lo;
        full = true;
        if (j === i) {
          if (pendingCount(pend) > 0) {
            this.cut(category);
            pend = this.pending.get(category)!;
            continue;
          }
          j = i + 1; // one record over the limit goes alone (the sink splits or refuses it)
        }
      }
      pend.lines!.pushLines(data, ends, i, j);
      pend.bytes += perLine * (j - i);
      i = j;
      pend = this.added(category, pend, ref, full);
    }
    if (ref) this.attachAck(category, pend, ref);
    return n;
  }

  /** offerLines() that waits while the category is full instead of dropping (log tailing). Never drops (except at shutdown). */
  async offerLinesWait(category: Category, data: Uint8Array, ends: ArrayLike<number>, ack?: () => void): Promise<void> {
    const n = ends.length;
    await this.room(category, n, n === 0 ? 0 : ends[n - 1]!);
    if (this.closing.signal.aborted) {
      this.o.metrics.dropped.inc({ category, reason: 'shutdown' }, n);
      return;
    }
    // room was waited for above: offerLines takes them all now
    this.offerLines(category, data, ends, ack, true);
  }

  /** Queues points, waiting while the category is full. Never drops (except at shutdown). */
  async offerWait(category: Category, points: Point[], ack?: () => void): Promise<void> {
    // A single call larger than the whole capacity is accepted once the queue is empty.
    const bytes = approxBytes(points);
    await this.room(category, points.length, bytes);
    if (this.closing.signal.aborted) {
      this.o.metrics.dropped.inc({ category, reason: 'shutdown' }, points.length);
      return;
    }
    this.push(category, points, bytes, ack);
  }

  /** Waits until `points` more of `bytes` fit in the category (or it is empty, or the sender closes). */
  private async room(category: Category, points: number, bytes: number): Promise<void> {
    while (!this.closing.signal.aborted && this.queued(category) > 0 && (this.full(category, points, bytes) || this.pressure())) {
      await new Promise<void>((r) => {
        const list = this.waiters.get(category) ?? [];
        list.push(r);
        this.waiters.set(category, list);
        // the memory guard has no event: poll it
        if (this.pressure()) setTimeout(r, 100).unref();
      });
    }
  }

  /** Per category: the record format every sink taking it accepts, if one (decided once; sinks are fixed). */
  private readonly recordsMode = new Map<Category, RecordFormat | null>();
  private readonly lineBufSize = new Map<Category, number>();

  /**
   * The record format every sink of the category takes pre-encoded, if there
   * is one: the queue then holds records in it, not points, and offerLines()
   * takes records in it.
   */
  recordFormat(category: Category): RecordFormat | undefined {
    let f = this.recordsMode.get(category);
    if (f === undefined) {
      const formats = new Set(this.workers.filter((w) => w.sink.accepts(category)).map((w) => w.sink.records?.(category)));
      const only = formats.size === 1 ? [...formats][0] : undefined;
      f = only ?? null;
      this.recordsMode.set(category, f);
    }
    return f ?? undefined;
  }

  /** Whether the category's queue holds line protocol, so writers can hand over lines as they are. */
  takesLines(category: Category): boolean {
    return this.recordFormat(category) === 'lp';
  }

  private newPending(category: Category): Pending {
    const format = this.recordFormat(category);
    // sized from the category's last batch, so a full batch rarely has to grow (copy) its buffer
    return { points: [], lines: format ? this.lineBuf(this.lineBufSize.get(category) ?? 64 << 10) : undefined, format, acks: [], touched: [], bytes: 0 };
  }

  /**
   * Buffers of finished batches, reused for new ones: at tens of MiB/s of
   * lines, allocating a fresh one per batch made V8 run a full GC every
   * ~60 ms for the external memory alone (a quarter of the main thread).
   * A spare lives long enough to be in V8's old generation, so one dropped
   * (or not taken) is garbage only a mark-compact frees: under trace load the
   * main isolate went seconds without one while such buffers piled up (peak
   * RSS +15–20 MiB, BENCHMARKS.md, Traces, session 11). `at`: when it was
   * given back; one not taken again within spareIdleMs is freed, so a burst's
   * large buffers do not stay with an agent whose batches are small again.
   */
  private readonly spareLines: { data: Buffer; at: number }[] = [];

  /**
   * A buffer for a new batch: `size` is LINEBUF_HEADROOM × the category's
   * last batch. A spare as large as that last batch will do (a larger batch
   * grows it): asking `size` of spares, themselves made at the headroom of
   * earlier (smaller) batches, missed a third of the time while batches grew
   * by a few percent, and each miss was a fresh ~0.5 MiB of external memory
   * (bench/logs: 168 of 517 batches, 93 MB, a full GC's worth).
   */
  private lineBuf(size: number): LineBuf {
    // the smallest that will do: a small category's batch does not take the buffer a large one's next batch needs
    const spare = this.spareLines;
    const enough = size / LINEBUF_HEADROOM;
    let best = -1;
    // of equal ones the last given back, so that under light traffic one is reused and the others age out (dropStaleSpares)
    for (let i = 0; i < spare.length; i++) {
      const c = spare[i]!;
      if (c.data.length < enough) continue;
      const b = best < 0 ? undefined : spare[best]!;
      if (b === undefined || c.data.length < b.data.length || (c.data.length === b.data.length && c.at > b.at)) best = i;
    }
    if (best >= 0) return new LineBuf(spare.splice(best, 1)[0]!.data);
    // in whole steps: a category's batches differ by a few bytes, so a new buffer fits the next batches of about its size
    return new LineBuf(Math.ceil(size / LINE_BUF_STEP) * LINE_BUF_STEP);
  }

  private recycle(b: Batch): void {
    const data = b.lines?.data;
    if (data === undefined || data.length > 32 << 20) return;
    const spare = this.spareLines;
    // as many as two rounds of a sink's concurrent sends: the batches in flight and as many waiting behind them. With 4
    // (at 4 sends), a moment's deeper queue of trace batches (gzip running late) was dropped afterwards and allocated
    // again: 34-55 new 1.3 MB buffers in a 5 s zipkin run against 7-9 with 8, peak RSS 125-142 MiB against 126-135
    const at = performance.now();
    if (spare.length < Math.max(4, 2 * this.o.concurrency)) {
      spare.push({ data, at });
      return;
    }
    // full: the smallest of the spares and this one is dropped
    let min = 0;
    for (let i = 1; i < spare.length; i++) if (spare[i]!.data.length < spare[min]!.data.length) min = i;
    if (spare[min]!.data.length < data.length) spare[min] = { data, at };
  }

  /** Spare batch buffers kept for reuse right now (for tests). */
  get spareBuffers(): number {
    return this.spareLines.length;
  }

  /** Frees the spares not taken again within spareIdleMs (run with the flush timer). */
  private dropStaleSpares(): void {
    const spare = this.spareLines;
    if (spare.length === 0) return;
    const before = performance.now() - (this.o.spareIdleMs ?? SPARE_IDLE_MS);
    for (let i = spare.length - 1; i >= 0; i--) if (spare[i]!.at <= before) spare.splice(i, 1);
  }

  private push(category: Category, points: Point[], bytes: number, ack?: () => void): void {
    if (points.length === 0) {
      ack?.();
      return;
    }
    const now = nowNs();
    for (const p of points) p.time ??= now;
    let pend = this.pending.get(category);
    if (!pend) {
      pend = this.newPending(category);
      this.pending.set(category, pend);
    }
    const perPoint = bytes / points.length;
    const ref: AckRef | undefined = ack ? { fn: ack, lost: false } : undefined;
    const maxBytes = this.o.maxBatchBytes ?? Infinity;
    for (const p of points) {
      let full = false;
      if (pend.lines) {
        const lines = pend.lines;
        const before = lines.off;
        // times are filled in above, so the record is what the sink's encoder would write at send time
        const pb = pend.format === 'pb';
        if (!(pb ? appendPBRecord(lines, p, now) : lines.point(p, now))) continue; // no representable field: the sink would skip it too
        if (lines.off > maxBytes && lines.ends.length > 1) {
          // over the body limit: this record starts the next batch instead
          lines.off = before;
          lines.ends.pop();
          this.cut(category);
          pend = this.pending.get(category)!;
          if (pb) appendPBRecord(pend.lines!, p, now);
          else pend.lines!.point(p, now);
        }
        full = pend.lines!.off >= maxBytes;
      } else pend.points.push(p);
      pend.bytes += perPoint;
      pend = this.added(category, pend, ref, full);
    }
    if (ref) this.attachAck(category, pend, ref);
  }

  /** After points of a call went into `pend`: notes the call on it and cuts it when full (or told it is). Returns the pending batch now. */
  private added(category: Category, pend: Pending, ref: AckRef | undefined, full = false): Pending {
    if (ref && pend.touched[pend.touched.length - 1] !== ref) pend.touched.push(ref);
    if (!full && pendingCount(pend) < this.o.maxCacheCount) return pend;
    this.cut(category);
    return this.pending.get(category)!;
  }

  /**
   * The ack rides on the batch holding the call's last point. Acks fire in batch order (see finished()),
   * so it fires only after the earlier batches holding the call's other points are done too.
   */
  private attachAck(category: Category, pend: Pending, ref: AckRef): void {
    const order = this.order.get(category);
    const last = order?.[order.length - 1];
    if (pendingCount(pend) > 0) pend.acks.push(ref);
    else if (last) last.acks.push(ref);
    else ref.fn(); // nothing of the call could be encoded and nothing is in flight
  }

  /** Cut batches per category in cut order, until their acks have fired. */
  private readonly order = new Map<Category, Job[]>();

  private cut(category: Category): void {
    const pend = this.pending.get(category);
    if (!pend || pendingCount(pend) === 0) return;
    if (pend.lines) this.lineBufSize.set(category, Math.min(Math.max(64 << 10, Math.ceil(pend.lines.off * LINEBUF_HEADROOM)), 16 << 20));
    this.pending.set(category, this.newPending(category));
    const workers = this.workers.filter((w) => w.sink.accepts(category));
    const batch: Batch = pend.lines ? { category, points: [], lines: pend.lines, format: pend.format, defaultTime: nowNs() } : { category, points: pend.points, defaultTime: nowNs() };
    const n = pendingCount(pend);
    const job: Job = { batch, acks: pend.acks, touched: pend.touched, remaining: workers.length, finished: false, bytes: pend.bytes };
    this.inflight.set(category, (this.inflight.get(category) ?? 0) + n);
    this.inflightBytes.set(category, (this.inflightBytes.get(category) ?? 0) + pend.bytes);
    const order = this.order.get(category) ?? [];
    order.push(job);
    this.order.set(category, order);
    if (workers.length === 0) {
      this.o.metrics.dropped.inc({ category, reason: 'no_sink' }, n);
      markLost(job);
      this.finished(job);
      return;
    }
    for (const w of workers) w.enqueue(job);
  }

  /** Cuts every non-empty pending batch (the flush timer, shutdown). */
  cutAll(): void {
    for (const c of [...this.pending.keys()]) this.cut(c);
  }

  private finished(job: Job): void {
    if (job.remaining > 0) job.remaining--;
    if (job.remaining > 0) return;
    const c = job.batch.category;
    job.finished = true;
    // every sink has answered for this batch (sent, dropped, or spilled as decoded points): its buffer is free
    this.recycle(job.batch);
    this.inflight.set(c, (this.inflight.get(c) ?? 0) - batchSize(job.batch));
    this.inflightBytes.set(c, (this.inflightBytes.get(c) ?? 0) - job.bytes);
    const order = this.order.get(c)!;
    while (order.length > 0 && order[0]!.finished) {
      for (const a of order.shift()!.acks) {
        if (a.lost) continue;
        try {
          a.fn();
        } catch (e) {
          this.o.log.error({ err: e }, 'ack callback failed');
        }
      }
    }
    const w = this.waiters.get(c);
    if (w && w.length > 0) {
      this.waiters.set(c, []);
      for (const r of w) r();
    }
    if (this.isIdle()) {
      const iw = this.idleWaiters;
      this.idleWaiters = [];
      for (const r of iw) r();
    }
  }

  private isIdle(): boolean {
    for (const n of this.inflight.values()) if (n > 0) return false;
    for (const p of this.pending.values()) if (pendingCount(p) > 0) return false;
    return true;
  }

  /**
   * Cuts everything and waits until all sinks are done, the deadline passes or
   * `signal` aborts. Returns true when drained.
   */
  async flush(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    this.cutAll();
    if (this.isIdle()) return true;
    if (signal?.aborted) return false;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const drained = await Promise.race([
      new Promise<boolean>((r) => this.idleWaiters.push(() => r(true))),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(false), timeoutMs);
        onAbort = () => r(false);
        signal?.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    return drained;
  }

  /**
   * Flushes within the deadline (or until `signal` aborts), then stops: sends
   * in flight are aborted, and batches not delivered go to the disk buffer
   * (or are counted as dropped); waiters are released. Sinks get at most
   * SINK_CLOSE_MS to close.
   */
  async close(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    clearInterval(this.timer);
    const drained = await this.flush(timeoutMs, signal);
    this.closing.abort();
    for (const list of this.waiters.values()) for (const r of list) r();
    if (!drained) await Promise.all(this.workers.map((w) => w.abandon()));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.o.sinks.map((s) => s.close().catch(() => undefined))), new Promise((r) => (timer = setTimeout(r, SINK_CLOSE_MS)))]);
    clearTimeout(timer);
  }
}

/** How long a spare batch buffer is kept without being reused (as long as the dataway sink keeps an unused gzip context, gzip.ts). */
const SPARE_IDLE_MS = 10_000;

/** Batch buffers are allocated in steps of this many bytes, so that a spare fits the next batch of about its size. */
const LINE_BUF_STEP = 64 << 10;

/** A new batch's buffer is made this much larger than the category's last batch, so that it rarely grows (a copy). */
const LINEBUF_HEADROOM = 1.25;

/** At shutdown, how long sinks may take to close (their sends are already aborted). */
const SINK_CLOSE_MS = 1000;

/** `p`, or a retryable failure as soon as `signal` aborts (a sink that ignores its signal must not hold the shutdown). */
function abortable(p: Promise<SendResult>, signal: AbortSignal): Promise<SendResult> {
  const aborted: SendResult = { ok: false, retryable: true, reason: 'aborted at shutdown' };
  p.catch(() => undefined);
  if (signal.aborted) return Promise.resolve(aborted);
  let onAbort: (() => void) | undefined;
  return Promise.race([
    p.finally(() => signal.removeEventListener('abort', onAbort!)),
    new Promise<SendResult>((r) => {
      onAbort = () => r(aborted);
      signal.addEventListener('abort', onAbort, { once: true });
    }),
  ]);
}

/** A sink whose last answer took this long counts as slow for the disk buffer's in-memory threshold. */
const SLOW_MS = 2000;

/** Sends one sink's batches with bounded concurrency and retries. */
class SinkWorker {
  private readonly queue: Job[] = [];
  private running = 0;
  private readonly active = new Set<Promise<void>>();
  /** The last attempt failed retryably: the sink is down or overloaded. */
  private failing = false;
  /** How long the last attempt took. */
  private lastLatencyMs = 0;

  constructor(
    readonly sink: Sink,
    private readonly o: SenderOptions,
    private readonly closing: AbortSignal,
    private readonly done: (job: Job) => void,
  ) {
    this.rl = new RateLimitedLog(o.log);
  }

  enqueue(job: Job): void {
    // Disk buffer hook (the in-memory threshold): while the sink is failing, batches beyond `concurrency`
    // waiting ones go straight to the disk buffer (acknowledged there) instead of piling up in memory until
    // the queue is full; while it is slow (its last answer took SLOW_MS or more), beyond 4 × `concurrency`.
    // A sink that answers quickly but is simply behind a burst is neither: its queue fills and back-pressure
    // reaches the producers (503s, paused tailing). Spilling there sent healthy bursts through the disk
    // (bench/logs: 43 % of points spilled and replayed while the dataway answered 200 at once).
    const threshold = this.failing ? this.o.concurrency : this.lastLatencyMs >= SLOW_MS ? this.o.concurrency * 4 : Infinity;
    if (this.o.spill && this.queue.length >= threshold && !this.closing.aborted) {
      const p = this.giveUp(job, 'sink failing and its queue is over the threshold').finally(() => {
        this.active.delete(p);
        this.done(job);
      });
      this.active.add(p);
      return;
    }
    this.queue.push(job);
    this.pump();
  }

  private pump(): void {
    while (this.running < this.o.concurrency && this.queue.length > 0) {
      const job = this.queue.shift()!;
      this.running++;
      const p = this.deliver(job).finally(() => {
        this.running--;
        this.active.delete(p);
        this.done(job);
        this.pump();
      });
      this.active.add(p);
    }
  }

  private async deliver(job: Job): Promise<void> {
    const { metrics, log } = this.o;
    const { category } = job.batch;
    const n = batchSize(job.batch);
    const labels = { sink: this.sink.name, category };
    for (let attempt = 1; ; attempt++) {
      const end = metrics.sinkSeconds.startTimer(labels);
      const t0 = performance.now();
      let r;
      try {
        r = await abortable(this.sink.send(job.batch, this.closing), this.closing);
      } catch (e) {
        r = { ok: false as const, retryable: true as const, reason: `sink threw: ${(e as Error).message}` };
      }
      end();
      this.lastLatencyMs = performance.now() - t0;
      this.failing = !r.ok && r.retryable;
      if (r.ok) {
        metrics.sinkRequests.inc({ ...labels, result: 'ok' });
        metrics.sinkPoints.inc({ ...labels, result: 'sent' }, n);
        this.o.spill?.delivered?.(this.sink);
        return;
      }
      metrics.sinkRequests.inc({ ...labels, result: r.retryable ? 'retryable' : 'rejected' });
      if (!r.retryable) {
        if (r.status === 400 && r.delivered !== undefined && n - r.delivered > 1) {
          // one client's bad point must not drop everyone's: find it by splitting
          metrics.sinkPoints.inc({ ...labels, result: 'sent' }, r.delivered);
          await this.isolate(job, r.delivered, r.reason);
          return;
        }
        this.refuse(job, n, r.reason, n);
        return;
      }
      if (attempt >= this.o.maxRetry || this.closing.aborted) {
        await this.giveUp(job, r.reason);
        return;
      }
      metrics.sinkRetries.inc(labels);
      const base = Math.min(this.o.retryDelayMs * 2 ** (attempt - 1), this.o.maxRetryDelayMs ?? 30_000);
      const delay = Math.max(r.retryAfterMs ?? 0, base / 2 + Math.random() * (base / 2));
      if (attempt === 1) log.warn({ sink: this.sink.name, category, reason: r.reason, retryInMs: Math.round(delay) }, 'sink send failed; retrying');
      await sleep(delay, this.closing);
    }
  }

  /** Counts `n` points of the job as refused by the sink (dropped), logged at most once a minute per sink and category. */
  private refuse(job: Job, n: number, reason: string, of: number): void {
    const { metrics } = this.o;
    const { category } = job.batch;
    metrics.sinkPoints.inc({ sink: this.sink.name, category, result: 'rejected' }, n);
    metrics.dropped.inc({ category, reason: 'rejected' }, n);
    markLost(job);
    this.rl.warn(`rejected:${category}`, { sink: this.sink.name, category, points: n, batchPoints: of, reason }, 'sink refused points; dropped');
  }

  private readonly rl: RateLimitedLog;

  /** After a 400 on records [from, n) of the job's batch: isolates the refused records (isolate.ts); parts that fail retryably spill (or drop). */
  private async isolate(job: Job, from: number, firstReason: string): Promise<void> {
    const batch = job.batch;
    const labels = { sink: this.sink.name, category: batch.category };
    const { metrics } = this.o;
    const out = await isolateRefused(batch, from, firstReason, (part) => abortable(this.sink.send(part, this.closing), this.closing), {
      stopped: () => this.closing.aborted,
      onResult: (r) => metrics.sinkRequests.inc({ ...labels, result: r.ok ? 'ok' : r.retryable ? 'retryable' : 'rejected' }),
    });
    if (out.sent > 0) metrics.sinkPoints.inc({ ...labels, result: 'sent' }, out.sent);
    for (const f of out.failed) await this.giveUp(job, f.reason, f.batch);
    if (out.refused > 0) this.refuse(job, out.refused, out.reason, batchSize(batch));
  }

  private async giveUp(job: Job, reason: string, batch: Batch = job.batch): Promise<void> {
    const { metrics, log, spill } = this.o;
    const { category } = batch;
    const n = batchSize(batch);
    const labels = { sink: this.sink.name, category };
    const spilled = spill ? await spill.spill(this.sink, withPoints(batch)).catch(() => false) : false;
    if (spilled === true) {
      metrics.sinkPoints.inc({ ...labels, result: 'spilled' }, n);
      return;
    }
    metrics.sinkPoints.inc({ ...labels, result: 'dropped' }, n);
    metrics.dropped.inc({ category, reason: spilled === 'disk_full' ? 'disk_full' : this.closing.aborted ? 'shutdown' : 'retries_exhausted' }, n);
    markLost(job);
    log.error({ sink: this.sink.name, category, points: n, reason }, 'batch could not be delivered; dropped');
  }

  /** At shutdown: queued batches go to the disk buffer or are counted as dropped; waits for sends in progress. */
  async abandon(): Promise<void> {
    const jobs = this.queue.splice(0);
    for (const job of jobs) {
      await this.giveUp(job, 'shutdown');
      this.done(job);
    }
    await Promise.all([...this.active]);
  }
}

/**
 * The batch with `points` (the disk buffer stores protobuf points): pre-encoded
 * records are decoded back. Only on the failure path, so the live path keeps
 * its bytes. Line protocol and PBPoints round-trip every field type the
 * encoders write.
 */
function withPoints(b: Batch): Batch {
  if (!b.lines) return b;
  const end = b.lines.ends.at(-1) ?? 0;
  const points = b.format === 'pb' ? asPoints(b.category, decodePBPoints(b.lines.data.subarray(0, end)), b.defaultTime) : pointsOfLines(b.category, b.lines.data, end, b.defaultTime);
  return { category: b.category, points, defaultTime: b.defaultTime };
}


/** Points decoded back from the first `end` bytes of encoded lines (for sinks that need points). */
function pointsOfLines(category: Category, data: Uint8Array, end: number, defaultTime?: bigint): Point[] {
  if (end === 0) return [];
  const text = Buffer.from(data.buffer, data.byteOffset, end).toString('utf8');
  return asPoints(category, decodeLines(text), defaultTime);
}

/** Decoded points of the category, `defaultTime` where they carry none. */
function asPoints(category: Category, decoded: DecodedPoint[], defaultTime?: bigint): Point[] {
  return decoded.map((d) => ({ category, name: d.name, tags: d.tags, fields: d.fields, time: d.time ?? defaultTime }));
}
