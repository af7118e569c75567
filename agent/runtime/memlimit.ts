/**
 * A global soft memory limit. The guard samples memory every 250 ms and
 * reports `overloaded()` while the process RSS is above the limit *and* the
 * memory the process actually holds (V8 heap used + external buffers) is above
 * half of it. It resumes when RSS falls below 90% of the limit or the held
 * memory below 40% of it (hysteresis on both, so it does not flap).
 *
 * Why not RSS alone: freed memory is not returned to the OS promptly (V8 keeps
 * its pages, malloc keeps its arenas), so after a burst RSS can stay above the
 * limit with a small live heap; an RSS-only guard then sheds load forever (the
 * soak bench showed it: 58 MiB heap, 172 MiB RSS, a 160 MiB limit, every input
 * refused for the rest of the run). RSS that high with little held is not
 * growing further, because the freed memory is reused. The core consults it:
 * - the HTTP dispatcher answers 503 with `Retry-After` before any handler runs;
 * - `Accumulator.overloaded()` is true, so pausable producers (log tailing,
 *   `addWait`) wait and the others drop with a counter.
 *
 * The limit comes from `ENV_MEMORY_LIMIT_MB`; when unset, 80% of the
 * container's cgroup memory limit (v2 `memory.max`, v1 `memory.limit_in_bytes`)
 * when there is one; otherwise no limit. `ENV_MEMORY_LIMIT_MB=0` turns it off.
 */
import fs from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { EnvDoc } from '../config/env.js';

export const MEMORY_ENV: readonly EnvDoc[] = [
  {
    name: 'ENV_MEMORY_LIMIT_MB',
    default: '(80% of the cgroup memory limit, else none)',
    doc: 'Soft RSS limit in MiB: above it HTTP inputs get 503 + Retry-After, log tailing pauses, other inputs drop (counted); above 40% of it V8 sizes its heap for memory rather than speed (a burst\'s garbage is collected sooner). 0 turns it off.',
  },
];

export interface MemoryGuardOptions {
  /** Soft limit in bytes; 0 or less disables the guard. */
  limitBytes: number;
  /** Sampling period (default 250 ms). */
  intervalMs?: number;
  /** Overload ends when RSS falls below `limit * resumeRatio` (default 0.9). */
  resumeRatio?: number;
  metrics?: Registry;
  log?: Logger;
  /** Memory source (tests): RSS and held bytes (heap used + external). */
  sample?: () => { rss: number; held: number };
  /** Full GC while overloaded (default: a real one when the runtime allows it). */
  gc?: () => void;
  /** Asks the runtime to size its heap for memory (true) or for speed (false); default: V8's heap growing factor (see COMPACT_ON). */
  compact?: (on: boolean) => void;
}

/**
 * Above this share of the limit, V8 is asked to size its heap for memory
 * rather than speed, until RSS falls below COMPACT_OFF. V8 schedules its next
 * major GC at up to 4× the live heap it saw at the last one; under a burst
 * (a StatsD flood's flush, a large write) that let garbage take 150–250 MiB of
 * RSS while the live heap was 40–60 MiB (bench/abuse). In this mode the next
 * major GC comes when the heap has grown by HEAP_GROWING_PERCENT over the live
 * size instead.
 *
 * Not V8's --optimize-for-size, which did this first: it also shrinks the young
 * generation and makes every major GC a memory-reducing one that compacts the
 * whole heap. Under the StatsD flood (~100,000 live series, ~120 MiB of heap)
 * that meant a scavenge every few ms, a full mark-compact every 300 ms and
 * atomic pauses of 50–240 ms: /v1/ping waited up to 470 ms (bench/abuse,
 * BENCHMARKS.md "StatsD flood: the event loop"). A bounded growing factor keeps
 * RSS under the pod limit with half the major GCs and no forced compaction.
 */
const COMPACT_ON = 0.4;
const COMPACT_OFF = 0.3;
const HEAP_GROWING_PERCENT = 10;

function v8Compact(on: boolean): void {
  v8.setFlagsFromString(`--heap-growing-percent=${on ? HEAP_GROWING_PERCENT : 0}`);
}

const HOLD_TRIP = 0.5;
const HOLD_RESUME = 0.4;
/** While overloaded, a full GC at most this often (ms). */
const GC_EVERY_MS = 5000;

let gcFn: (() => void) | undefined | null;
/**
 * A full garbage collection, when the runtime allows one. While load is shed
 * the process allocates little, so V8 may not collect at all and the heap's
 * garbage would keep the guard tripped; one collection every few seconds
 * (tens of ms each) lets it see the real live size.
 */
function collectGarbage(): void {
  if (gcFn === undefined) {
    try {
      const g = (globalThis as { gc?: () => void }).gc;
      if (g) gcFn = g;
      else {
        v8.setFlagsFromString('--expose-gc');
        gcFn = vm.runInNewContext('gc') as () => void;
      }
    } catch {
      gcFn = null;
    }
  }
  gcFn?.();
}

function processMemory(): { rss: number; held: number } {
  const m = process.memoryUsage();
  return { rss: m.rss, held: m.heapUsed + m.external };
}

export class MemoryGuard {
  private timer: NodeJS.Timeout | undefined;
  private over = false;
  /** V8 asked to size its heap for memory (see COMPACT_ON). */
  private compact = false;
  private last = 0;
  private peakRss = 0;
  private held = 0;
  private lastGc = 0;
  private readonly sampleFn: () => { rss: number; held: number };
  private readonly gauge: Gauge | undefined;
  private readonly peakGauge: Gauge | undefined;
  private readonly transitions: Counter | undefined;

