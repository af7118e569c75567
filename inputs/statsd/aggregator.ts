/**
 * Per-interval aggregation of StatsD metrics, and the hot path that feeds it.
 *
 * Lines are scanned without regexes or substrings; a line's series is found
 * through a cache keyed by a hash of its raw name, type and DogStatsD tags
 * (see Alias), so name mapping and tag parsing (naming.ts) run once per
 * distinct line shape, not once per line.
 *
 * Memory is bounded per flush interval, not only series counts: live series
 * by `maxSeries` and by `maxSeriesBytes` (the bytes of their names, tag keys
 * and values), timing samples by `percentileLimit` per series (a uniform
 * reservoir) and `maxTimingSamples` in all, set members by `maxSetSize` per
 * set and `maxSetMembers` in all. What a limit refuses is counted by reason
 * (see DropReason). The line-shape cache holds at most `aliasLimit` entries,
 * never caches a refusal at the limit, and keeps across a flush only the
 * shapes of series that recur, so the series of a flood of new names are
 * released at the next flush. Series detached by a flush and not yet emitted
 * count against `maxSeries`, so a slow flush does not double the live set.
 *
 * Not thread-safe, not async: the input calls ingest() from the event loop.
 */
import { msToNs, type FieldValue, type Point } from '../../agent/model/point.js';
import { own, resolveSeries, type NamingOptions, type SeriesId } from './naming.js';
import { lineName, lineTags, lineValues, newScannedLine, parseValueAt, scanLine, type MalformedReason, type MetricType, type ScannedLine } from './parser.js';
import { TimingStats } from './timing.js';

export interface AggregatorOptions extends NamingOptions {
  ddExtensions: boolean;
  ddDistributions: boolean;
  percentiles: readonly number[];
  percentileLimit: number;
  deleteGauges: boolean;
  deleteCounters: boolean;
  deleteSets: boolean;
  deleteTimings: boolean;
  /** 0: never expire. */
  maxTtlMs: number;
  setCounterInt: boolean;
  maxSeries: number;
  maxSetSize: number;
  /** Bytes of names, tag keys and values over the live series (0: no limit). */
  maxSeriesBytes?: number;
  /** Timing samples kept for percentiles over every series (0: no limit). */
  maxTimingSamples?: number;
  /** Set members over every set series (0: no limit). */
  maxSetMembers?: number;
  /** Size of the line-shape cache; defaults to 2 × maxSeries (at least 10 000). */
  aliasLimit?: number;
}

/**
 * Why a well-formed metric (or part of it) was not aggregated: `telekit_statsd_dropped_total{reason}`.
 * series_limit / series_bytes: a new series beyond max_series / max_series_bytes (the line is dropped);
 * set_limit / set_members: a set member beyond max_set_size / max_set_members;
 * timing_samples: a timing value beyond max_timing_samples, counted in count/sum/mean/min/max
 * but not kept for percentiles.
 */
export type DropReason = 'series_limit' | 'series_bytes' | 'set_limit' | 'set_members' | 'timing_samples' | 'distributions_disabled' | 'extensions_disabled';

/** Counts since the last {@link Aggregator.takeCounts}; the input moves them to prom-client when the registry is read. */
export interface Counts {
  malformed: Map<MalformedReason, number>;
  dropped: Map<DropReason, number>;
  /** Values aggregated, by type (plus `event`, `service_check`). */
  metrics: Map<string, number>;
}

/** Series detached per step of a flush's first phase (see flushChunks). */
const DETACH_STEP = 5000;

/** Fields per point at most (DataKit's dataway limit is 1024); a timing series brings 6 + percentiles. */
const MAX_FIELDS_PER_POINT = 1000;

class Series {
  alive = true;
  lastUpdate = 0;
  /** Seen in an earlier interval too: its line shapes stay cached across a flush. */
  recurring = false;
  /** Counter sum / gauge value. */
  value = 0;
  set: Set<string> | undefined;
  timing: TimingStats | undefined;
  constructor(
    readonly id: SeriesId,
    /** What this series counts against maxSeriesBytes. */
    readonly bytes: number,
  ) {}
}

/** The bytes a series' identity holds against maxSeriesBytes: its name, tag keys and values. */
export function seriesBytes(id: SeriesId): number {
  let n = id.measurement.length + id.field.length;
  for (const k in id.tags) n += k.length + id.tags[k]!.length;
  return n;
}

const TYPE_INDEX: Readonly<Record<MetricType, number>> = { c: 0, g: 1, s: 2, ms: 3, h: 4, d: 5 };
const COUNT_LABELS = ['c', 'g', 's', 'ms', 'h', 'd', 'event', 'service_check'] as const;

