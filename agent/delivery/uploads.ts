/**
 * Raw uploads (session replay segments) on their way to every sink that takes
 * them: a bounded queue (count and bytes), a couple of senders, retries of
 * retryable failures with exponential backoff and jitter (the dataway's
 * ENV_DATAWAY_RETRY_DELAY and ENV_DATAWAY_MAX_RETRY_COUNT), permanent failures
 * dropped and counted. Producers get `false` when the queue is full and answer
 * 503, so a burst of uploads never holds more than the queue's bytes.
 *
 * Nothing is lost while a sink is down: with a disk buffer (`spill`), an
 * upload still failing after the last retry goes to disk (`result="spilled"`)
 * and is replayed when the sink answers again (buffer/disk-buffer.ts). While a
 * sink is failing (its last attempt failed retryably), a new upload gets one
 * attempt before it is spilled, so a down dataway does not hold the queue for
 * a whole backoff per upload. At close, what is still queued or in flight is
 * spilled too. Without a buffer, or when it is full, the upload is dropped and
 * counted (`result="dropped"`); a permanent failure (4xx) is always dropped.
 */
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { SendResult, Sink, Upload } from './sinks/types.js';

export interface UploadOptions {
  sinks: readonly Sink[];
  registry: Registry;
  log: Logger;
  maxRetry: number;
  retryDelayMs: number;
  /** Queued bytes before add() refuses (default 64 MiB). */
  maxBytes?: number;
  /** Queued uploads before add() refuses (default 1000). */
  maxCount?: number;
  /** Uploads sent at once (default 2). */
  concurrency?: number;
  /** Where uploads that cannot be delivered go (the disk buffer); none: they are dropped. */
  spill?: UploadSpill;
}

/** The disk buffer as the forwarder sees it (DiskBuffer implements it). */
export interface UploadSpill {
  /** Persists an upload `sink` could not deliver; true once durable, false (or `disk_full`) when refused. */
  spillUpload(sink: Sink, u: Upload): Promise<boolean | 'disk_full'>;
}

function metric<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export class UploadForwarder {
  private readonly queue: Upload[] = [];
  private bytes = 0;
  private active = 0;
  private closing = false;
  private readonly abort = new AbortController();
  private idle: (() => void) | undefined;
  private readonly sinks: readonly Sink[];
  private readonly results: Counter<'kind' | 'sink' | 'result'>;
  private readonly queued: Gauge;
  /** Sinks whose last attempt failed retryably: one attempt, then the disk. */
  private readonly failing = new Set<Sink>();

  constructor(private readonly o: UploadOptions) {
    this.sinks = o.sinks.filter((s) => typeof s.upload === 'function');
    this.results = metric(o.registry, 'telekit_uploads_total', () => new Counter({ name: 'telekit_uploads_total', help: 'Raw uploads (session replay) by kind, sink and result (sent, retried, spilled, dropped, queue_full)', labelNames: ['kind', 'sink', 'result'], registers: [o.registry] }));
    this.queued = metric(o.registry, 'telekit_upload_queue_bytes', () => new Gauge({ name: 'telekit_upload_queue_bytes', help: 'Bytes of raw uploads queued or being sent', registers: [o.registry] }));
  }

  /** Queues an upload for every sink that takes uploads. False (counted) when the queue is full or closing. */
  add(u: Upload): boolean {
    const max = this.o.maxBytes ?? 64 << 20;
    if (this.closing || this.queue.length >= (this.o.maxCount ?? 1000) || (this.bytes > 0 && this.bytes + u.body.length > max)) {
      this.results.inc({ kind: u.kind, sink: 'queue', result: 'queue_full' });
      return false;
    }
    this.queue.push(u);
    this.bytes += u.body.length;
    this.queued.set(this.bytes);
    this.pump();
    return true;
  }

  private pump(): void {
    while (this.active < (this.o.concurrency ?? 2) && this.queue.length > 0) {
      const u = this.queue.shift()!;
      this.active++;
      void this.deliver(u).finally(() => {
        this.active--;
        this.bytes -= u.body.length;
        this.queued.set(this.bytes);
        if (this.queue.length > 0) this.pump();
        else if (this.active === 0) this.idle?.();
      });
    }
  }

  private async deliver(u: Upload): Promise<void> {
    await Promise.all(this.sinks.map((s) => this.deliverTo(s, u)));
  }

  private async deliverTo(sink: Sink, u: Upload): Promise<void> {
    const attempts = this.failing.has(sink) && this.o.spill ? 1 : this.o.maxRetry;
    for (let attempt = 0; ; attempt++) {
      let r: SendResult;
      try {
        r = await sink.upload!(u, this.abort.signal);
      } catch (e) {
        r = { ok: false, retryable: true, reason: (e as Error).message };
      }
      if (r.ok) {
        this.failing.delete(sink);
        this.results.inc({ kind: u.kind, sink: sink.name, result: 'sent' });
        return;
      }
      if (r.retryable) this.failing.add(sink);
      if (!r.retryable || attempt + 1 >= attempts || this.abort.signal.aborted) {
        if (r.retryable && (await this.spill(sink, u))) return;
        this.results.inc({ kind: u.kind, sink: sink.name, result: 'dropped' });
        this.o.log.warn({ sink: sink.name, kind: u.kind, reason: r.reason, attempts: attempt + 1 }, 'upload dropped');
        return;
      }
      this.results.inc({ kind: u.kind, sink: sink.name, result: 'retried' });
      const base = Math.min(30_000, this.o.retryDelayMs * 2 ** attempt);
      const wait = r.retryAfterMs ?? base / 2 + Math.random() * (base / 2);
      await new Promise<void>((res) => {
        const t = setTimeout(res, wait);
        t.unref();
        this.abort.signal.addEventListener('abort', () => (clearTimeout(t), res()), { once: true });
      });
    }
  }

  /** To the disk buffer; true (counted `spilled`) once durable. */
  private async spill(sink: Sink, u: Upload): Promise<boolean> {
    if (!this.o.spill) return false;
    const ok = (await this.o.spill.spillUpload(sink, u).catch(() => false)) === true;
    if (ok) this.results.inc({ kind: u.kind, sink: sink.name, result: 'spilled' });
    return ok;
  }

  /**
   * Stops accepting, waits for the queue to drain until the deadline, then
   * spills what is left to the disk buffer (or drops it, counted) and aborts
   * the uploads in flight (which spill when they fail).
   */
  async close(timeoutMs: number): Promise<void> {
    this.closing = true;
    if (this.active > 0 || this.queue.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([new Promise<void>((r) => (this.idle = r)), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
    }
    const left = this.queue.splice(0);
    const inFlight = this.active > 0 ? new Promise<void>((r) => (this.idle = r)) : Promise.resolve();
    this.abort.abort();
    for (const u of left) {
      let kept = false;
      for (const s of this.sinks) kept = (await this.spill(s, u)) || kept;
      if (!kept) this.results.inc({ kind: u.kind, sink: 'queue', result: 'dropped' });
      this.bytes -= u.body.length;
    }
    this.queued.set(Math.max(0, this.bytes));
    // the aborted uploads spill (or count their drop) as they end; bounded by the sinks' abort handling
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([inFlight, new Promise<void>((r) => (timer = setTimeout(r, 1000)))]);
    clearTimeout(timer);
  }
}
