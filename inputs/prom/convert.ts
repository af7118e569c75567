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
 * A Converter is kept per target: name mappings and filter verdicts are cached
 * across scrapes because the set of metric names is stable.
 */
import type { Point } from '../../agent/point.js';
import { ExpositionParser, parseLabels, type Family, type ParseStats } from './parser.js';

export interface ConvertOptions {
  metric_types: readonly string[];
  metric_name_filter: readonly string[];
  metric_name_filter_ignore: readonly string[];
  measurement_prefix: string;
  measurement_name: string;
  measurements: readonly { prefix: string; name: string }[];
  keep_exist_metric_name: boolean;
  honor_timestamps: boolean;
  tags_ignore: readonly string[];
  ignore_tag_kv_match: Readonly<Record<string, readonly string[]>>;
  tags_rename: { overwrite_exist_tags: boolean; mapping: Readonly<Record<string, string>> };
  disable_info_tag: boolean;
}

interface Mapping {
  measurement: string;
  field: string;
  info: boolean;
}

const SKIP: Mapping = { measurement: '', field: '', info: false };
const DROPPED = null;
const MAX_CACHE = 100_000;

export interface ConvertResult {
  points: Point[];
  stats: ParseStats;
  /** Samples dropped by metric_types, name filters or ignore_tag_kv_match. */
  filtered: number;
}

export class Converter {
  private readonly names = new Map<string, Mapping>();
  private readonly keep: RegExp[];
  private readonly ignore: RegExp[];
  private readonly types: Set<string> | undefined;
  private readonly tagsIgnore: Set<string>;
  private readonly kvMatch: Map<string, RegExp[]>;
  private readonly renames: [string, string][];
  private readonly labelBuf: string[] = [];
  /** Raw label text → tags (before info tags), kept across scrapes: series are stable. */
  private readonly tagCache = new Map<string, Readonly<Record<string, string>> | null>();
  private lastBase: Readonly<Record<string, string>> | undefined;

  constructor(private readonly o: ConvertOptions) {
    this.keep = o.metric_name_filter.map((r) => new RegExp(r));
    this.ignore = o.metric_name_filter_ignore.map((r) => new RegExp(r));
    const types = o.metric_types.map((t) => t.toLowerCase());
    this.types = types.length > 0 ? new Set(types.flatMap((t) => (t === 'untyped' ? ['untyped', 'unknown'] : [t]))) : undefined;
    this.tagsIgnore = new Set(o.tags_ignore);
    this.kvMatch = new Map(Object.entries(o.ignore_tag_kv_match).map(([k, rs]) => [k, rs.map((r) => new RegExp(r))]));
    this.renames = Object.entries(o.tags_rename.mapping);
  }

  /** The measurement/field mapping of a metric name, or SKIP when filtered out. */
  private map(name: string, family: Family): Mapping {
    const o = this.o;
    if (this.types !== undefined && !this.types.has(family.type)) return SKIP;
    if (this.keep.length > 0 && !this.keep.some((r) => r.test(name) || r.test(family.name))) return SKIP;
    if (this.ignore.length > 0 && this.ignore.some((r) => r.test(name) || r.test(family.name))) return SKIP;
    let measurement: string | undefined;
    let field = name;
    for (const r of o.measurements) {
      if (r.prefix !== '' && name.startsWith(r.prefix)) {
        measurement = o.measurement_prefix + r.name;
        field = name.slice(r.prefix.length).replace(/^_/, '') || name;
        break;
      }
    }
    if (measurement === undefined) {
      if (o.measurement_name !== '') {
        measurement = o.measurement_name;
      } else {
        const n = name.startsWith('_') ? name.slice(1) : name;
        const i = n.indexOf('_');
        measurement = o.measurement_prefix + (i < 0 ? n : n.slice(0, i));
        field = i < 0 ? n : n.slice(i + 1);
      }
    }
    if (o.keep_exist_metric_name) field = name;
    const info = family.type === 'info' || (name.endsWith('_info') && (family.type === 'gauge' || family.type === 'untyped' || family.type === 'unknown'));
    return { measurement, field, info };
  }

  /** Builds the tags of a label set, or null when ignore_tag_kv_match drops it. */
  private tags(rawLabels: string, base: Readonly<Record<string, string>>): Record<string, string> | null {
    const t: Record<string, string> = {};
    if (rawLabels !== '') {
      const buf = this.labelBuf;
      const n = parseLabels(rawLabels, buf);
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
    return t;
  }

  /**
   * Parses and converts one scrape body. `base` tags are added to every point
   * (labels win); `timeNs` stamps points without an honoured timestamp.
   */
  convert(text: string, openMetrics: boolean, base: Readonly<Record<string, string>>, timeNs: bigint): ConvertResult {
    if (this.names.size > MAX_CACHE) this.names.clear();
    if (base !== this.lastBase || this.tagCache.size > MAX_CACHE) {
      this.tagCache.clear();
      this.lastBase = base;
    }
    const names = this.names;
    const tagCache = this.tagCache;
    /** measurement → raw labels (+ time) → point of this scrape */
    const byMeasurement = new Map<string, Map<string, Point | typeof DROPPED>>();
    const points: Point[] = [];
    const infoPoints: Point[] = [];
    const honor = this.o.honor_timestamps;
    let filtered = 0;
    let lastMeasurement = '';
    let lastMap: Map<string, Point | typeof DROPPED> | undefined;
    const parser = new ExpositionParser(openMetrics);
    const stats = parser.parse(text, (name, family, rawLabels, value, tsMs) => {
      let m = names.get(name);
      if (m === undefined) {
        m = this.map(name, family);
        names.set(name, m);
      }
      if (m === SKIP) {
        filtered++;
        return;
      }
      let series = lastMap;
      if (series === undefined || m.measurement !== lastMeasurement) {
        series = byMeasurement.get(m.measurement);
        if (series === undefined) byMeasurement.set(m.measurement, (series = new Map()));
        lastMap = series;
        lastMeasurement = m.measurement;
      }
      const stamped = honor && tsMs === tsMs; // not NaN
      const key = stamped ? `${rawLabels}\x01${tsMs}` : rawLabels;
      let p = series.get(key);
      if (p === undefined) {
        let tmpl = tagCache.get(rawLabels);
        if (tmpl === undefined) {
          tmpl = this.tags(rawLabels, base);
          tagCache.set(rawLabels, tmpl);
        }
        if (tmpl === null) {
          series.set(key, DROPPED);
          filtered++;
          return;
        }
        p = { category: 'metric', name: m.measurement, tags: { ...tmpl }, fields: {}, time: stamped ? BigInt(Math.round(tsMs)) * 1_000_000n : timeNs };
        series.set(key, p);
        points.push(p);
        if (m.info) infoPoints.push(p);
      } else if (p === DROPPED) {
        filtered++;
        return;
      }
      p.fields[m.field] = value;
    });
    if (infoPoints.length > 0 && !this.o.disable_info_tag) addInfoTags(points, infoPoints, base);
    return { points, stats, filtered };
  }
}

/** Copies the labels of info metrics onto every other point (existing tags win). */
function addInfoTags(points: Point[], infos: Point[], base: Readonly<Record<string, string>>): void {
  const extra: Record<string, string> = {};
  for (const ip of infos) for (const k in ip.tags) if (extra[k] === undefined && base[k] === undefined) extra[k] = ip.tags[k]!;
  const isInfo = new Set(infos);
  for (const p of points) {
    if (isInfo.has(p)) continue;
    const t = p.tags;
    for (const k in extra) if (t[k] === undefined) t[k] = extra[k]!;
  }
}