/**
 * A line-shape cache entry: a (name, type, tags) text seen on the wire and its
 * series. Entries are found by the hash scanLine computes and confirmed by a
 * second, independent hash plus the lengths and the type, so the hot path
 * neither builds a key string nor compares text (hashing a fresh substring
 * for a Map, or String#startsWith, costs more than the rest of the line). A
 * wrong match would need both 32-bit hashes to collide.
 */
class Alias {
  constructor(
    readonly hash2: number,
    readonly nameLen: number,
    readonly tagsLen: number,
    readonly type: MetricType,
    public series: Series,
    readonly next: Alias | undefined,
  ) {}

  matches(l: ScannedLine): boolean {
    return this.hash2 === l.hash2 && this.type === l.type && this.nameLen === l.nameEnd - l.nameStart && this.tagsLen === l.tagsEnd - l.tagsStart;
  }
}

/** Marks a cached line shape refused by the series limit (no identity kept: it costs one Alias). */
const DROPPED = new Series({ type: 'c', measurement: '', field: '', tags: {}, key: '', group: '' }, 0);
DROPPED.alive = false;

export class Aggregator {
  private series = new Map<string, Series>();
  private aliases = new Map<number, Alias>();
  private cached = 0;
  /** Running totals against the memory limits (maxSeriesBytes, maxTimingSamples, maxSetMembers). */
  private liveBytes = 0;
  /** Series detached by a flush and not yet emitted (flushChunks). */
  private unemitted = 0;
  /** max_series_bytes refused a series: no new ones until a flush frees bytes. */
  private bytesFull = false;
  private samples = 0;
  private members = 0;
  private readonly aliasLimit: number;
  private readonly scanned = newScannedLine();
  private readonly values: number[] = [];
  private readonly typeCounts = new Float64Array(COUNT_LABELS.length);
  private counts: Counts = { malformed: new Map(), dropped: new Map(), metrics: new Map() };
  /** Events and service checks parsed since the last takeSpecial(). */
  private special: string[] = [];
  /** Wall clock for lastUpdate: set once per ingest() call, not per line. */
  private now = Date.now();

  constructor(private readonly opts: AggregatorOptions) {
    this.aliasLimit = opts.aliasLimit ?? Math.max(10_000, 2 * opts.maxSeries);
  }

  /** Live series. */
  get size(): number {
    return this.series.size;
  }

  /** Entries in the line-shape cache. */
  get cacheSize(): number {
    return this.cached;
  }

  /** What the live series hold against the memory limits. */
  get usage(): { seriesBytes: number; timingSamples: number; setMembers: number } {
    return { seriesBytes: this.liveBytes, timingSamples: this.samples, setMembers: this.members };
  }

