/**
 * OTLP/protobuf ExportMetricsServiceRequest straight to `otel_service` line
 * protocol: the metrics workers' fast path (metrics-worker.ts). The generic
 * path (protobufjs → metrics.ts mapMetrics → LineBuf.point) makes ~10 objects
 * a data point (the point, its KeyValues and AnyValues, Longs, a fields
 * object) and looks its series up by a string built from the attributes. Here
 * the body is read once as protobuf wire format (wire.ts) and each data point
 * is written as it is read: its series is looked up by the bytes of its
 * attributes (a BytesMap), which give the line's head (measurement and tags,
 * escaped) as bytes kept from the first time the series was seen; the value
 * and time are written from the body's bytes. Only a series' first data point
 * makes JS objects: its resource, scope and attributes are decoded by
 * protobufjs and its tags built by metrics.ts's own functions, so tags keep
 * the generic path's semantics (and a malformed attribute is refused there).
 *
 * The lines are byte for byte what the generic path writes
 * (metric-lines.test.ts compares both on the JS SDK's requests and random
 * ones). Whatever this path does not model returns `undefined` before anything
 * is written, and the caller runs the generic path, which also gives the 400
 * answers: a body that is not protobuf, malformed or truncated wire format, a
 * wire type other than the field's, a singular message field given twice, a
 * metric with two kinds of data, a packed fixed64 or double list whose length
 * is not a multiple of 8, a metric name, unit or scope name that is not valid
 * UTF-8.
 */
import type { LineBuf } from '../../agent/model/linebuf.js';
import { escapeKey, escapeName, tagTextOf } from '../../agent/model/lineproto.js';
import { BytesMap } from '../../agent/services/trace/bytes-map.js';
import type { TraceRequest } from '../../agent/services/trace/offthread.js';
import type { KeyValue } from './attrs.js';
import { MAX_SERIES_KEY, MetricPointReader, decodeExact, NOT, valid, type Ctx, type Names, type ProtoType } from './metric-points.js';
import { METRIC_MEASUREMENT, scopeTags, seriesTags, tagsOf, TEMPORALITY } from './metrics.js';
import { protoType } from './proto.js';
import { schemaOf, U32, WT_VARINT, type Schema } from './wire.js';

const KeyValueT = protoType('opentelemetry.proto.common.v1.KeyValue');
const ResourceT = protoType('opentelemetry.proto.resource.v1.Resource');
const ScopeT = protoType('opentelemetry.proto.common.v1.InstrumentationScope');

// data kinds (Metric's oneof, by field number)
const GAUGE = 5;
const SUM = 7;
const HISTOGRAM = 9;
const EXP_HISTOGRAM = 10;
const SUMMARY = 11;

// schemas of the fields each reader skips (see wire.ts skipField)
const S_REQ = schemaOf({});
const S_RM = schemaOf({ 3: 2 });
const S_SM = schemaOf({ 3: 2 });
const S_METRIC = schemaOf({ 2: 2 });
const S_GAUGE = schemaOf({});
const S_SUM = schemaOf({ 3: WT_VARINT | U32 });

/** Series (line heads) kept across requests; past this the cache starts over. */
const MAX_SERIES = 1 << 15;

interface Known {
  id: number;
  value: unknown;
}

