/**
 * Running statistics of one timing / histogram / distribution series.
 *
 * count, sum, mean, min, max and stddev are exact (weighted Welford: a value
 * sent with `|@0.1` weighs 10); percentiles come from at most `limit` samples
 * kept as a uniform reservoir (algorithm R), so memory per series is fixed.
 */
export class TimingStats {
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  private meanAcc = 0;
  private m2 = 0;
  /** Kept samples; grows lazily (from 4) up to `limit`: most series see few values per interval. */
  private buf: Float64Array;
  /** Values offered to the reservoir (unweighted). */
  private seen = 0;

  constructor(private readonly limit: number) {
    this.buf = new Float64Array(Math.min(limit, 4));
  }

  /**
   * Adds a value. `mayKeep` false: it counts in count, sum, mean, min, max and
   * stddev, but takes no new sample slot (a full reservoir still replaces, which
   * costs nothing). Returns 1 when the value took a new slot, -1 when it was
   * refused one, 0 otherwise.
   */
  add(v: number, weight = 1, mayKeep = true): number {
    this.count += weight;
    this.sum += v * weight;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
    const d = v - this.meanAcc;
    this.meanAcc += (weight / this.count) * d;
    this.m2 += weight * d * (v - this.meanAcc);

    const n = this.seen;
    if (n < this.limit) {
      if (!mayKeep) return -1;
      this.seen++;
      if (n >= this.buf.length) {
        const grown = new Float64Array(Math.min(this.limit, this.buf.length * 2));
        grown.set(this.buf);
        this.buf = grown;
      }
      this.buf[n] = v;
      return 1;
    }
    this.seen++;
    const j = Math.floor(Math.random() * (n + 1));
    if (j < this.limit) this.buf[j] = v;
    return 0;
  }

  /** Samples kept for percentiles. */
  get kept(): number {
    return Math.min(this.seen, this.limit);
  }

  get mean(): number {
    return this.count > 0 ? this.meanAcc : 0;
  }

  /** Population standard deviation (as Telegraf/DataKit). */
  get stddev(): number {
    return this.count > 0 ? Math.sqrt(Math.max(0, this.m2 / this.count)) : 0;
  }

  /** A sorted copy of the kept samples. */
  sortedSamples(): Float64Array {
    return this.buf.slice(0, Math.min(this.seen, this.limit)).sort();
  }
}
