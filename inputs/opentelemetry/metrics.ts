/**
 * An ExportMetricsServiceRequest → `otel_service` metric points, as DataKit
 * writes them (cliutils' OTLP metrics parser): one field per metric name;
 * resource, scope (plus `scope_name`) and data-point attributes as tags
 * (`.` → `_`), `unit` when the metric has one, `__temporality` on sums.
 * Histograms: `<name>_count`, `_sum`, `_min`, `_max`, and a point per bucket
 * with `<name>_bucket` (cumulative) and tag `le` (`+Inf` last). Exponential
 * histograms: count, sum, min, max and `_avg`. Summaries: `_count`, `_sum`
 * and a point per quantile (tag `quantile`, field `<name>`).
 */
import { UInt, type FieldValue, type Point } from '../../agent/model/point.js';
import { anyString, arr, pointKey, toBig, type KeyValue } from './attrs.js';

export const METRIC_MEASUREMENT = 'otel_service';
const MAX_TAG_VALUE = 32 * 1024;

interface NumberPoint {
  attributes?: KeyValue[];
  timeUnixNano?: unknown;
  asDouble?: number | string | null;
  asInt?: unknown;
}
interface HistogramPoint {
  attributes?: KeyValue[];
  timeUnixNano?: unknown;
  count?: unknown;
  sum?: number | null;
  min?: number | null;
  max?: number | null;
  bucketCounts?: unknown[];
  explicitBounds?: number[];
}
interface ExpHistogramPoint extends HistogramPoint {
  scale?: number;
}
interface SummaryPoint {
  attributes?: KeyValue[];
  timeUnixNano?: unknown;
  count?: unknown;
  sum?: number | null;
  quantileValues?: { quantile?: number; value?: number }[];
}
interface Metric {
  name?: string;
  unit?: string;
  gauge?: { dataPoints?: NumberPoint[] } | null;
  sum?: { dataPoints?: NumberPoint[]; aggregationTemporality?: number | string } | null;
  histogram?: { dataPoints?: HistogramPoint[] } | null;
  exponentialHistogram?: { dataPoints?: ExpHistogramPoint[] } | null;
  summary?: { dataPoints?: SummaryPoint[] } | null;
}
export interface MetricsRequestBody {
  resourceMetrics?: {
    resource?: { attributes?: KeyValue[] } | null;
    scopeMetrics?: { scope?: { name?: string; attributes?: KeyValue[] } | null; metrics?: Metric[] }[];
  }[];
}

export interface MappedPoints {
  points: Point[];
  /** Data points refused (no value, no name): the OTLP partial success. */
  rejected: number;
}

export function tagsOf(attrs: readonly KeyValue[] | null | undefined, into: Record<string, string>): void {
  for (const kv of arr(attrs as KeyValue[])) {
    if (!kv || typeof kv.key !== 'string' || kv.key === '') continue;
    let s = anyString(kv.value);
    if (s === undefined) continue;
    if (s.length > MAX_TAG_VALUE) s = s.slice(0, MAX_TAG_VALUE);
    into[pointKey(kv.key)] = s;
  }
}

/** The attributes as text, for interning keys. */
function attrsKey(attrs: readonly KeyValue[] | null | undefined): string {
  let k = '';
  for (const kv of arr(attrs as KeyValue[])) if (kv && typeof kv.key === 'string') k += kv.key + '\x1f' + (anyString(kv.value) ?? '') + '\x1e';
  return k;
}

/**
 * Frozen tags objects shared by the points of a series, across requests: an
 * SDK exports the same series every interval, and the core caches the
 * decorated tags and their escaped line-protocol text by the (frozen) object,
 * so a repeated series costs a lookup instead of copying and escaping a dozen
 * tags. Bounded: past `max` series it starts over.
 */
export class TagInterner {
  private readonly tags = new Map<string, Readonly<Record<string, string>>>();
  private readonly scopes = new Map<string, number>();

  constructor(private readonly max = 100_000) {}