  constructor(private readonly opts: MemoryGuardOptions) {
    this.sampleFn = opts.sample ?? processMemory;
    if (opts.metrics && opts.limitBytes > 0) {
      const registers = [opts.metrics];
      new Gauge({ name: 'telekit_memory_limit_bytes', help: 'Soft memory limit (RSS)', registers }).set(opts.limitBytes);
      this.gauge = new Gauge({ name: 'telekit_memory_overloaded', help: '1 while RSS is above the soft limit', registers });
      this.peakGauge = new Gauge({ name: 'telekit_memory_peak_rss_bytes', help: 'Highest RSS sampled by the memory guard', registers });
      this.transitions = new Counter({ name: 'telekit_memory_overload_total', help: 'Times RSS went above the soft limit', registers });
    }
  }

  get limitBytes(): number {
    return this.opts.limitBytes;
  }

  /** Last sampled RSS in bytes. */
  get rss(): number {
    return this.last;
  }

  get peak(): number {
    return this.peakRss;
  }

  /** Last sampled held memory (V8 heap used + external) in bytes. */
  get heldBytes(): number {
    return this.held;
  }

  /** True while RSS is above the limit (and until it falls below the resume mark). Never throws. */
  overloaded(): boolean {
    return this.over;
  }

  /** Takes one sample now (also run by the timer). */
  sample(): void {
    if (this.opts.limitBytes <= 0) return;
    if (this.over && Date.now() - this.lastGc >= GC_EVERY_MS) {
      this.lastGc = Date.now();
      try {
        (this.opts.gc ?? collectGarbage)();
      } catch {
        // best effort
      }
    }
    let rss: number;
    let held: number;
    try {
      ({ rss, held } = this.sampleFn());
    } catch {
      return;
    }
    this.last = rss;
    this.held = held;
    const limit = this.opts.limitBytes;
    if (rss > this.peakRss) {
      this.peakRss = rss;
      this.peakGauge?.set(rss);
    }
    if (this.compact !== rss > limit * (this.compact ? COMPACT_OFF : COMPACT_ON)) {
      this.compact = !this.compact;
      try {
        (this.opts.compact ?? v8Compact)(this.compact);
      } catch {
        // best effort
      }
      this.opts.log?.info({ rssMiB: Math.round(rss / 2 ** 20), limitMiB: Math.round(limit / 2 ** 20) }, this.compact ? 'Memory above 40% of the soft limit: V8 sizes its heap for memory' : 'Memory below 30% of the soft limit: V8 sizes its heap for speed');
    }
    if (!this.over && rss > limit && held > limit * HOLD_TRIP) {
      this.over = true;
      this.lastGc = 0; // collect at the next sample
      this.transitions?.inc();
      this.gauge?.set(1);
      this.opts.log?.warn({ rssMiB: Math.round(rss / 2 ** 20), heldMiB: Math.round(held / 2 ** 20), limitMiB: Math.round(limit / 2 ** 20) }, 'Memory above the soft limit: shedding load');
    } else if (this.over && (rss < limit * (this.opts.resumeRatio ?? 0.9) || held < limit * HOLD_RESUME)) {
      this.over = false;
      this.gauge?.set(0);
      this.opts.log?.info({ rssMiB: Math.round(rss / 2 ** 20), heldMiB: Math.round(held / 2 ** 20) }, 'Memory back under the soft limit');
    }
  }

  /** Starts sampling (unref'd timer). Idempotent; a no-op without a limit. */
  start(): void {
    if (this.timer || this.opts.limitBytes <= 0) return;
    this.sample();
    this.timer = setInterval(() => this.sample(), this.opts.intervalMs ?? 250);
    this.timer.unref();
  }

  /** Stops sampling and clears the overload state. Idempotent, safe without start. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.over = false;
    this.gauge?.set(0);
    if (this.compact) {
      this.compact = false;
      try {
        (this.opts.compact ?? v8Compact)(false);
      } catch {
        // best effort
      }
    }
  }
}

/** The container's cgroup memory limit in bytes, or undefined when unlimited or unknown. */
export function cgroupMemoryLimit(root = '/sys/fs/cgroup'): number | undefined {
  for (const f of [`${root}/memory.max`, `${root}/memory/memory.limit_in_bytes`]) {
    let s: string;
    try {
      s = fs.readFileSync(f, 'utf8').trim();
    } catch {
      continue;
    }
    if (s === 'max') return undefined;
    const n = Number(s);
    // cgroup v1 reports "unlimited" as a huge page-rounded number.
    if (Number.isFinite(n) && n > 0 && n < 2 ** 60) return n;
    return undefined;
  }
  return undefined;
}

/** Resolves the soft limit in bytes from ENV_MEMORY_LIMIT_MB or the cgroup (0 = none). Throws on a malformed value. */
export function memoryLimitFromEnv(env: Record<string, string | undefined>, cgroupRoot?: string): number {
  const v = env.ENV_MEMORY_LIMIT_MB?.trim();
  if (v) {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`ENV_MEMORY_LIMIT_MB: expected a number of MiB >= 0, got ${JSON.stringify(v)}`);
    return Math.floor(n * 2 ** 20);
  }
  const cg = cgroupMemoryLimit(cgroupRoot);
  return cg === undefined ? 0 : Math.floor(cg * 0.8);
}
