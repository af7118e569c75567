/**
 * Running statistics of the timing / histogram / distribution series, kept
 * as a table of numbers rather than an object per series.
 *
 * count, sum, mean, min, max and stddev are exact (weighted Welford: a value
 * sent with `|@0.1` weighs 10); percentiles come from at most `limit` samples
 * kept as a uniform reservoir (algorithm R), so memory per series is fixed.
 *
 * Layout: one row per series in parallel Float64Arrays; a row's first INLINE
 * samples live in a shared Float64Array, and only a series that gets more
 * values than that in one interval has a sample array of its own (grown by
 * doubling up to `limit`). A cardinality flood (thousands of series with one
 * value each) therefore allocates no object per series, which keeps V8's
 * marking work, and its pauses, independent of the number of series
 * (bench/abuse). Rows are reused through a free list.
 */

/** Samples kept in the shared inline array per row before a row gets its own array. */
const INLINE = 4;

export class TimingTable {
  private cap = 0;
  private count = new Float64Array(0);
  private sum = new Float64Array(0);
  private min = new Float64Array(0);
  private max = new Float64Array(0);
  private meanAcc = new Float64Array(0);
  private m2 = new Float64Array(0);
  /** Values offered to the reservoir (unweighted). */
  private seen = new Float64Array(0);
  private inline = new Float64Array(0);
  /** Rows with more than INLINE samples: their own array (the inline slots are then unused). */
  private big: Array<Float64Array | undefined> = [];
  private free: number[] = [];
  private next = 0;
  /** Rows in use. */
  rows = 0;

  constructor(private readonly limit: number) {}

  /** A new, empty row. */
  alloc(): number {
    const r = this.free.length > 0 ? this.free.pop()! : this.next++;
    if (r >= this.cap) this.grow();
    this.count[r] = 0;
    this.sum[r] = 0;
    this.min[r] = Infinity;
    this.max[r] = -Infinity;
    this.meanAcc[r] = 0;
    this.m2[r] = 0;
    this.seen[r] = 0;
    this.rows++;
    return r;
  }

  /** Gives a row back (its samples go with it). */
  release(r: number): void {
    this.big[r] = undefined;
    this.free.push(r);
    this.rows--;
    if (this.rows === 0) this.reset();
  }

  /** Every row free: the arrays go too, so memory returns after a flood. */
  private reset(): void {
    this.cap = 0;
    this.next = 0;
    this.free = [];
    this.big = [];
    this.count = this.sum = this.min = this.max = this.meanAcc = this.m2 = this.seen = this.inline = new Float64Array(0);
  }

  private grow(): void {
    const cap = Math.max(64, this.cap * 2);
    const g = (a: Float64Array, n = cap): Float64Array<ArrayBuffer> => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    this.count = g(this.count);
    this.sum = g(this.sum);
    this.min = g(this.min);
    this.max = g(this.max);
    this.meanAcc = g(this.meanAcc);
    this.m2 = g(this.m2);
    this.seen = g(this.seen);
    this.inline = g(this.inline, cap * INLINE);
    this.cap = cap;
  }

  /**
   * Adds a value to row `r`. `mayKeep` false: it counts in count, sum, mean,
   * min, max and stddev, but takes no new sample slot (a full reservoir still
   * replaces, which costs nothing). Returns 1 when the value took a new slot,
   * -1 when it was refused one, 0 otherwise.
   */
  add(r: number, v: number, weight = 1, mayKeep = true): number {
    const count = (this.count[r]! += weight);
    this.sum[r]! += v * weight;
    if (v < this.min[r]!) this.min[r] = v;
    if (v > this.max[r]!) this.max[r] = v;
    const mean = this.meanAcc[r]!;
    const d = v - mean;
    const next = mean + (weight / count) * d;
    this.meanAcc[r] = next;
    this.m2[r]! += weight * d * (v - next);

    const n = this.seen[r]!;
    if (n < this.limit) {
      if (!mayKeep) return -1;
      this.seen[r] = n + 1;
      this.store(r, n, v);
      return 1;
    }
    this.seen[r] = n + 1;
    const j = Math.floor(Math.random() * (n + 1));
    if (j < this.limit) this.store(r, j, v);
    return 0;
  }

  /** Writes sample `i` of row `r` (i ≤ the samples kept: at most one past the end). */
  private store(r: number, i: number, v: number): void {
    let b = this.big[r];
    if (b === undefined) {
      if (i < INLINE) {
        this.inline[r * INLINE + i] = v;
        return;
      }
      b = new Float64Array(Math.min(this.limit, INLINE * 2));
      b.set(this.inline.subarray(r * INLINE, r * INLINE + INLINE));
      this.big[r] = b;
    } else if (i >= b.length) {
      const grown = new Float64Array(Math.min(this.limit, b.length * 2));
      grown.set(b);
      this.big[r] = b = grown;
    }
    b[i] = v;
  }

  /** Samples kept for percentiles. */
  kept(r: number): number {
    return Math.min(this.seen[r]!, this.limit);
  }

  countOf(r: number): number {
    return this.count[r]!;
  }

  sumOf(r: number): number {
    return this.sum[r]!;
  }

  minOf(r: number): number {
    return this.min[r]!;
  }

  maxOf(r: number): number {
    return this.max[r]!;
  }

  meanOf(r: number): number {
    return this.count[r]! > 0 ? this.meanAcc[r]! : 0;
  }

  /** Population standard deviation (as Telegraf/DataKit). */
  stddevOf(r: number): number {
    const c = this.count[r]!;
    return c > 0 ? Math.sqrt(Math.max(0, this.m2[r]! / c)) : 0;
  }

  /**
   * Copies row `r`'s kept samples, sorted, to the start of `into` (at least
   * `limit` long) and returns how many: a flush of 100,000 series allocates no
   * array per series.
   */
  sortedSamples(r: number, into: Float64Array): number {
    const n = this.kept(r);
    const b = this.big[r];
    if (b === undefined) for (let i = 0, at = r * INLINE; i < n; i++) into[i] = this.inline[at + i]!;
    else into.set(b.subarray(0, n));
    if (n <= 16) {
      // insertion sort: no view object for the few samples most series have
      for (let i = 1; i < n; i++) {
        const v = into[i]!;
        let j = i - 1;
        while (j >= 0 && into[j]! > v) {
          into[j + 1] = into[j]!;
          j--;
        }
        into[j + 1] = v;
      }
    } else into.subarray(0, n).sort();
    return n;
  }
}
