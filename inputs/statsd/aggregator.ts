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
import type { LineBuf } from '../../agent/model/linebuf.js';
import { msToNs, type Point } from '../../agent/model/point.js';
import { LineWriter, PointWriter, timingFields, timingSuffixes, type ChunkWriter, type TimingSuffixes } from './emit.js';
import { decodeKey, decodeTags, own, resolveSeries, type DecodedKey, type NamingOptions } from './naming.js';
import { lineName, lineTags, lineValues, newScannedLine, parseValueAt, scanLine, type MalformedReason } from './parser.js';
import { REFUSED, ShapeCache, TYPE_INDEX } from './shapes.js';
import { TimingTable } from './timing.js';

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

/** Slot flags. */
const LIVE = 1; // in the current interval's series map
const RECURRING = 2; // seen in an earlier interval too: its line shapes stay cached across a flush
const PENDING = 4; // detached by a flush and not yet emitted

const COUNT_LABELS = ['c', 'g', 's', 'ms', 'h', 'd', 'event', 'service_check'] as const;
const TIMING_KIND = 3; // TYPE_INDEX of ms; h and d follow

export class Aggregator {
  /** The live series of the interval: key → slot. */
  private series = new Map<string, number>();
  private readonly shapes: ShapeCache;
  /** Running totals against the memory limits (maxSeriesBytes, maxTimingSamples, maxSetMembers). */
  private liveBytes = 0;
  /** Series detached by a flush and not yet emitted (flushChunks). */
  private unemitted = 0;
  /** max_series_bytes refused a series: no new ones until a flush frees bytes. */
  private bytesFull = false;
  private samples = 0;
  private members = 0;
  private readonly scanned = newScannedLine();
  private readonly values: number[] = [];
  private readonly typeCounts = new Float64Array(COUNT_LABELS.length);
  private counts: Counts = { malformed: new Map(), dropped: new Map(), metrics: new Map() };
  /** Events and service checks parsed since the last takeSpecial(). */
  private special: string[] = [];
  /** Wall clock for lastUpdate: set once per ingest() call, not per line. */
  private now = Date.now();

  // ---- series slots: one row per series in parallel arrays (no object per series) ----
  // A slot lives while something refers to it (`refs`): the interval's map, a flush that has
  // not emitted it yet, and each cached line shape that points at it (a shape keeps the
  // identity of a series that recurs, so it is not resolved again after the flush that
  // forgot its aggregates). Freed slots are reused; when none is in use the arrays go.
  private cap = 0;
  private keys: Array<string | undefined> = [];
  private kind = new Uint8Array(0);
  private flags = new Uint8Array(0);
  /** Counter sum / gauge value. */
  private value = new Float64Array(0);
  private last = new Float64Array(0);
  /** What a series counts against maxSeriesBytes. */
  private bytes = new Int32Array(0);
  private refs = new Int32Array(0);
  /** A timing series' row in `timings`, else -1. */
  private timingRow = new Int32Array(0);
  /** A set's members: one as a string, more as a Set. */
  private sets: Array<string | Set<string> | undefined> = [];
  private readonly timings: TimingTable;
  /** Where a flush sorts a timing series' samples (percentile_limit long). */
  private readonly scratch: Float64Array;
  private freeSlots: number[] = [];
  private nextSlot = 0;
  private used = 0;

  constructor(private readonly opts: AggregatorOptions) {
    this.shapes = new ShapeCache(opts.aliasLimit ?? Math.max(10_000, 2 * opts.maxSeries), (s) => this.unref(s));
    this.timings = new TimingTable(opts.percentileLimit);
    this.scratch = new Float64Array(opts.percentileLimit);
  }

  /** Live series. */
  get size(): number {
    return this.series.size;
  }

  /** Entries in the line-shape cache. */
  get cacheSize(): number {
    return this.shapes.size;
  }