  /** Feeds newline-separated lines (one packet or one TCP chunk of whole lines); `nowMs` stamps the series' last update. */
  ingest(text: string, nowMs = Date.now()): void {
    this.now = nowMs;
    const len = text.length;
    let start = 0;
    while (start < len) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = len;
      if (end > start) this.line(text, start, end);
      start = end + 1;
    }
  }

  private line(text: string, start: number, end: number): void {
    // trim blanks and a trailing \r
    while (start < end && text.charCodeAt(start) <= 32) start++;
    while (end > start && text.charCodeAt(end - 1) <= 32) end--;
    if (start === end) return;
    if (text.charCodeAt(start) === 95 /* _ */ && (text.startsWith('_e{', start) || text.startsWith('_sc|', start))) {
      if (!this.opts.ddExtensions) this.drop('extensions_disabled');
      else this.special.push(text.slice(start, end));
      return;
    }
    const sc = this.scanned;
    const bad = scanLine(text, start, end, this.opts.ddExtensions, sc);
    if (bad !== undefined) return this.malformed(bad);
    const type = sc.type;
    if (type === 'd' && !this.opts.ddDistributions) return this.drop('distributions_disabled');

    // values first: a bad value must not create (or touch) a series
    let one = 0;
    let many: number[] | undefined;
    let delta = false;
    if (type === 's') {
      if (sc.valEnd === sc.valStart) return this.malformed('bad_value');
    } else {
      const sep = text.indexOf(':', sc.valStart);
      if (sep < 0 || sep >= sc.valEnd) {
        const v = parseValueAt(text, sc.valStart, sc.valEnd);
        if (v === undefined) return this.malformed('bad_value');
        one = v;
      } else {
        many = this.values;
        many.length = 0;
        let from = sc.valStart;
        for (;;) {
          let to = text.indexOf(':', from);
          if (to < 0 || to > sc.valEnd) to = sc.valEnd;
          const v = parseValueAt(text, from, to);
          if (v === undefined) return this.malformed('bad_value');
          many.push(v);
          if (to === sc.valEnd) break;
          from = to + 1;
        }
      }
      if (type === 'g') {
        const c = text.charCodeAt(sc.valStart);
        delta = c === 43 /* + */ || c === 45; /* - */
      }
    }

    let a = this.aliases.get(sc.hash);
    while (a !== undefined && !a.matches(sc)) a = a.next;
    let s = a?.series;
    if (s === undefined || !s.alive) {
      s = this.lookup(a);
      if (s === undefined) return;
    }
    s.lastUpdate = this.now;
    const rate = sc.rate;
    const ti = TYPE_INDEX[type];
    switch (type) {
      case 'c':
        if (many === undefined) s.value += one / rate;
        else for (const v of many) s.value += v / rate;
        break;
      case 'g':
        // DogStatsD packs `g:1:2:3` as successive values: the last one stands
        if (many === undefined) s.value = delta ? s.value + one : one;
        else for (const v of many) s.value = delta ? s.value + v : v;
        break;
      case 's': {
        const set = (s.set ??= new Set());
        const members = lineValues(sc).split(':');
        const maxMembers = this.opts.maxSetMembers || Infinity;
        for (const m of members) {
          if (set.has(m)) continue;
          if (set.size >= this.opts.maxSetSize) this.drop('set_limit');
          else if (this.members >= maxMembers) this.drop('set_members');
          else {
            set.add(own(m)); // a copy: a slice would pin the packet
            this.members++;
          }
        }
        this.typeCounts[ti]! += members.length - 1;
        break;
      }
      default: {
        const t = (s.timing ??= new TimingStats(this.opts.percentileLimit));
        const w = 1 / rate;
        const max = this.opts.maxTimingSamples || Infinity;
        if (many === undefined) this.sample(t, one, w, max);
        else for (const v of many) this.sample(t, v, w, max);
      }
    }
    this.typeCounts[ti]! += many === undefined ? 1 : many.length;
  }

  /** Adds a timing value; beyond maxTimingSamples it counts in the stats but is not kept for percentiles (counted). */
  private sample(t: TimingStats, v: number, w: number, max: number): void {
    const r = t.add(v, w, this.samples < max);
    if (r > 0) this.samples++;
    else if (r < 0) this.drop('timing_samples');
  }

  /** Cache miss, or a series deleted by the last flush: find or create the live series for the scanned line. */
  private lookup(known: Alias | undefined): Series | undefined {
    const sc = this.scanned;
    // series of the last interval not yet emitted count too: a slow flush must not double the live set
    const full = this.series.size + this.unemitted >= this.opts.maxSeries || this.bytesFull;
    if (full && (known === undefined || known.series === DROPPED)) {
      // At the limit, a shape not seen before (or already refused) is refused without
      // resolving it: resolving costs ~3 µs, and a cardinality flood is all new shapes.
      // (The rare new spelling of a live series, e.g. another tag order, is refused too.)
      // Nor is it cached: a flood would fill the cache with refusals, clear it, fill it
      // again, and every round would be garbage for V8's old generation.
      this.drop(this.series.size + this.unemitted >= this.opts.maxSeries ? 'series_limit' : 'series_bytes');
      return undefined;
    }
    let id = known === undefined || known.series === DROPPED ? undefined : known.series.id;
    if (id === undefined) {
      id = resolveSeries(lineName(sc), sc.type, lineTags(sc), this.opts);
      if (id === undefined) {
        this.malformed('bad_name');
        return undefined;
      }
    }
    let s = this.series.get(id.key);
    if (s === undefined) {
      const bytes = seriesBytes(id);
      const tooBig = this.opts.maxSeriesBytes !== undefined && this.opts.maxSeriesBytes > 0 && this.liveBytes + bytes > this.opts.maxSeriesBytes;
      if (full || tooBig) {
        // the byte budget refused one: the interval takes no new series (refused without resolving, as above)
        if (tooBig) this.bytesFull = true;
        this.drop(this.series.size + this.unemitted >= this.opts.maxSeries ? 'series_limit' : 'series_bytes');
        // remember the shape, cheaply, so a flood of it is not re-resolved per line
        if (known === undefined) this.cache(DROPPED);
        else known.series = DROPPED;
        return undefined;
      }
      s = new Series(id, bytes);
      this.series.set(id.key, s);
      this.liveBytes += bytes;
      // an identity kept from the last interval, or a shape the last flush let go: a series that comes back
      s.recurring = known !== undefined || this.pruned.has(sc.hash);
    }
    if (known) known.series = s;
    else this.cache(s);
    return s;
  }

  private cache(s: Series): void {
    if (this.cached >= this.aliasLimit) {
      this.aliases = new Map();
      this.cached = 0;
    }
    const sc = this.scanned;
    this.aliases.set(sc.hash, new Alias(sc.hash2, sc.nameEnd - sc.nameStart, sc.tagsEnd - sc.tagsStart, sc.type, s, this.aliases.get(sc.hash)));
    this.cached++;
  }

  private malformed(r: MalformedReason): void {
    this.counts.malformed.set(r, (this.counts.malformed.get(r) ?? 0) + 1);
  }

  private drop(r: DropReason, n = 1): void {
    this.counts.dropped.set(r, (this.counts.dropped.get(r) ?? 0) + n);
  }


  /** Records a malformed line found outside ingest() (e.g. an over-long TCP line or a bad event). */
  countMalformed(r: MalformedReason): void {
    this.malformed(r);
  }

  /** Records events / service checks turned into points. */
  countSpecial(type: 'event' | 'service_check'): void {
    this.typeCounts[type === 'event' ? 6 : 7]! += 1;
  }

  /** Returns and resets the counts. */
  takeCounts(): Counts {
    const c = this.counts;
    this.typeCounts.forEach((n, i) => {
      if (n > 0) c.metrics.set(COUNT_LABELS[i]!, n);
    });
    this.typeCounts.fill(0);
    this.counts = { malformed: new Map(), dropped: new Map(), metrics: new Map() };
    return c;
  }

  /** Returns and clears the raw event / service-check lines seen since the last call. */
  takeSpecial(): string[] {
    const s = this.special;
    if (s.length > 0) this.special = [];
    return s;
  }

  private deletes(t: MetricType): boolean {
    switch (t) {
      case 'c':
        return this.opts.deleteCounters;
      case 'g':
        return this.opts.deleteGauges;
      case 's':
        return this.opts.deleteSets;
      default:
        return this.opts.deleteTimings;
    }
  }

  /**
   * Emits one metric point per (measurement, tags) with every series' fields,
   * then forgets the series whose delete_* option is on (and those idle past
   * max_ttl). Points carry the flush time.
   */
  flush(nowMs = Date.now()): Point[] {
    const out: Point[] = [];
    for (const chunk of this.flushChunks(nowMs)) out.push(...chunk);
    return out;
  }

  /**
   * flush() in chunks of at most `chunk` points, so that a flush of 100,000
   * series never holds 100,000 point objects at once: the caller hands each
   * chunk on (where it is encoded to bytes) before the next is built, and may
   * let other work run between chunks. The interval is closed when the first
   * chunk is asked for: the series it emits are detached then (the ones that
   * delete_* forgets give their share of the limits back at once), so lines
   * arriving between chunks go to the next interval. A (measurement, tags)
   * group that spans two chunks is emitted as two points with the same tags
   * and time and different fields.
   */
  *flushChunks(nowMs = Date.now(), chunk = 1000): Generator<Point[]> {
    const time = msToNs(nowMs);
    const o = this.opts;
    // The interval closes at once: its series are swapped out and new lines start the next
    // interval's. Detaching them (100,000 at the limit, 40-100 ms on a loaded box) is done in
    // steps with an empty chunk between, so the caller's time slice covers it too. Until a series
    // is visited, a line that finds it through the line-shape cache still counts in this interval;
    // one that resolves it again starts a new series, and the old one is then emitted and dropped.
    const closing = this.series;
    this.series = new Map();
    this.unemitted = closing.size;
    const emit: Series[] = [];
    for (const [k, s] of closing) {
      emit.push(s);
      const expired = o.maxTtlMs > 0 && nowMs - s.lastUpdate >= o.maxTtlMs;
      if (this.deletes(s.id.type) || expired || this.series.has(k)) {
        s.alive = false;
        this.release(s);
      } else this.series.set(k, s);
      if (emit.length % DETACH_STEP === 0) yield [];
    }
    this.pruneCache();
    this.flushedAt = nowMs;
    this.bytesFull = false;

    let open = new Map<string, { p: Point; fields: number }>();
    const timingWidth = 6 + o.percentiles.length;
    let out: Point[] = [];
    for (let i = 0; i < emit.length; i++) {
      const s = emit[i]!;
      const id = s.id;
      const width = id.type === 'c' || id.type === 'g' || id.type === 's' ? 1 : timingWidth;
      let g = open.get(id.group);
      if (g === undefined || (g.fields > 0 && g.fields + width > MAX_FIELDS_PER_POINT)) {
        if (out.length >= chunk) {
          yield finite(out);
          out = [];
          open = new Map();
        }
        g = { p: { category: 'metric', name: id.measurement, tags: { ...id.tags }, fields: newFields(), time }, fields: 0 };
        open.set(id.group, g);
        out.push(g.p);
      }
      g.fields += width;
      const p = g.p;
      const f = p.fields;
      switch (id.type) {
        case 'c':
          f[id.field] = o.setCounterInt ? BigInt(Math.trunc(s.value)) : s.value;
          break;
        case 'g':
          f[id.field] = s.value;
          break;
        case 's':
          f[id.field] = BigInt(s.set?.size ?? 0);
          break;
        default:
          if (s.timing) timingFields(f, id.field, s.timing, o.percentiles);
      }
      if (!s.alive) {
        // emitted and forgotten: its samples and members go now, even if a cached shape still points at it
        s.timing = undefined;
        s.set = undefined;
      }
      emit[i] = undefined as unknown as Series;
      this.unemitted--;
    }
    if (out.length > 0) yield finite(out);
  }

  /** Gives a forgotten series' share of the memory limits back. */
  private release(s: Series): void {
    this.liveBytes -= s.bytes;
    if (s.timing) this.samples -= s.timing.kept;
    if (s.set) this.members -= s.set.size;
  }

  /** When the previous flush ran: shapes not seen since are dropped from the cache at the next one. */
  private flushedAt = -Infinity;
  /** Hashes of the shapes of one-interval series the last flush let go (a shape seen again is recurring). */
  private pruned = new Set<number>();

  /**
   * After a flush: the line-shape cache keeps the shapes of live series, and of
   * series that recur (seen in an earlier interval too) and were updated in the
   * interval that just closed; keeping those saves resolving their names again.
   * Shapes refused by a limit and shapes of series seen in one interval only
   * go, and with them the identities they pinned: after a flood of new names,
   * the memory of its series is released at the next flush. (A series seen in
   * two intervals in a row is resolved twice, then cached.)
   */
  private pruneCache(): void {
    const since = this.flushedAt;
    const kept = new Map<number, Alias>();
    const pruned = new Set<number>();
    let n = 0;
    for (const [h, head] of this.aliases) {
      let chain: Alias | undefined;
      for (let a: Alias | undefined = head; a !== undefined; a = a.next) {
        const s = a.series;
        if (s === DROPPED) continue;
        if (s.alive || (s.recurring && s.lastUpdate >= since)) {
          chain = new Alias(a.hash2, a.nameLen, a.tagsLen, a.type, s, chain);
          n++;
        } else if (s.lastUpdate >= since && pruned.size < this.opts.maxSeries) pruned.add(h);
      }
      if (chain) kept.set(h, chain);
    }
    this.aliases = kept;
    this.cached = n;
    this.pruned = pruned;
  }
}

