/**
 * gzip bodies through a few reused zlib contexts instead of a fresh one per
 * body (`zlib.gzip`). A fresh context costs a Transform stream, a native
 * deflate state of ~256 KiB and an output buffer per body, and Node reports
 * that native memory to V8: at ~500 bodies a second (bench/logs) the churn
 * alone set off a full mark-compact every ~100 ms. A reused context is reset
 * (deflateReset keeps its memory) and compresses each body with Z_FINISH in
 * one write: one trip to libuv's pool per body instead of two (the data, then
 * the final flush). The bytes are the same as zlib.gzip's at the same level.
 * Compression still runs on libuv's pool, off the main thread.
 */
import zlib from 'node:zlib';

/** Output buffer of a context: a 1 MiB body of log lines compresses to ~75 KiB (14x in bench/logs), so most bodies take one round. */
const CHUNK = 128 << 10;

/** zlib streams have reset() (deflateReset) and take stream options; @types/node declares neither. */
type Gzip = zlib.Gzip & { reset(): void };

class Context {
  readonly z: Gzip;
  /** An error ended this context: it is not reused. */
  broken = false;

  constructor(level: number) {
    // flush: Z_FINISH: every write is a whole gzip member. The readable side is never
    // read while a body is compressed, so its high-water mark must not stall the
    // transform (a full readable side defers the write's callback until read()).
    const opts: zlib.ZlibOptions & { readableHighWaterMark: number } = { level, chunkSize: CHUNK, flush: zlib.constants.Z_FINISH, readableHighWaterMark: 1 << 30 };
    this.z = zlib.createGzip(opts) as Gzip;
    this.z.on('error', () => (this.broken = true));
  }

  gzip(data: Uint8Array): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.z.write(data, (err) => {
        if (err) {
          this.broken = true;
          return reject(err);
        }
        // everything this body made was pushed before the write's callback
        const parts: Buffer[] = [];
        for (let c: Buffer | null; (c = this.z.read() as Buffer | null) !== null; ) parts.push(c);
        this.z.reset();
        resolve(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
      });
    });
  }
}

/**
 * A pool of reused gzip contexts of one level: as many as there are bodies
 * compressed at once (one per concurrent send), at most `keep` kept between
 * uses. Each kept context holds ~400 KiB of native memory, so the kept ones
 * are freed once none was used for `idleMs` (an idle agent holds none).
 */
export class GzipPool {
  private readonly free: Context[] = [];
  private closed = false;
  private lastUse = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly level: number,
    private readonly keep: number,
    private readonly idleMs = 10_000,
  ) {}

  /** The body as one gzip member, as `zlib.gzip(data, { level })` makes it. */
  async gzip(data: Uint8Array): Promise<Buffer> {
    const ctx = this.free.pop() ?? new Context(this.level);
    try {
      return await ctx.gzip(data);
    } finally {
      if (ctx.broken || this.closed || this.free.length >= this.keep) ctx.z.destroy();
      else this.keepIdle(ctx);
    }
  }

  /** Contexts kept right now (for tests). */
  get kept(): number {
    return this.free.length;
  }

  private keepIdle(ctx: Context): void {
    this.free.push(ctx);
    this.lastUse = performance.now();
    // one timer while contexts are kept, not one per body
    this.timer ??= setInterval(() => {
      if (performance.now() - this.lastUse < this.idleMs) return;
      this.release();
    }, this.idleMs).unref();
  }

  private release(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const c of this.free.splice(0)) c.z.destroy();
  }

  /** Frees the kept contexts; later calls make one-off contexts. */
  close(): void {
    this.closed = true;
    this.release();
  }
}