  /** Series slots in use (live, awaiting emission, or kept by a cached shape). */
  get slots(): number {
    return this.used;
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

    const e = this.shapes.find(sc);
    let s = e >= 0 ? this.shapes.slotOf(e) : -1;
    if (s < 0 || (this.flags[s]! & LIVE) === 0) {
      s = this.lookup(e);
      if (s < 0) return;
    }
    this.last[s] = this.now;
    const rate = sc.rate;
    const ti = TYPE_INDEX[type];
    switch (type) {
      case 'c':
        if (many === undefined) this.value[s]! += one / rate;
        else for (const v of many) this.value[s]! += v / rate;
        break;
      case 'g':
        // DogStatsD packs `g:1:2:3` as successive values: the last one stands
        if (many === undefined) this.value[s] = delta ? this.value[s]! + one : one;
        else for (const v of many) this.value[s] = delta ? this.value[s]! + v : v;
        break;
      case 's': {
        const members = lineValues(sc).split(':');
        for (const m of members) this.addMember(s, m);
        this.typeCounts[ti]! += members.length - 1;
        break;
      }
      default: {
        let r = this.timingRow[s]!;
        if (r < 0) this.timingRow[s] = r = this.timings.alloc();
        const w = 1 / rate;
        const max = this.opts.maxTimingSamples || Infinity;
        if (many === undefined) this.sample(r, one, w, max);
        else for (const v of many) this.sample(r, v, w, max);
      }
    }
    this.typeCounts[ti]! += many === undefined ? 1 : many.length;
  }

  /** Adds a distinct member to a set, within max_set_size and max_set_members (counted when refused). */
  private addMember(s: number, m: string): void {
    const cur = this.sets[s];
    const size = cur === undefined ? 0 : typeof cur === 'string' ? 1 : cur.size;
    if (size > 0 && (typeof cur === 'string' ? cur === m : cur!.has(m))) return;
    if (size >= this.opts.maxSetSize) return this.drop('set_limit');
    if (this.members >= (this.opts.maxSetMembers || Infinity)) return this.drop('set_members');
    m = own(m); // a copy: a slice would pin the packet
    if (cur === undefined) this.sets[s] = m;
    else if (typeof cur === 'string') this.sets[s] = new Set([cur, m]);
    else cur.add(m);
    this.members++;
  }

  private setSize(s: number): number {
    const cur = this.sets[s];
    return cur === undefined ? 0 : typeof cur === 'string' ? 1 : cur.size;
  }

  /** Adds a timing value; beyond maxTimingSamples it counts in the stats but is not kept for percentiles (counted). */
  private sample(r: number, v: number, w: number, max: number): void {
    const res = this.timings.add(r, v, w, this.samples < max);
    if (res > 0) this.samples++;
    else if (res < 0) this.drop('timing_samples');
  }

  /**
   * Cache miss, a refused shape, or a series the last flush forgot: finds or
   * creates the live series for the scanned line. `e` is its shape's cache
   * entry, or -1. Returns the slot, or -1 when the line is refused.
   */
  private lookup(e: number): number {
    const sc = this.scanned;
    // series of the last interval not yet emitted count too: a slow flush must not double the live set
    const full = this.series.size + this.unemitted >= this.opts.maxSeries || this.bytesFull;
    const known = e >= 0 ? this.shapes.slotOf(e) : -1;
    if (full && known < 0) {
      // At the limit, a shape not seen before (or already refused) is refused without
      // resolving it: resolving costs ~3 µs, and a cardinality flood is all new shapes.
      // (The rare new spelling of a live series, e.g. another tag order, is refused too.)
      // Nor is it cached: a flood would fill the cache with refusals, clear it, fill it
      // again, and every round would be garbage for V8's old generation.
      this.drop(this.series.size + this.unemitted >= this.opts.maxSeries ? 'series_limit' : 'series_bytes');
      return -1;
    }
    let key: string;
    let bytes: number;
    if (known >= 0) {
      // an identity kept from an earlier interval
      key = this.keys[known]!;
      bytes = this.bytes[known]!;
    } else {
      const id = resolveSeries(lineName(sc), sc.type, lineTags(sc), this.opts);
      if (id === undefined) {
        this.malformed('bad_name');
        return -1;
      }
      key = id.key;
      bytes = id.bytes;
    }
    let s = this.series.get(key);
    if (s === undefined) {
      const tooBig = this.opts.maxSeriesBytes !== undefined && this.opts.maxSeriesBytes > 0 && this.liveBytes + bytes > this.opts.maxSeriesBytes;
      if (full || tooBig) {
        // the byte budget refused one: the interval takes no new series (refused without resolving, as above)
        if (tooBig) this.bytesFull = true;
        this.drop(this.series.size + this.unemitted >= this.opts.maxSeries ? 'series_limit' : 'series_bytes');
        // remember the shape, cheaply, so a flood of it is not re-resolved per line
        if (e < 0) this.shapes.add(sc, REFUSED);
        else this.shapes.retarget(e, REFUSED);
        return -1;
      }
      if (known >= 0 && (this.flags[known]! & PENDING) === 0) {
        // the kept identity's slot itself (its aggregates went with the flush that emitted them)
        s = known;
        this.value[s] = 0;
      } else s = this.allocSlot(key, TYPE_INDEX[sc.type], bytes);
      // an identity kept from the last interval, or a shape the last flush let go: a series that comes back
      this.flags[s] = LIVE | (e >= 0 || this.pruned.has(sc.hash) ? RECURRING : 0);
      this.refs[s]!++;
      this.series.set(key, s);
      this.liveBytes += bytes;
    }
    if (e < 0) {
      this.refs[s]!++;
      this.shapes.add(sc, s);
    } else if (this.shapes.slotOf(e) !== s) {
      this.refs[s]!++;
      this.shapes.retarget(e, s);
    }
    return s;
  }

