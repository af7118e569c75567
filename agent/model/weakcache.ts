/**
 * A WeakMap with a memory budget, for caches keyed by shared, frozen tags
 * objects (a log stream's, a Prometheus series'). A node agent has tens of
 * thousands of such series; one that scrapes a thousand targets has half a
 * million, and caching every one of them cost ~400 MB (bench/prom/schedule.mjs
 * 1000 5) for a few hundred nanoseconds a point.
 *
 * Entries are added while their summed cost stays within the budget. Past it,
 * the cache is emptied and refilled by use, at most once per `resetMs`; in
 * between, new entries are not kept and callers take their uncached path.
 */
export class BoundedWeakCache<K extends object, V> {
  private map = new WeakMap<K, V>();
  private used = 0;
  private nextReset = 0;

  constructor(
    private readonly budget: number,
    private readonly resetMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: K): V | undefined {
    return this.map.get(key);
  }

  /** Keeps `value` for `key` at `cost`; false when the budget is spent (the value is not kept). */
  set(key: K, value: V, cost: number): boolean {
    if (this.used + cost > this.budget) {
      const t = this.now();
      if (t < this.nextReset) return false;
      this.map = new WeakMap();
      this.used = 0;
      this.nextReset = t + this.resetMs;
      if (cost > this.budget) return false;
    }
    this.map.set(key, value);
    this.used += cost;
    return true;
  }

  /** The summed cost of the entries added since the last reset (entries whose keys died still count). */
  get size(): number {
    return this.used;
  }
}
