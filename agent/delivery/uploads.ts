/**
 * Raw uploads (session replay segments) on their way to every sink that takes
 * them: a bounded queue (count and bytes), a couple of senders, retries of
 * retryable failures with exponential backoff and jitter (the dataway's
 * ENV_DATAWAY_RETRY_DELAY and ENV_DATAWAY_MAX_RETRY_COUNT), permanent failures
 * dropped and counted. Producers get `false` when the queue is full and answer
 * 503, so a burst of uploads never holds more than the queue's bytes.
 *
 * Uploads do not go through the disk buffer: one that still fails after the
 * last retry is dropped and counted (`telekit_uploads_total{result="dropped"}`).
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

  constructor(private readonly o: UploadOptions) {
    this.sinks = o.sinks.filter((s) => typeof s.upload === 'function');
    this.results = metric(o.registry, 'telekit_uploads_total', () => new Counter({ name: 'telekit_uploads_total', help: 'Raw uploads (session replay) by kind, sink and result (sent, retried, dropped, queue_full)', labelNames: ['kind', 'sink', 'result'], registers: [o.registry] }));
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
    for (let attempt = 0; ; attempt++) {
      let r: SendResult;
      try {
        r = await sink.upload!(u, this.abort.signal);
      } catch (e) {
        r = { ok: false, retryable: true, reason: (e as Error).message };
      }
      if (r.ok) {
        this.results.inc({ kind: u.kind, sink: sink.name, result: 'sent' });
        return;
      }
      if (!r.retryable || attempt + 1 >= this.o.maxRetry || this.abort.signal.aborted) {
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

  /** Stops accepting, waits for the queue to drain until the deadline, then abandons what is left (counted). */
  async close(timeoutMs: number): Promise<void> {
    this.closing = true;
    if (this.active > 0 || this.queue.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([new Promise<void>((r) => (this.idle = r)), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
    }
    for (const u of this.queue.splice(0)) this.results.inc({ kind: u.kind, sink: 'queue', result: 'dropped' });
    this.abort.abort();
  }
}
