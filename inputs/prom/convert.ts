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
 * A Converter is kept per target; name mappings and filter verdicts (names.ts)
 * and label sets with their tags and line text (labels.ts) are kept per config,
 * because the set of metric names and label texts is stable and shared by the
 * targets: a target keeps its base tags and suffix (lines.ts LineHeads), and
 * the points way its series' templates.
 */
import type { LineBuf } from '../../agent/model/linebuf.js';
import type { Point } from '../../agent/model/point.js';
import { ExpositionParser, type Family, type ParseStats, type SeriesText } from './parser.js';
import { addField, beginFields, LineHeads, recId, type Rec } from './lines.js';
import { labelsOf, template, type LabelSet, type LabelTable } from './labels.js';
import { namesOf, type ConvertOptions, type Mapping, type NameTable } from './names.js';

export type { ConvertOptions } from './names.js';

/**
 * What a series text resolves to under one config: its name's mapping and its
 * label set (undefined when the metric is filtered out). Kept on the parser's
 * shared series text (SeriesText.memo), so every target of the config finds it
 * there: a target keeps nothing per line of its own but the parser's two slots.
 */
interface Resolved {
  readonly names: NameTable;
  /** The name table's epoch it was made in: a table that started again made it stale (NameTable.epoch). */
  readonly epoch: number;
  readonly m: Mapping;
  readonly ls: LabelSet | undefined;
}

/** The points way: a label set in one target, with the target's base tags, and its points in the current scrape (`gen`). */
interface Series {
  /** The label set's tags plus the base tags where the labels lack the key, frozen (see template()); null or undefined as the label set's. */
  tags: Readonly<Record<string, string>> | null | undefined;
  gen: number;
  /** The first measurement's point (the common case), then the others. */
  m0: string;
  p0: Point | undefined;
  more: Map<string, Point> | undefined;
  /** tags plus the info labels of generation infoGen */
  merged: Readonly<Record<string, string>> | undefined;
  infoGen: number;
}