  /** A short id for a resource + scope + unit description (long keys hash slowly). */
  scopeId(key: string): string {
    let id = this.scopes.get(key);
    if (id === undefined) {
      if (this.scopes.size >= 10_000) this.scopes.clear();
      id = this.scopes.size;
      this.scopes.set(key, id);
    }
    return String(id) + '\x1d';
  }

  get(key: string, build: () => Record<string, string>): Readonly<Record<string, string>> {
    let t = this.tags.get(key);
    if (t === undefined) {
      if (this.tags.size >= this.max) this.tags.clear();
      t = Object.freeze(build());
      this.tags.set(key, t);
    }
    return t;
  }
}

const defaultInterner = new TagInterner();

export function num(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && v !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

function time(v: unknown): bigint | undefined {
  const t = toBig(v);
  return t > 0n ? t : undefined;
}

/** Go's strconv.FormatFloat(f, 'f', -1, 64): shortest decimal, never an exponent. */
export function le(b: number): string {
  const s = String(b);
  if (!s.includes('e')) return s;
  return b.toFixed(20).replace(/\.?0+$/, '');
}

export const TEMPORALITY: Record<string, string> = { '1': 'delta', '2': 'cumulative', AGGREGATION_TEMPORALITY_DELTA: 'delta', AGGREGATION_TEMPORALITY_CUMULATIVE: 'cumulative' };

/** A scope's tags: the resource's, the scope's attributes, `scope_name`. */
export function scopeTags(resTags: Readonly<Record<string, string>>, scope: { name?: string; attributes?: KeyValue[] } | null | undefined): Record<string, string> {
  const base: Record<string, string> = { ...resTags };
  tagsOf(scope?.attributes, base);
  if (typeof scope?.name === 'string' && scope.name !== '') base.scope_name = scope.name;
  return base;
}

/** A series' tags: the metric's (`unitTags`), the data point's attributes, then `extraKey` (temporality, le, quantile), then the core's where absent. */
export function seriesTags(unitTags: Readonly<Record<string, string>>, attrs: readonly KeyValue[] | null | undefined, extraKey: string | undefined, extra: string | undefined, coreTags: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const t = { ...unitTags };
  tagsOf(attrs, t);
  if (extraKey !== undefined) t[extraKey] = extra!;
  if (coreTags) for (const k in coreTags) if (t[k] === undefined) t[k] = coreTags[k]!;
  return t;
}

/**
 * `coreTags`, when given, are added to every series' tags where the key is
 * absent, as the core would (a worker thread writing lines itself passes
 * Accumulator.tagsToAdd(); its interner must be reset when they change).
 */
export function mapMetrics(req: MetricsRequestBody, interner: TagInterner = defaultInterner, coreTags?: Readonly<Record<string, string>>): MappedPoints {
  const points: Point[] = [];
  let rejected = 0;
  const push = (tags: Readonly<Record<string, string>>, fields: Record<string, FieldValue>, t: unknown) => {
    points.push({ category: 'metric', name: METRIC_MEASUREMENT, tags, fields, time: time(t) });
  };
  for (const rm of arr(req.resourceMetrics)) {
    if (!rm) continue;
    const resTags: Record<string, string> = {};
    tagsOf(rm.resource?.attributes, resTags);
    const resKey = attrsKey(rm.resource?.attributes);
    for (const sm of arr(rm.scopeMetrics)) {
      if (!sm) continue;
      const base = scopeTags(resTags, sm.scope);
      const scopeKey = resKey + '\x1d' + attrsKey(sm.scope?.attributes) + '\x1d' + (typeof sm.scope?.name === 'string' ? sm.scope.name : '');
      for (const m of arr(sm.metrics)) {
        if (!m) continue;
        const name = typeof m.name === 'string' ? m.name : '';
        const unit = typeof m.unit === 'string' ? m.unit : '';
        const unitTags: Record<string, string> = unit !== '' ? { ...base, unit } : base;
        const seriesKey = interner.scopeId(scopeKey + '\x1d' + unit);
        /** The series' frozen tags: the metric's, the data point's attributes, then `extra` (temporality, le, quantile). */
        const tagsFor = (attrs: KeyValue[] | undefined, extraKey?: string, extra?: string): Readonly<Record<string, string>> =>
          interner.get(seriesKey + attrsKey(attrs) + (extraKey === undefined ? '' : '\x1d' + extraKey + '=' + extra), () => seriesTags(unitTags, attrs, extraKey, extra, coreTags));
        const numbers = (dps: NumberPoint[] | undefined, temporality?: string) => {
          for (const dp of arr(dps)) {
            if (!dp) continue;
            const v: FieldValue | undefined = dp.asInt != null ? toBig(dp.asInt) : num(dp.asDouble);
            if (v === undefined || name === '') {
              rejected++;
              continue;
            }
            push(temporality === undefined ? tagsFor(dp.attributes) : tagsFor(dp.attributes, '__temporality', temporality), { [name]: v }, dp.timeUnixNano);
          }
        };
        if (m.gauge) numbers(m.gauge.dataPoints);
        else if (m.sum) numbers(m.sum.dataPoints, TEMPORALITY[String(m.sum.aggregationTemporality ?? 0)] ?? 'unspecified');
        else if (m.histogram) {
          for (const dp of arr(m.histogram.dataPoints)) {
            if (!dp || name === '') {
              rejected++;
              continue;
            }
            const t = tagsFor(dp.attributes);
            push(t, stats(name, dp), dp.timeUnixNano);
            const counts = arr(dp.bucketCounts);
            const bounds = arr(dp.explicitBounds);
            if (counts.length <= 1 || bounds.length === 0) continue;
            let cum = 0n;
            for (let i = 0; i < counts.length; i++) {
              cum += toBig(counts[i]);
              push(tagsFor(dp.attributes, 'le', i < bounds.length ? le(num(bounds[i]) ?? 0) : '+Inf'), { [`${name}_bucket`]: new UInt(cum) }, dp.timeUnixNano);
            }
          }
        } else if (m.exponentialHistogram) {
          for (const dp of arr(m.exponentialHistogram.dataPoints)) {
            if (!dp || name === '') {
              rejected++;
              continue;
            }
            const f = stats(name, dp);
            const count = toBig(dp.count);
            // DataKit writes the average as text with three decimals
            if (count > 0n) f[`${name}_avg`] = ((num(dp.sum) ?? 0) / Number(count)).toFixed(3);
            push(tagsFor(dp.attributes), f, dp.timeUnixNano);
          }
        } else if (m.summary) {
          for (const dp of arr(m.summary.dataPoints)) {
            if (!dp || name === '') {
              rejected++;
              continue;
            }
            const t = tagsFor(dp.attributes);
            const f: Record<string, FieldValue> = { [`${name}_count`]: new UInt(toBig(dp.count)) };
            const sum = num(dp.sum);
            if (sum !== undefined) f[`${name}_sum`] = sum;
            push(t, f, dp.timeUnixNano);
            for (const q of arr(dp.quantileValues)) {
              const v = num(q?.value);
              if (v === undefined) continue;
              push(tagsFor(dp.attributes, 'quantile', String(num(q.quantile) ?? 0)), { [name]: v }, dp.timeUnixNano);
            }
          }
        }
      }
    }
  }
  return { points, rejected };
}

function stats(name: string, dp: HistogramPoint): Record<string, FieldValue> {
  const f: Record<string, FieldValue> = { [`${name}_count`]: new UInt(toBig(dp.count)) };
  const sum = num(dp.sum);
  if (sum !== undefined) f[`${name}_sum`] = sum;
  const min = num(dp.min);
  if (min !== undefined) f[`${name}_min`] = min;
  const max = num(dp.max);
  if (max !== undefined) f[`${name}_max`] = max;
  return f;
}
