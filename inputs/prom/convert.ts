/**
 * Prometheus samples → telekit points, the DataKit way (spec "prom input"):
 *
 * - name mapping, in order: a `[[measurements]]` prefix rule; `measurement_name`
 *   (the field is the whole metric name); otherwise split on the first `_`
 *   (a leading `_` stripped) into measurement and field; `measurement_prefix`
 *   prefixes the measurement unless `measurement_name` is set;
 * - histogram/summary series keep their suffix in the field (`<f>_bucket` with
 *   tag `le`, `<f>_count`, `<f>_sum`; quantiles as `<f>` with tag `quantile`);
 * - samples of one scrape with the same measurement, labels and time are merged
 *   into one point with several fields (DataKit's storage merges them anyway);
 * - NaN/Inf values are skipped (by the parser);
 * - the labels of `*_info` / `info` metrics become tags of the other points
 *   (unless `disable_info_tag`).
 *
 * A Converter is kept per target; name mappings and filter verdicts are kept
 * per config (names.ts) because the set of metric names is stable.
 */
import type { LineBuf } from '../../agent/model/linebuf.js';
import type { Point } from '../../agent/model/point.js';
import { ExpositionParser, parseLabels, type Family, type ParseStats } from './parser.js';
import { addField, LineHeads, type HeadCache, type Rec } from './lines.js';
import { namesOf, type ConvertOptions, type Mapping, type NameTable } from './names.js';

export type { ConvertOptions } from './names.js';

/**
 * A series' tags template: rebuilt in a fast V8 shape (objects whose keys were
 * added one by one become slow dictionaries past a dozen keys) and frozen.
 * Every point of the series shares it: the core then decorates it once
 * (agent/input/running-input.ts decorateFrozen) and the encoder writes its escaped text from a
 * cache (linebuf.ts), instead of a copy, a decoration and an escape per point.
 */
function template(o: Record<string, string>): Readonly<Record<string, string>> {
  return Object.freeze(JSON.parse(JSON.stringify(o)) as Record<string, string>);
}

/** A label set seen in a scrape: its tags, and its points in the current scrape (`gen`). */
interface Series extends HeadCache {
  /** Tags before info tags; null when ignore_tag_kv_match drops the series, undefined when its labels are malformed. */
  tags: Readonly<Record<string, string>> | null | undefined;
  gen: number;
  /** The first measurement's point (the common case), then the others. */
  m0: string;
  p0: Point | undefined;
  more: Map<string, Point> | undefined;
  /** tags plus the info labels of generation infoGen */
  merged?: Readonly<Record<string, string>>;
  infoGen?: number;
  /** Lines mode: the first measurement's line being built, then the others (see convertLines). */
  r0?: Rec | undefined;
  rmore?: Map<string, Rec> | undefined;
}
const MAX_CACHE = 100_000;

/** What convertLines() wrote. */
export interface LinesResult {
  /** Lines written (one per point the points way would make). */
  lines: number;
  stats: ParseStats;
  filtered: number;
}

export interface ConvertResult {
  points: Point[];
  stats: ParseStats;
  /** Samples dropped by metric_types, name filters or ignore_tag_kv_match. */
  filtered: number;
}

export class Converter {
  private readonly names: NameTable;
  private readonly tagsIgnore: Set<string>;
  private readonly kvMatch: Map<string, RegExp[]>;
  private readonly renames: [string, string][];
  private readonly labelBuf: string[] = [];
  /** Raw label text → its series, kept across scrapes: the set of series is stable. */
  private readonly series = new Map<string, Series>();
  /**
   * Positional cache: a target's bodies repeat their lines in the same order,
   * so sample i is usually the same series text of the parser's (the same
   * object) in the same family as sample i of the previous scrape, and has the
   * same mapping and series.
   */
  private readonly posLine: (object | undefined)[] = [];
  private readonly posFam: Family[] = [];
  private readonly posM: Mapping[] = [];
  private readonly posS: (Series | undefined)[] = [];
  private textParser: ExpositionParser | undefined;
  private infoSig = '';
  /** The info series of the last scrape and their labels (see infoLabels). */
  private lastInfo: { series: readonly HeadCache[]; extra: Record<string, string> | undefined } | undefined;
  private infoGen = 0;
  private omParser: ExpositionParser | undefined;
  private gen = 0;
  private lastBase: Readonly<Record<string, string>> | undefined;