/** Stamps convertLines' scrapes (LabelSet.stamp): label sets are shared by converters, a scrape's scratch on them is its own. */
let stamps = 0;

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
  private readonly labels: LabelTable;
  /** The points way's series of this target by label set (see Series); lines mode keeps none. */
  private readonly series = new Map<LabelSet, Series>();
  private textParser: ExpositionParser | undefined;
  private infoSig = '';
  /** The info series of the last scrape and their labels (see infoLabels). */
  private lastInfo: { series: readonly object[]; extra: Record<string, string> | undefined } | undefined;
  private infoGen = 0;
  private omParser: ExpositionParser | undefined;
  private gen = 0;
  private lastBase: Readonly<Record<string, string>> | undefined;

  constructor(private readonly o: ConvertOptions) {
    this.names = namesOf(o);
    this.labels = labelsOf(o);
  }

  /**
   * The mapping and label set of a sample. `line` is the parser's shared object
   * for the sample's series text, undefined when it keeps none; its memo is
   * checked against this config and the sample's family (a later body may
   * declare the name's family differently).
   */
  private resolve(line: SeriesText | undefined, name: string, family: Family, rawLabels: string): Resolved {
    if (line !== undefined) {
      const r = line.memo as Resolved | undefined;
      if (r !== undefined && r.names === this.names && r.epoch === this.names.epoch && r.m.fname === family.name && r.m.ftype === family.type) return r;
    }
    const m = this.names.get(name, family);
    const r: Resolved = { names: this.names, epoch: this.names.epoch, m, ls: m.skip ? undefined : this.labels.get(rawLabels) };
    if (line !== undefined) line.memo = r;
    return r;
  }

  /** The points way's series of label set `ls` in this target. */
  private seriesOf(ls: LabelSet, base: Readonly<Record<string, string>>): Series {
    let s = this.series.get(ls);
    if (s === undefined) {
      let tags = ls.tags;
      if (tags) {
        const t: Record<string, string> = { ...tags };
        for (const k in base) if (t[k] === undefined) t[k] = base[k]!;
        tags = template(t);
      }
      s = { tags, gen: 0, m0: '', p0: undefined, more: undefined, merged: undefined, infoGen: 0 };
      this.series.set(ls, s);
    }
    return s;
  }

  /** Starts a scrape: series are forgotten when the base tags change (a new target); returns the scrape's generation. */
  private begin(base: Readonly<Record<string, string>>): number {
    if (base !== this.lastBase) {
      this.series.clear();
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
    const parser = openMetrics ? (this.omParser ??= new ExpositionParser(true, true)) : (this.textParser ??= new ExpositionParser(false, true));
    const stats = parser.parse(text, (name, family, rawLabels, value, tsMs, line) => {
      const { m, ls } = this.resolve(line, name, family, rawLabels);
      if (ls === undefined) {
        filtered++;
        return;
      }
      const s = this.seriesOf(ls, base);
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
    if (allSeries.size > 2 * seen + 1000) for (const [k, s] of allSeries) if (s.gen !== gen) allSeries.delete(k);
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
    this.begin(base);
    const stamp = ++stamps;
    /** the lines of this scrape take ids from here on (see addField) */
    const firstRec = recId() + 1;
    beginFields();
    /** if the name table starts again during the scrape, its lines may hold mappings of both epochs: every key is searched */
    const epoch = this.names.epoch;
    const recs: Rec[] = [];
    /** the label sets of the info metrics' lines, in order */
    const infoSeries: LabelSet[] = [];
    const honor = this.o.honor_timestamps;
    let filtered = 0;
    let invalid = 0;
    let odd = false;
    const parser = openMetrics ? (this.omParser ??= new ExpositionParser(true, true)) : (this.textParser ??= new ExpositionParser(false, true));
    const stats = parser.parse(text, (name, family, rawLabels, value, tsMs, line) => {
      const { m, ls } = this.resolve(line, name, family, rawLabels);
      if (ls === undefined || ls.tags === null) {
        filtered++;
        return;
      }
      if (ls.tags === undefined) {
        invalid++;
        return;
      }
      if (odd || m.odd || (honor && tsMs === tsMs)) {
        odd = true;
        return;
      }
      if (ls.stamp !== stamp) {
        ls.stamp = stamp;
        ls.r0 = undefined;
        ls.rmore = undefined;
      }
      let r: Rec | undefined;
      if (ls.r0 !== undefined && ls.m0 === m.measurement) r = ls.r0;
      else {
        if (ls.r0 !== undefined) {
          ls.rmore ??= new Map();
          r = ls.rmore.get(m.measurement);
        }
        if (r === undefined) {
          r = { ls, measurement: m.measurement, escName: m.escName, info: m.info, first: -1, last: -1, id: recId() };
          if (ls.r0 === undefined) {
            ls.r0 = r;
            ls.m0 = m.measurement;
          } else ls.rmore!.set(m.measurement, r);
          recs.push(r);
          if (r.info) infoSeries.push(ls);
        }
      }
      if (!addField(r, m, value, this.names.epoch === epoch ? firstRec : 0)) odd = true;
    });
    // the label sets are shared: what this scrape left on them is not kept
    for (const r of recs) {
      r.ls.r0 = undefined;
      r.ls.rmore = undefined;
    }
    if (odd) return undefined;
    const extra = this.infoLabels(infoSeries, base);
    const heads = this.heads;
    heads.update(base, this.infoGen, extra, add);
    const time = ' ' + timeNs;
    for (const r of recs) heads.write(r, time, out);
    heads.trim(recs.length);
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
  private infoLabels(infoSeries: readonly { readonly tags: Readonly<Record<string, string>> | null | undefined }[], base: Readonly<Record<string, string>>): Record<string, string> | undefined {
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