export class MetricLineWriter extends MetricPointReader {
  private readonly measurement = escapeName(METRIC_MEASUREMENT);
  private readonly series = new BytesMap(1 << 17, MAX_SERIES_KEY, 8 << 20);
  private heads: Buffer[] = [];
  private readonly resources = new Map<string, Known>();
  private readonly scopes = new Map<string, Known>();
  private readonly ctxs = new Map<string, Ctx>();
  private readonly names = new Map<string, Names>();
  private nextId = 1;
  private coreFor: Readonly<Record<string, string>> | undefined;
  // the ranges each level collects before it writes (a field may come after the ones it qualifies)
  private readonly scopeRanges: number[] = [];
  private readonly metricRanges: number[] = [];
  private readonly dpRanges: number[] = [];
  /**
   * Writes the request's data points as lines into `out` and returns the
   * points refused by reason (`invalid`: no value, no name); undefined, having
   * written nothing, when the fast path does not take the request.
   */
  write(req: TraceRequest, out: LineBuf, coreTags: Readonly<Record<string, string>>, now: bigint): Record<string, number> | undefined {
    if (!req.contentType.includes('protobuf')) return undefined;
    if (coreTags !== this.coreFor) {
      // the core's tags are part of every head
      this.forgetSeries();
      this.ctxs.clear();
      this.coreFor = coreTags;
    }
    this.setBody(req.body);
    this.nowText = ` ${now}\n`;
    this.rejected = 0;
    const start = out.off;
    const nEnds = out.ends.length;
    this.o.begin(out);
    let ok = false;
    try {
      ok = this.request();
    } finally {
      this.clearBody();
      if (ok) out.off = this.o.w;
      else {
        out.off = start;
        out.ends.length = nEnds;
      }
    }
    if (!ok) return undefined;
    return this.rejected > 0 ? { invalid: this.rejected } : {};
  }

  private forgetSeries(): void {
    this.series.clear();
    this.heads = [];
  }

  /** ExportMetricsServiceRequest { resource_metrics 1 }. */
  private request(): boolean {
    const end = this.body.length;
    let p = 0;
    while (p < end) {
      p = this.v32(p, end);
      if (p < 0) return false;
      const no = this.lo >>> 3;
      const wt = this.lo & 7;
      if (no === 1) {
        const a = this.ld(p, end, wt);
        if (a < 0) return false;
        p = this.lo;
        if (!this.resourceMetrics(a, p)) return false;
      } else {
        p = this.skipField(p, end, wt, no, S_REQ);
        if (p < 0) return false;
      }
    }
    return true;
  }

  /**
   * Reads a message's fields: `one` (a singular message, its range in `lo`/`hi`
   * of the result) and the repeated field `many` into `ranges`; others skipped
   * by `tbl`. Returns the singular field's start (-2 when absent) or NO.
   */
  private outline(p: number, end: number, one: number, many: number, ranges: number[], tbl: Schema): number {
    let oneA = -2;
    let oneE = -2;
    while (p < end) {
      p = this.v32(p, end);
      if (p < 0) return -1;
      const no = this.lo >>> 3;
      const wt = this.lo & 7;
      if (no === one || no === many) {
        const a = this.ld(p, end, wt);
        if (a < 0) return -1;
        p = this.lo;
        if (no === many) ranges.push(a, p);
        else {
          if (oneA !== -2) return -1; // protobufjs keeps the last: not this path's
          oneA = a;
          oneE = p;
        }
      } else {
        p = this.skipField(p, end, wt, no, tbl);
        if (p < 0) return -1;
      }
    }
    this.hi = oneE;
    return oneA;
  }

  /** ResourceMetrics { resource 1, scope_metrics 2, schema_url 3 }. */
  private resourceMetrics(p: number, end: number): boolean {
    const ranges = this.scopeRanges;
    ranges.length = 0;
    const ra = this.outline(p, end, 1, 2, ranges, S_RM);
    if (ra === -1) return false;
    const res = this.known(this.resources, ra, this.hi, ResourceT);
    if (res === undefined) return false;
    // the scopes' ranges are copied: the next level reuses the arrays
    const list = ranges.slice();
    for (let k = 0; k < list.length; k += 2) if (!this.scopeMetrics(list[k]!, list[k + 1]!, res)) return false;
    return true;
  }