  constructor(private readonly o: ConvertOptions) {
    this.names = namesOf(o);
    this.tagsIgnore = new Set(o.tags_ignore);
    this.kvMatch = new Map(Object.entries(o.ignore_tag_kv_match).map(([k, rs]) => [k, rs.map((r) => new RegExp(r))]));
    this.renames = Object.entries(o.tags_rename.mapping);
  }

  /** Builds the tags of a label set, or null when ignore_tag_kv_match drops it. */
  private tags(rawLabels: string, base: Readonly<Record<string, string>>): Readonly<Record<string, string>> | null | undefined {
    const t: Record<string, string> = {};
    if (rawLabels !== '') {
      const buf = this.labelBuf;
      const n = parseLabels(rawLabels, buf);
      if (n < 0) return undefined;
      const ignore = this.tagsIgnore;
      const kv = this.kvMatch;
      for (let i = 0; i < n; i += 2) {
        const k = buf[i]!;
        const v = buf[i + 1]!;
        if (kv.size > 0) {
          const rs = kv.get(k);
          if (rs !== undefined && rs.some((r) => r.test(v))) return null;
        }
        if (ignore.size > 0 && ignore.has(k)) continue;
        t[k] = v;
      }
    }
    for (const [from, to] of this.renames) {
      const v = t[from];
      if (v === undefined || from === to) continue;
      if (t[to] !== undefined && !this.o.tags_rename.overwrite_exist_tags) continue;
      t[to] = v;
      delete t[from];
    }
    for (const k in base) if (t[k] === undefined) t[k] = base[k]!;
    return template(t);
  }

  /** The mapping of the sample resolve() last looked at. */
  private m: Mapping | undefined;

  /**
   * The series of sample i (undefined when its metric is filtered out), its
   * mapping left in `this.m`. `line` is the parser's object for the sample's
   * line (its series text), undefined when it keeps none. The parser hands
   * over strings it owns (its previous-body cache), not slices of the body,
   * so caching them here keeps no body alive.
   */
  private resolve(i: number, line: object | undefined, name: string, family: Family, rawLabels: string, base: Readonly<Record<string, string>>): Series | undefined {
    if (line !== undefined && this.posLine[i] === line && this.posFam[i] === family) {
      this.m = this.posM[i];
      return this.posS[i];
    }
    const m = this.names.get(name, family);
    this.m = m;
    let s: Series | undefined;
    if (!m.skip) {
      s = this.series.get(rawLabels);
      if (s === undefined) {
        s = { tags: this.tags(rawLabels, base), gen: 0, m0: '', p0: undefined, more: undefined };
        this.series.set(rawLabels, s);
      }
    }
    if (line !== undefined && i <= this.posLine.length && i < MAX_CACHE) {
      this.posLine[i] = line;
      this.posFam[i] = family;
      this.posM[i] = m;
      this.posS[i] = s;
    }
    return s;
  }

  /** Empties the positional cache, or trims it to `n` samples. */
  private trimPos(n: number): void {
    this.posLine.length = n;
    this.posFam.length = n;
    this.posM.length = n;
    this.posS.length = n;
  }

  /** Starts a scrape: series are forgotten when the base tags change (a new target); returns the scrape's generation. */
  private begin(base: Readonly<Record<string, string>>): number {
    if (base !== this.lastBase) {
      this.series.clear();
      this.trimPos(0);
      this.lastInfo = undefined;
      this.lastBase = base;
    }
    return ++this.gen;
  }