/**
 * A point's fields object in V8's dictionary mode. Field names here are the
 * series' own (`<name>_95_percentile`, ...): on an ordinary `{}` every distinct
 * name adds a hidden class to a transition tree that V8 clears in the atomic
 * pause of each major GC, so a flood of new names (bench/abuse: ~170,000 series,
 * 12 fields per timing) made every mark-compact pause 50–230 ms. A prototype-less
 * object starts as a dictionary and creates no hidden classes.
 */
function newFields(): Record<string, FieldValue> {
  return Object.create(null) as Record<string, FieldValue>;
}

/** Defence in depth: parse bounds keep aggregates finite, and a non-finite field would break line protocol. */
function finite(out: Point[]): Point[] {
  let bad = false;
  for (const p of out)
    for (const k in p.fields)
      if (typeof p.fields[k] === 'number' && !Number.isFinite(p.fields[k])) {
        delete p.fields[k];
        bad = true;
      }
  return bad ? out.filter((p) => Object.keys(p.fields).length > 0) : out;
}

function timingFields(f: Record<string, FieldValue>, field: string, t: TimingStats, percentiles: readonly number[]): void {
  f[`${field}_count`] = BigInt(Math.round(t.count));
  f[`${field}_sum`] = t.sum;
  f[`${field}_mean`] = t.mean;
  f[`${field}_lower`] = t.min;
  f[`${field}_upper`] = t.max;
  f[`${field}_stddev`] = t.stddev;
  const sorted = t.sortedSamples();
  for (const p of percentiles) f[`${field}_${p}_percentile`] = percentileOf(sorted, p);
}

/** Nearest rank as Telegraf/DataKit compute it: sorted[floor(n × p / 100)], clamped. */
export function percentileOf(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.floor((sorted.length * p) / 100)));
  return sorted[i]!;
}