  /** ScopeMetrics { scope 1, metrics 2, schema_url 3 }. */
  private scopeMetrics(p: number, end: number, res: Known): boolean {
    const ranges = this.metricRanges;
    ranges.length = 0;
    const sa = this.outline(p, end, 1, 2, ranges, S_SM);
    if (sa === -1) return false;
    const scope = this.known(this.scopes, sa, this.hi, ScopeT);
    if (scope === undefined) return false;
    const list = ranges.slice();
    for (let k = 0; k < list.length; k += 2) if (!this.metric(list[k]!, list[k + 1]!, res, scope)) return false;
    return true;
  }

  /**
   * A resource or scope by its bytes: decoded by protobufjs (as the generic
   * path decodes it, so a malformed one is refused there) the first time.
   * An absent one is `{}` as the generic path sees it.
   */
  private known(map: Map<string, Known>, a: number, e: number, type: ProtoType): Known | undefined {
    const text = a < 0 ? '' : this.body.toString('latin1', a, e);
    let k = map.get(text);
    if (k === undefined) {
      const value = a < 0 ? undefined : decodeExact(type, this.body, a, e);
      if (value === NOT) return undefined;
      if (map.size >= 4096) map.clear();
      k = { id: this.nextId++, value };
      map.set(text, k);
    }
    return k;
  }

  /** Metric { name 1, description 2, unit 3, gauge 5, sum 7, histogram 9, exponential_histogram 10, summary 11, metadata 12 }. */
  private metric(p: number, end: number, res: Known, scope: Known): boolean {
    let nameA = 0;
    let nameE = 0;
    let unitA = 0;
    let unitE = 0;
    let kind = 0;
    let da = 0;
    let de = 0;
    while (p < end) {
      p = this.v32(p, end);
      if (p < 0) return false;
      const no = this.lo >>> 3;
      const wt = this.lo & 7;
      switch (no) {
        case 1:
        case 3:
        case GAUGE:
        case SUM:
        case HISTOGRAM:
        case EXP_HISTOGRAM:
        case SUMMARY:
        case 12: {
          const a = this.ld(p, end, wt);
          if (a < 0) return false;
          p = this.lo;
          if (no === 1) {
            nameA = a;
            nameE = p;
          } else if (no === 3) {
            unitA = a;
            unitE = p;
          } else if (no === 12) {
            if (!valid(KeyValueT, this.body, a, p)) return false;
          } else {
            if (kind !== 0) return false; // two data fields: not this path's
            kind = no;
            da = a;
            de = p;
          }
          break;
        }
        default:
          p = this.skipField(p, end, wt, no, S_METRIC);
          if (p < 0) return false;
      }
    }
    if (kind === 0) return true;
    if (!this.utf8(nameA, nameE) || !this.utf8(unitA, unitE)) return false;
    const name = this.body.toString('utf8', nameA, nameE);
    const unit = this.body.toString('utf8', unitA, unitE);
    // Gauge, Sum, Histogram, ExponentialHistogram, Summary { data_points 1, aggregation_temporality 2 (not Gauge, Summary), is_monotonic 3 (Sum) }
    const dps = this.dpRanges;
    dps.length = 0;
    let temporality = 0;
    p = da;
    while (p < de) {
      p = this.v32(p, de);
      if (p < 0) return false;
      const no = this.lo >>> 3;
      const wt = this.lo & 7;
      if (no === 1) {
        const a = this.ld(p, de, wt);
        if (a < 0) return false;
        p = this.lo;
        dps.push(a, p);
      } else if (no === 2 && kind !== GAUGE && kind !== SUMMARY) {
        if (wt !== 0) return false;
        p = this.enumAt(p, de);
        if (p < 0) return false;
        temporality = this.lo | 0;
      } else {
        p = this.skipField(p, de, wt, no, kind === SUM ? S_SUM : S_GAUGE);
        if (p < 0) return false;
      }
    }
    const ctx = kind === SUM ? this.ctx(res, scope, unit, '__temporality', TEMPORALITY[String(temporality)] ?? 'unspecified') : this.ctx(res, scope, unit, undefined, undefined);
    const names = this.namesOf(name);
    for (let k = 0; k < dps.length; k += 2) {
      const a = dps[k]!;
      const e = dps[k + 1]!;
      const ok = kind === GAUGE || kind === SUM ? this.numberPoint(a, e, ctx, name, names) : kind === HISTOGRAM || kind === EXP_HISTOGRAM ? this.histogramPoint(a, e, ctx, name, names, kind === EXP_HISTOGRAM) : this.summaryPoint(a, e, ctx, name, names);
      if (!ok) return false;
    }
    return true;
  }