  /**
   * Parses and converts one scrape body. `base` tags are added to every point
   * (labels win); `timeNs` stamps points without an honoured timestamp.
   */
  convert(text: string, openMetrics: boolean, base: Readonly<Record<string, string>>, timeNs: bigint): ConvertResult {
    const gen = this.begin(base);
    const allSeries = this.series;
    const points: Point[] = [];
    /** The series of each point, and whether it is an info metric's point. */
    const pointSeries: Series[] = [];
    const pointInfo: boolean[] = [];
    const honor = this.o.honor_timestamps;
    let filtered = 0;
    let invalid = 0;
    let seen = 0;
    /** Samples carrying their own timestamp: keyed by measurement, labels and time (rare). */
    let stampedPoints: Map<string, Point> | undefined;
    let i = 0;
    const parser = openMetrics ? (this.omParser ??= new ExpositionParser(true, true)) : (this.textParser ??= new ExpositionParser(false, true));
    const stats = parser.parse(text, (name, family, rawLabels, value, tsMs, line) => {
      const s = this.resolve(i++, line, name, family, rawLabels, base);
      const m = this.m!;
      if (s === undefined) {
        filtered++;
        return;
      }
      if (s.tags === undefined) {
        invalid++;
        return;
      }
      if (s.tags === null) {
        filtered++;
        return;
      }
      if (s.gen !== gen) {
        s.gen = gen;
        s.p0 = undefined;
        s.more = undefined;
        seen++;
      }
      let p: Point | undefined;
      if (honor && tsMs === tsMs) {
        // the sample has its own timestamp (tsMs is not NaN)
        const key = `${m.measurement}\x01${rawLabels}\x01${tsMs}`;
        stampedPoints ??= new Map();
        p = stampedPoints.get(key);
        if (p === undefined) {
          // tags: the series template, or its merge with the info labels (finishTags)
          p = { category: 'metric', name: m.measurement, tags: s.tags as Record<string, string>, fields: {}, time: BigInt(Math.round(tsMs)) * 1_000_000n };
          stampedPoints.set(key, p);
          points.push(p);
          pointSeries.push(s);
          pointInfo.push(m.info);
        }
      } else if (s.p0 !== undefined && s.m0 === m.measurement) {
        p = s.p0;
      } else {
        if (s.p0 !== undefined) {
          s.more ??= new Map();
          p = s.more.get(m.measurement);
        }
        if (p === undefined) {
          p = { category: 'metric', name: m.measurement, tags: s.tags as Record<string, string>, fields: {}, time: timeNs };
          if (s.p0 === undefined) {
            s.p0 = p;
            s.m0 = m.measurement;
          } else s.more!.set(m.measurement, p);
          points.push(p);
          pointSeries.push(s);
          pointInfo.push(m.info);
        }
      }
      p.fields[m.field] = value;
    });
    // forget series gone for good (bounded memory across scrapes)
    if (allSeries.size > 2 * seen + 1000) {
      for (const [k, s] of allSeries) if (s.gen !== gen) allSeries.delete(k);
      this.trimPos(0);
    }
    if (this.posLine.length > i + 1000) this.trimPos(i);
    this.finishTags(points, pointSeries, pointInfo, base);
    if (invalid > 0) {
      stats.samples -= invalid;
      stats.invalid += invalid;
    }
    return { points, stats, filtered };
  }
  private readonly heads = new LineHeads();

