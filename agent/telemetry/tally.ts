/**
 * Increments of a prom-client counter kept as plain numbers and added to the
 * counter when it is read (its `collect` hook, which every read of the
 * registry runs). prom-client's `inc(labels, n)` hashes the label set on each
 * call (~0.4–0.8 µs); a RUM beacon bumps nine counters, which was a few
 * percent of the main thread at tens of thousands of requests a second
 * (bench/rum). A cell is made once per label set; `cell.n += k` is the hot path.
 *
 * One Tally per counter (`Tally.of`), so inputs started again on reload share
 * it instead of stacking hooks.
 */
import type { Counter } from 'prom-client';

export interface TallyCell {
  n: number;
}

const tallies = new WeakMap<object, Tally<string>>();

export class Tally<L extends string> {
  private readonly cells = new Map<string, { labels: Partial<Record<L, string>>; cell: TallyCell }>();

  private constructor(private readonly counter: Counter<L>) {
    const before = (counter as { collect?: () => unknown }).collect;
    (counter as { collect?: () => unknown }).collect = function (this: Counter<L>) {
      tallies.get(counter)!.flush();
      return before?.call(this);
    };
  }

  static of<L extends string>(counter: Counter<L>): Tally<L> {
    let t = tallies.get(counter) as Tally<L> | undefined;
    if (!t) {
      t = new Tally(counter);
      tallies.set(counter, t as unknown as Tally<string>);
    }
    return t;
  }

  /** The cell of a label set (made on first use; keep it, don't ask per increment). */
  cell(labels: Partial<Record<L, string>>): TallyCell {
    const key = Object.keys(labels)
      .sort()
      .map((k) => `${k}\u0000${labels[k as L]}`)
      .join('\u0001');
    let e = this.cells.get(key);
    if (!e) {
      // in the counter's label order, as inc() with an object literal would write them
      const ordered: Partial<Record<L, string>> = {};
      for (const k of (this.counter as unknown as { labelNames?: L[] }).labelNames ?? (Object.keys(labels) as L[])) if (labels[k] !== undefined) ordered[k] = labels[k];
      e = { labels: ordered, cell: { n: 0 } };
      this.cells.set(key, e);
    }
    return e.cell;
  }

  /** Adds what the cells counted since the last read to the counter. */
  flush(): void {
    for (const { labels, cell } of this.cells.values()) {
      if (cell.n === 0) continue;
      const n = cell.n;
      cell.n = 0;
      this.counter.inc(labels, n);
    }
  }
}

/** Cells by one string key (a measurement, a route and status), made on first use from `labels(key)`. */
export class TallyCells<L extends string> {
  private readonly byKey = new Map<string, TallyCell>();
  private readonly tally: Tally<L>;

  constructor(
    counter: Counter<L>,
    private readonly labels: (key: string) => Partial<Record<L, string>>,
  ) {
    this.tally = Tally.of(counter);
  }

  inc(key: string, n = 1): void {
    let c = this.byKey.get(key);
    if (c === undefined) {
      c = this.tally.cell(this.labels(key));
      this.byKey.set(key, c);
    }
    c.n += n;
  }
}
