/**
 * Runs scrape jobs on their intervals: each target starts at a random offset
 * within its interval (jitter, so 1000 targets do not fire together), keeps a
 * drift-free cadence after that, and waits for one of `maxConcurrent` slots.
 * A target whose previous scrape is still running or waiting when its next
 * tick comes skips that tick (counted as `overrun`): the queue never holds a
 * target twice, so it is bounded by the number of targets.
 */

export interface Job {
  /** Stable identity: adding a job with an existing key replaces it. */
  readonly key: string;
  readonly intervalMs: number;
  /** One scrape; must not throw (errors are the job's business). */
  run(signal: AbortSignal): Promise<void>;
}

interface Entry {
  job: Job;
  timer: NodeJS.Timeout | undefined;
  next: number;
  /** After the early first scrape: the first tick of the jittered cadence. */
  cadence: number | undefined;
  state: 'idle' | 'queued' | 'running';
  removed: boolean;
  abort: AbortController;
}

export interface SchedulerHooks {
  /** A tick was skipped because the previous scrape of the target had not finished. */
  onOverrun?: (job: Job) => void;
  /** Called before a tick runs; returning false skips it (e.g. pipeline back-pressure). */
  shouldRun?: () => boolean;
  onSkip?: (job: Job) => void;
}

export class Scheduler {
  private readonly entries = new Map<string, Entry>();
  private readonly queue: Entry[] = [];
  private running = 0;
  private stopped = false;
  private paused = false;

  constructor(
    private readonly maxConcurrent: number,
    private readonly hooks: SchedulerHooks = {},
    private readonly random: () => number = Math.random,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get inFlight(): number {
    return this.running;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  /** Adds or replaces a job. The first scrape comes after a random delay within the interval (at most `firstDelayMaxMs`). */
  add(job: Job, firstDelayMaxMs = job.intervalMs): void {
    if (this.stopped) return;
    this.remove(job.key);
    const e: Entry = { job, timer: undefined, next: 0, cadence: undefined, state: 'idle', removed: false, abort: new AbortController() };
    this.entries.set(job.key, e);
    const now = Date.now();
    e.next = now + Math.floor(this.random() * Math.min(job.intervalMs, firstDelayMaxMs));
    if (firstDelayMaxMs < job.intervalMs) {
      // scrape soon once, then settle on a phase spread over the whole interval
      // so that targets added together do not keep firing together
      let c = now + Math.floor(this.random() * job.intervalMs);
      if (c < e.next + job.intervalMs / 2) c += job.intervalMs;
      e.cadence = c;
    }
    this.arm(e);
  }

  remove(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    e.removed = true;
    if (e.timer) clearTimeout(e.timer);
    e.abort.abort();
    const i = this.queue.indexOf(e);
    if (i >= 0) this.queue.splice(i, 1);
  }

  /** Pauses ticking (leadership lost); resume() restarts every job with fresh jitter. */
  pause(): void {
    this.paused = true;
    for (const e of this.entries.values()) if (e.timer) clearTimeout(e.timer);
    this.queue.length = 0;
    for (const e of this.entries.values()) if (e.state === 'queued') e.state = 'idle';
  }

  resume(): void {
    if (!this.paused || this.stopped) return;
    this.paused = false;
    for (const e of this.entries.values()) {
      e.next = Date.now() + Math.floor(this.random() * e.job.intervalMs);
      this.arm(e);
    }
  }

  /** Removes every job and aborts scrapes in flight; waits for them to settle. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const k of [...this.entries.keys()]) this.remove(k);
    const deadline = Date.now() + 5_000;
    while (this.running > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  }

  private arm(e: Entry): void {
    if (e.removed || this.paused) return;
    const delay = Math.max(0, e.next - Date.now());
    e.timer = setTimeout(() => this.tick(e), delay);
    e.timer.unref();
  }

  private tick(e: Entry): void {
    if (e.removed || this.paused) return;
    // drift-free cadence; after a long stall, skip the missed ticks
    const now = Date.now();
    if (e.cadence !== undefined) {
      e.next = e.cadence - e.job.intervalMs;
      e.cadence = undefined;
    }
    e.next += e.job.intervalMs;
    if (e.next < now) e.next = now + e.job.intervalMs - ((now - e.next) % e.job.intervalMs);
    this.arm(e);
    if (e.state !== 'idle') {
      this.hooks.onOverrun?.(e.job);
      return;
    }
    if (this.hooks.shouldRun && !this.hooks.shouldRun()) {
      this.hooks.onSkip?.(e.job);
      return;
    }
    e.state = 'queued';
    this.queue.push(e);
    this.drain();
  }

  private drain(): void {
    while (this.running < this.maxConcurrent && this.queue.length > 0) {
      const e = this.queue.shift()!;
      if (e.removed) continue;
      e.state = 'running';
      this.running++;
      e.job
        .run(e.abort.signal)
        .catch(() => undefined)
        .finally(() => {
          this.running--;
          e.state = 'idle';
          this.drain();
        });
    }
  }
}
