/**
 * Per-series rates from cumulative counters sampled over time: the value at
 * one sample minus the value at the previous sample, over the time between
 * them. Never a rate since boot: the first sample of a series yields nothing.
 */

interface Sample {
  /** Sample time, ms since the epoch. */
  t: number;
  v: number;
  /** Identity of the counter's lifetime (container start time); a change is a reset. */
  epoch: string;
  /** The last rate computed, reused while the source has not produced a new sample. */
  rate: number | undefined;
  gen: number;
}

export class RateTracker {
  private readonly series = new Map<string, Sample>();
  private gen = 0;

  /** Starts a collection round; series not touched in the round are dropped by {@link endRound}. */
  beginRound(): void {
    this.gen++;
  }

  /** Forgets series that vanished (deleted pods, restarted containers). */
  endRound(): void {
    for (const [k, s] of this.series) if (s.gen !== this.gen) this.series.delete(k);
  }

  get size(): number {
    return this.series.size;
  }

  /**
   * Records `v` at time `t` (ms) and returns the per-second rate since the
   * previous sample of `key`, or undefined on the first sample, after a
   * counter reset (value went down or `epoch` changed), or for bad input.
   * When the source repeats its previous sample (same time), the previous
   * rate is returned again.
   */
  perSecond(key: string, t: number, v: number, epoch = ''): number | undefined {
    if (!Number.isFinite(t) || !Number.isFinite(v)) return undefined;
    const prev = this.series.get(key);
    if (prev === undefined || prev.epoch !== epoch || v < prev.v || t < prev.t) {
      this.series.set(key, { t, v, epoch, rate: undefined, gen: this.gen });
      return undefined;
    }
    prev.gen = this.gen;
    if (t === prev.t) return prev.rate;
    const rate = ((v - prev.v) * 1000) / (t - prev.t);
    prev.t = t;
    prev.v = v;
    prev.rate = rate;
    return rate;
  }
}
