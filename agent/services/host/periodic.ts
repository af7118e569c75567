/**
 * The loop every host input shares: collect once at start, then every
 * `interval`; never two collections at once (a slow statfs skips a tick
 * instead of piling up); failures go to `acc.error` and the loop goes on.
 */
import fs from 'node:fs/promises';
import type { Input, InputContext, InputDefinition } from '../../input/contract.js';
import type { Point } from '../../model/point.js';
import { hostPaths, type HostPaths } from './paths.js';

/** DataKit clamps host input intervals to [1s, 1m] (hostobject: [10s, 30m]). */
export function clampInterval(ms: number, min = 1000, max = 60_000): number {
  return Math.min(max, Math.max(min, ms));
}

export interface Collector {
  /** Returns the points of one collection; may return [] (the first call of a rate-based input). */
  collect(): Promise<Point[]>;
}

export class PeriodicInput implements Input {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly ctx: InputContext,
    private readonly intervalMs: number,
    private readonly collector: Collector,
  ) {}

  async start(): Promise<void> {
    this.stopped = false;
    this.tick();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
    this.ctx.log.info({ intervalMs: this.intervalMs }, 'Collecting periodically.');
  }

  /** Runs one collection now unless one is still running. Exposed for tests. */
  tick(): Promise<void> {
    if (this.running || this.stopped) return this.running ?? Promise.resolve();
    this.running = (async () => {
      try {
        const pts = await this.collector.collect();
        if (pts.length > 0) this.ctx.acc.add(pts); // also while stopping: stop() waits for this collection
      } catch (e) {
        this.ctx.acc.error('collect', e);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}

/**
 * The definition of a host input: a collector run by {@link PeriodicInput}
 * every `interval` (clamped to `clamp`, default [1s, 1m]), reading below `host_root`.
 */
export function periodicInput<C extends { interval: number; host_root: string }>(
  d: Omit<InputDefinition<C>, 'create'> & {
    clamp?: [min: number, max: number];
    collector(cfg: C, paths: HostPaths, ctx: InputContext): Collector;
  },
): InputDefinition<C> {
  const { clamp = [1000, 60_000], collector, ...def } = d;
  return { ...def, create: (cfg, ctx) => new PeriodicInput(ctx, clampInterval(cfg.interval, ...clamp), collector(cfg, hostPaths(cfg.host_root), ctx)) };
}

export async function readText(file: string): Promise<string> {
  return fs.readFile(file, 'utf8');
}

/** Reads a file, or returns undefined when it does not exist or cannot be read. */
export async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Rejects after `ms` (a statfs on a dead NFS mount can hang forever). */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    t.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}