  private allocSlot(key: string, kind: number, bytes: number): number {
    let s: number;
    if (this.freeSlots.length > 0) s = this.freeSlots.pop()!;
    else {
      s = this.nextSlot++;
      if (s >= this.cap) this.growSlots();
      this.keys.push(undefined);
      this.sets.push(undefined);
    }
    this.keys[s] = key;
    this.kind[s] = kind;
    this.flags[s] = 0;
    this.value[s] = 0;
    this.last[s] = 0;
    this.bytes[s] = bytes;
    this.refs[s] = 0;
    this.timingRow[s] = -1;
    this.used++;
    return s;
  }

  private growSlots(): void {
    const cap = Math.max(256, this.cap * 2);
    const grow = <T extends Uint8Array | Int32Array | Float64Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.kind = grow(this.kind, (n) => new Uint8Array(n));
    this.flags = grow(this.flags, (n) => new Uint8Array(n));
    this.value = grow(this.value, (n) => new Float64Array(n));
    this.last = grow(this.last, (n) => new Float64Array(n));
    this.bytes = grow(this.bytes, (n) => new Int32Array(n));
    this.refs = grow(this.refs, (n) => new Int32Array(n));
    this.timingRow = grow(this.timingRow, (n) => new Int32Array(n));
    this.cap = cap;
  }

  /** Gives up one reference on a slot; the last one frees it. */
  private unref(s: number): void {
    if (--this.refs[s]! > 0) return;
    this.dropAggregates(s);
    this.keys[s] = undefined;
    this.freeSlots.push(s);
    this.used--;
  }

  /** Every slot free: the arrays go too, so the memory of a flood returns. */
  private shrinkSlots(): void {
    if (this.used > 0 || this.cap === 0) return;
    this.cap = 0;
    this.nextSlot = 0;
    this.freeSlots = [];
    this.keys = [];
    this.sets = [];
    this.kind = new Uint8Array(0);
    this.flags = new Uint8Array(0);
    this.value = new Float64Array(0);
    this.last = new Float64Array(0);
    this.bytes = new Int32Array(0);
    this.refs = new Int32Array(0);
    this.timingRow = new Int32Array(0);
  }