  private ctx(res: Known, scope: Known, unit: string, extraKey: string | undefined, extra: string | undefined): Ctx {
    const key = `${res.id}/${scope.id}/${extra ?? ''}/${unit}`;
    let c = this.ctxs.get(key);
    if (c === undefined) {
      const resTags: Record<string, string> = {};
      tagsOf((res.value as { attributes?: KeyValue[] } | undefined)?.attributes, resTags);
      const base = scopeTags(resTags, scope.value as { name?: string; attributes?: KeyValue[] } | undefined);
      const tags = unit !== '' ? { ...base, unit } : base;
      if (this.ctxs.size >= 4096) this.ctxs.clear();
      c = { id: this.nextId++, tags, extraKey, extra };
      this.ctxs.set(key, c);
    }
    return c;
  }

  private namesOf(name: string): Names {
    let n = this.names.get(name);
    if (n === undefined) {
      const f = (sep: string, k: string, eq = '='): Buffer => Buffer.from(sep + escapeKey(k) + eq);
      n = { value: f(' ', name), count: f(' ', name + '_count'), sum: f(',', name + '_sum'), min: f(',', name + '_min'), max: f(',', name + '_max'), avg: f(',', name + '_avg', '="'), bucket: f(' ', name + '_bucket') };
      if (this.names.size >= 10_000) this.names.clear();
      this.names.set(name, n);
    }
    return n;
  }

  // ---- series ----


  /**
   * The series' line head (measurement and tags, escaped), by its key: built
   * the first time from protobufjs's decoding of the attributes in `attrs`
   * (pairs of ranges of the KeyValue messages); undefined when one does not
   * decode (the generic path answers 400). `kind` 0: the data point's own
   * series; 1 with tag `le`, 2 with tag `quantile` (`extraKey`, `extra`).
   */
  protected head(ctx: Ctx, attrs: number[], kind: number, extraKey: string | undefined, extra: string): Buffer | undefined {
    const n = this.keyLen;
    const key = this.key;
    let len = n + 9 + extra.length;
    const cached = len <= MAX_SERIES_KEY;
    let h = 0;
    if (cached) {
      const dv = this.keyDv;
      dv.setUint32(n, ctx.id, true);
      key[n + 4] = kind;
      if (extra !== '') key.write(extra, n + 5, 'latin1'); // le and quantile texts are ASCII
      dv.setUint32(n + 5 + extra.length, n, true);
      h = BytesMap.hash(key, dv, 0, len);
      const id = this.series.get(key, 0, len, h);
      if (id >= 0) return this.heads[id];
    } else len = 0;
    const kvs: KeyValue[] = [];
    for (let k = 0; k < attrs.length; k += 2) {
      const kv = decodeExact(KeyValueT, this.body, attrs[k]!, attrs[k + 1]!);
      if (kv === NOT) return undefined;
      kvs.push(kv as KeyValue);
    }
    const tags = kind === 0 ? seriesTags(ctx.tags, kvs, ctx.extraKey, ctx.extra, this.coreFor) : seriesTags(ctx.tags, kvs, extraKey, extra, this.coreFor);
    const head = Buffer.from(this.measurement + tagTextOf(tags));
    if (cached) {
      if (this.heads.length >= MAX_SERIES || !this.series.set(key, 0, len, h, this.heads.length)) {
        this.forgetSeries();
        this.series.set(key, 0, len, h, 0);
      }
      this.heads.push(head);
    }
    return head;
  }

}