  /**
   * convert(), written straight into `out` as the lines the core would write
   * for the points once it added `add` (Accumulator.tagsToAdd) to their tags.
   * Returns undefined, writing nothing, for a scrape whose points lines mode
   * cannot reproduce exactly (samples with their own timestamps, a field key
   * given twice in a point, empty or array-index keys): convert() it instead.
   */
  convertLines(text: string, openMetrics: boolean, base: Readonly<Record<string, string>>, timeNs: bigint, add: Readonly<Record<string, string>>, out: LineBuf): LinesResult | undefined {
    const gen = this.begin(base);
    const allSeries = this.series;
    const recs: Rec[] = [];
    /** the series of the info metrics' lines, in order */
    const infoSeries: Series[] = [];
    const honor = this.o.honor_timestamps;
    let filtered = 0;
    let invalid = 0;
    let seen = 0;
    let odd = false;
    let i = 0;
    const parser = openMetrics ? (this.omParser ??= new ExpositionParser(true, true)) : (this.textParser ??= new ExpositionParser(false, true));
    const stats = parser.parse(text, (name, family, rawLabels, value, tsMs, line) => {
      const s = this.resolve(i++, line, name, family, rawLabels, base);
      const m = this.m!;
      if (s === undefined || s.tags === null) {
        filtered++;
        return;
      }
      if (s.tags === undefined) {
        invalid++;
        return;
      }
      if (odd || m.odd || (honor && tsMs === tsMs)) {
        odd = true;
        return;
      }
      if (s.gen !== gen) {
        s.gen = gen;
        s.r0 = undefined;
        s.rmore = undefined;
        seen++;
      }
      let r: Rec | undefined;
      if (s.r0 !== undefined && s.m0 === m.measurement) r = s.r0;
      else {
        if (s.r0 !== undefined) {
          s.rmore ??= new Map();
          r = s.rmore.get(m.measurement);
        }
        if (r === undefined) {
          r = { s, measurement: m.measurement, escName: m.escName, info: m.info, keys: [], vals: [], set: undefined };
          if (s.r0 === undefined) {
            s.r0 = r;
            s.m0 = m.measurement;
          } else s.rmore!.set(m.measurement, r);
          recs.push(r);
          if (r.info) infoSeries.push(s);
        }
      }
      if (!addField(r, m.keyEq, value)) odd = true;
    });
    // forget series gone for good (bounded memory across scrapes)
    if (allSeries.size > 2 * seen + 1000) {
      for (const [k, s] of allSeries) if (s.gen !== gen) allSeries.delete(k);
      this.trimPos(0);
    }
    if (this.posLine.length > i + 1000) this.trimPos(i);
    for (const r of recs) {
      (r.s as Series).r0 = undefined;
      (r.s as Series).rmore = undefined;
    }
    if (odd) return undefined;
    const extra = this.infoLabels(infoSeries, base);
    const heads = this.heads;
    heads.update(this.infoGen, extra, add);
    const time = ' ' + timeNs;
    for (const r of recs) heads.write(r, time, out);
    if (invalid > 0) {
      stats.samples -= invalid;
      stats.invalid += invalid;
    }
    return { lines: recs.length, stats, filtered };
  }

  /**
   * The labels of the scrape's info metrics (`info[j]`: the point of
   * `series[j]` is an info metric's), which the other points get as tags
   * where they lack the key; undefined when there are none. Bumps infoGen
   * when they differ from the previous scrape's.
   */
  private infoLabels(infoSeries: readonly HeadCache[], base: Readonly<Record<string, string>>): Record<string, string> | undefined {
    // the same info series as the previous scrape (their tags are frozen, and base is the series'): the same labels
    const last = this.lastInfo;
    if (last !== undefined && last.series.length === infoSeries.length && last.series.every((s, j) => s === infoSeries[j])) return last.extra;
    let extra: Record<string, string> | undefined;
    if (!this.o.disable_info_tag) {
      for (const s of infoSeries) {
        const t = s.tags!;
        extra ??= {};
        for (const k in t) if (extra[k] === undefined && base[k] === undefined) extra[k] = t[k]!;
      }
    }
    const sig = extra === undefined ? '' : JSON.stringify(extra);
    if (sig !== this.infoSig) {
      this.infoSig = sig;
      this.infoGen++;
    }
    this.lastInfo = { series: infoSeries, extra };
    return extra;
  }

  /**
   * Gives every point its series' frozen template, with the labels of the
   * scrape's info metrics added to the non-info points (existing tags win).
   * The merged template is cached per series until the info labels change.
   */
  private finishTags(points: Point[], series: Series[], info: boolean[], base: Readonly<Record<string, string>>): void {
    const extra = this.infoLabels(
      series.filter((_, j) => info[j]),
      base,
    );
    const gen = this.infoGen;
    for (let j = 0; j < points.length; j++) {
      const s = series[j]!;
      // the series' points of this scrape are handed over: do not keep them until the next one
      s.p0 = undefined;
      s.more = undefined;
      if (extra === undefined || info[j]) {
        points[j]!.tags = s.tags as Record<string, string>;
        continue;
      }
      if (s.infoGen !== gen || s.merged === undefined) {
        const m: Record<string, string> = { ...s.tags };
        for (const k in extra) if (m[k] === undefined) m[k] = extra[k]!;
        s.merged = template(m);
        s.infoGen = gen;
      }
      points[j]!.tags = s.merged as Record<string, string>;
    }
  }
}

