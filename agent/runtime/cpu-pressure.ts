/**
 * Whether the agent is using most of the CPU it may use (its affinity, or its
 * cgroup quota when lower). The dataway sink asks before it compresses a body:
 * while the answer is yes, a cheaper gzip level buys throughput with bytes on
 * the wire; the rest of the time the configured level keeps the better ratio.
 *
 * Sampled lazily from the process's CPU time (every thread: the main loop,
 * workers, libuv's pool), at most once per `windowMs`: no timer runs, and a
 * question after a quiet spell is answered with the average over that spell.
 */
import { cpuLimit } from '../services/threads.js';

export interface CpuPressureOptions {
  /** CPU-seconds per second the process may use (default: cpuLimit()). */
  cpus?: number;
  /**
   * Busy at or above this share of `cpus` (default 0.6: on 2 CPUs, a main
   * thread that is never idle plus a fifth of the other core); once busy, until
   * the share falls under three quarters of it, so that the cheaper work done
   * while busy does not end the busy spell by itself.
   */
  threshold?: number;
  /** The shortest span a sample covers (default 250 ms). */
  windowMs?: number;
  /** Clock and CPU counter (tests). */
  now?: () => number;
  cpuMicros?: () => number;
}

export class CpuPressure {
  private readonly cpus: number;
  private readonly threshold: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly cpuMicros: () => number;
  private at: number;
  private used: number;
  private state = false;

  constructor(o: CpuPressureOptions = {}) {
    this.cpus = o.cpus ?? cpuLimit();
    this.threshold = o.threshold ?? 0.6;
    this.windowMs = o.windowMs ?? 250;
    this.now = o.now ?? (() => performance.now());
    this.cpuMicros =
      o.cpuMicros ??
      (() => {
        const u = process.cpuUsage();
        return u.user + u.system;
      });
    this.at = this.now();
    this.used = this.cpuMicros();
  }

  /** Whether the process used at least `threshold` of its CPUs over the last sample (see `threshold` for leaving). */
  busy(): boolean {
    const t = this.now();
    if (t - this.at >= this.windowMs) {
      const used = this.cpuMicros();
      const share = (used - this.used) / 1000 / (this.cpus * (t - this.at));
      this.state = share >= (this.state ? 0.75 : 1) * this.threshold;
      this.at = t;
      this.used = used;
    }
    return this.state;
  }
}