  /** Frees a series' samples and members (they have been emitted, or the series is gone). */
  private dropAggregates(s: number): void {
    const r = this.timingRow[s]!;
    if (r >= 0) {
      this.timings.release(r);
      this.timingRow[s] = -1;
    }
    this.sets[s] = undefined;
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

  private deletes(kind: number): boolean {
    switch (kind) {
      case 0:
        return this.opts.deleteCounters;
      case 1:
        return this.opts.deleteGauges;
      case 2:
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
    yield* this.flushWith(nowMs, chunk, new PointWriter(msToNs(nowMs)));
  }

  /**
   * flushChunks() written as line protocol, each point one line with `tagsToAdd`
   * (the accumulator's input and global tags) added for the keys it lacks, as the
   * core would add them to a point: the same bytes as the points encoded, without
   * building them (a flush of 100,000 timing series made 1.2 million property keys,
   * each interned by V8). Each chunk is a LineBuf that is reused for the next one:
   * hand it on (Accumulator.addLines copies it) before asking for the next.
   */
  *flushLines(nowMs: number, chunk: number, tagsToAdd: Readonly<Record<string, string>>): Generator<LineBuf> {
    yield* this.flushWith(nowMs, chunk, new LineWriter(msToNs(nowMs), tagsToAdd));
  }

  private *flushWith<T>(nowMs: number, chunk: number, w: ChunkWriter<T>): Generator<T> {
    const o = this.opts;
    // The interval closes at once: its series are swapped out and new lines start the next
    // interval's. Detaching them (100,000 at the limit) is done in steps with an empty chunk
    // between, so the caller's time slice covers it too. Until a series is visited, a line that
    // finds it through the line-shape cache still counts in this interval; one that resolves it
    // again starts a new series, and the old one is then emitted and dropped.
    const closing = this.series;
    this.series = new Map();
    this.unemitted = closing.size;
    const emit = new Int32Array(closing.size);
    let n = 0;
    for (const [k, s] of closing) {
      emit[n++] = s;
      this.flags[s]! |= PENDING;
      this.refs[s]!++;
      const expired = o.maxTtlMs > 0 && nowMs - this.last[s]! >= o.maxTtlMs;
      if (this.deletes(this.kind[s]!) || expired || this.series.has(k)) {
        this.flags[s]! &= ~LIVE;
        this.release(s);
        this.unref(s); // the map's reference
      } else this.series.set(k, s);
      if (n % DETACH_STEP === 0) yield w.take();
    }
    this.pruneCache();
    this.flushedAt = nowMs;
    this.bytesFull = false;

    // Series are grouped per (measurement, tags) within a chunk of at most `chunk` points, then
    // written group by group; a series stays pending (its aggregates kept) until written.
    let open = new Map<string, Group>();
    let groups: Group[] = [];
    const timingWidth = 6 + o.percentiles.length;
    const names = timingSuffixes(o.percentiles);
    for (let i = 0; i < n; i++) {
      const s = emit[i]!;
      const key = this.keys[s]!;
      const id = decodeKey(key);
      const width = this.kind[s]! < TIMING_KIND ? 1 : timingWidth;
      const group = key.slice(id.group);
      let g = open.get(group);
      if (g === undefined || (g.fields > 0 && g.fields + width > MAX_FIELDS_PER_POINT)) {
        if (groups.length >= chunk) {
          yield this.writeGroups(groups, w, names);
          groups = [];
          open = new Map();
        }
        g = { id, key, slots: [], fields: 0 };
        open.set(group, g);
        groups.push(g);
      }
      g.fields += width;
      g.slots.push(s);
    }
    if (groups.length > 0) yield this.writeGroups(groups, w, names);
    this.shrinkSlots();
  }

  /** Writes a chunk's points, then lets its series go (their aggregates, when forgotten). */
  private writeGroups<T>(groups: Group[], w: ChunkWriter<T>, names: TimingSuffixes): T {
    const o = this.opts;
    for (const g of groups) {
      w.begin(g.id.measurement, decodeTags(g.key, g.id));
      for (const s of g.slots) {
        const field = s === g.slots[0] ? g.id.field : decodeKey(this.keys[s]!).field;
        // Defence in depth: parse bounds keep aggregates finite, and a non-finite field would
        // break line protocol; one that is not is left out (checked here, not by another pass)
        switch (this.kind[s]!) {
          case 0: {
            const v = this.value[s]!;
            if (Number.isFinite(v)) w.field(field, o.setCounterInt ? BigInt(Math.trunc(v)) : v);
            break;
          }
          case 1: {
            const v = this.value[s]!;
            if (Number.isFinite(v)) w.field(field, v);
            break;
          }
          case 2:
            w.field(field, BigInt(this.setSize(s)));
            break;
          default: {
            const r = this.timingRow[s]!;
            if (r >= 0) timingFields(w, field, this.timings, r, names, this.scratch);
          }
        }
        // emitted and forgotten: its samples and members go now, even if a cached shape still keeps its identity
        if ((this.flags[s]! & LIVE) === 0) this.dropAggregates(s);
        this.flags[s]! &= ~PENDING;
        this.unref(s);
        this.unemitted--;
      }
      w.end();
    }
    return w.take();
  }

  /** Gives a forgotten series' share of the memory limits back. */
  private release(s: number): void {
    this.liveBytes -= this.bytes[s]!;
    const r = this.timingRow[s]!;
    if (r >= 0) this.samples -= this.timings.kept(r);
    this.members -= this.setSize(s);
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
   * go, and with them the identities they kept: after a flood of new names,
   * the memory of its series is released at the next flush. (A series seen in
   * two intervals in a row is resolved twice, then cached.)
   */
  private pruneCache(): void {
    const since = this.flushedAt;
    const pruned = new Set<number>();
    this.shapes.prune(
      (s) => (this.flags[s]! & LIVE) !== 0 || ((this.flags[s]! & RECURRING) !== 0 && this.last[s]! >= since),
      (hash, s) => {
        if (this.last[s]! >= since && pruned.size < this.opts.maxSeries) pruned.add(hash);
      },
    );
    this.pruned = pruned;
  }
}

interface Group {
  id: DecodedKey;
  key: string;
  slots: number[];
  fields: number;
}

export { percentileOf } from './emit.js';
