/**
 * The data points of an OTLP/protobuf metric, read from the wire format and
 * written as `otel_service` lines as they are read (the second half of
 * metric-lines.ts's reader): NumberDataPoint, HistogramDataPoint,
 * ExponentialHistogramDataPoint and SummaryDataPoint, each with the fields
 * metrics.ts's mapping writes. A data point's series head (measurement and
 * tags) comes from `head()`, keyed by the bytes of its attribute fields.
 */
import { LineOut } from './line-out.js';
import { le } from './metrics.js';
import { protoType } from './proto.js';
import { schemaOf, U32, WireReader, WT_VARINT } from './wire.js';

export const ExemplarT = protoType('opentelemetry.proto.metrics.v1.Exemplar');
const BucketsT = protoType('opentelemetry.proto.metrics.v1.ExponentialHistogramDataPoint.Buckets');

const S_DP = schemaOf({ 2: 1, 8: WT_VARINT | U32 });
const S_HDP = schemaOf({ 2: 1, 10: WT_VARINT | U32 });
const S_EDP = schemaOf({ 2: 1, 7: 1, 10: WT_VARINT | U32, 14: 1 });
const S_QV = schemaOf({});

/** Bytes of a series key (its attributes' encoding) that are cached. */
export const MAX_SERIES_KEY = 4096;

/** The text of a metric's fields: ` name=`, ` name_count=`, `,name_sum=`, …, escaped. */
export interface Names {
  value: Buffer;
  count: Buffer;
  sum: Buffer;
  min: Buffer;
  max: Buffer;
  avg: Buffer;
  bucket: Buffer;
}

/** A metric's tags before its data points': resource, scope, unit (and a sum's temporality). */
export interface Ctx {
  id: number;
  tags: Readonly<Record<string, string>>;
  extraKey: string | undefined;
  extra: string | undefined;
}

export abstract class MetricPointReader extends WireReader {
  protected readonly o = new LineOut();
  protected readonly key = Buffer.allocUnsafe(MAX_SERIES_KEY);
  protected keyLen = 0;
  protected readonly keyDv = new DataView(this.key.buffer, this.key.byteOffset, this.key.length);
  protected nowText = '';
  /** Data points refused (no value, no name) in this request. */
  protected rejected = 0;
  // a data point's values
  private tLo = 0;
  private tHi = 0;
  private cLo = 0;
  private cHi = 0;
  private readonly counts: bigint[] = [];
  private readonly bounds: number[] = [];
  private readonly quantiles: number[] = [];
  private readonly attrs: number[] = [];
  private dbl = 0;

  /**
   * The series' line head (measurement and tags, escaped) of the data point
   * whose attribute fields are in the key (see keyAttr) and whose KeyValue
   * messages are the ranges in `attrs`; `kind` 0: the data point's own series,
   * 1 with tag `le`, 2 with tag `quantile` (`extraKey`, `extra`). Undefined
   * when an attribute does not decode (the generic path answers 400).
   */
  protected abstract head(ctx: Ctx, attrs: number[], kind: number, extraKey: string | undefined, extra: string): Buffer | undefined;

  /**
   * A series key is the data point's attribute fields as encoded (tag to end
   * of value, in order), then the context's id, the extra tag's kind and
   * value, and the attributes' length: `keyLen` is the attributes' part while
   * a data point is read.
   */
  protected keyAttr(a: number, e: number): void {
    const n = this.keyLen;
    if (n + (e - a) <= MAX_SERIES_KEY) {
      // attributes are tens of bytes: a loop beats Buffer.copy's call
      const key = this.key;
      const body = this.body;
      for (let i = a, o = n; i < e; i++, o++) key[o] = body[i]!;
    }
    this.keyLen = n + (e - a);
  }


  /** The time and end of a line: ` <time>\n`, `now` when the data point has none. */
  private time(): void {
    const o = this.o;
    if (this.tHi === 0 && this.tLo === 0) o.text(this.nowText);
    else {
      o.byte(0x20);
      o.u64(this.tHi, this.tLo);
      o.byte(0x0a);
    }
    o.endLine();
  }

  /** A double at p (wire type 1) into `dbl`: the end or NO. */
  private double(p: number, end: number, wt: number): number {
    if (wt !== 1 || p + 8 > end) return -1;
    this.dbl = this.dv.getFloat64(p, true);
    return p + 8;
  }

  /** NumberDataPoint { start 2, time 3, as_double 4, exemplars 5, as_int 6, attributes 7, flags 8 }. */
  protected numberPoint(p: number, end: number, ctx: Ctx, name: string, names: Names): boolean {
    const attrs = this.attrs;
    attrs.length = 0;
    this.keyLen = 0;
    this.tLo = 0;
    this.tHi = 0;
    let hasInt = false;
    let hasDouble = false;
    let iLo = 0;
    let iHi = 0;
    let d = 0;
    while (p < end) {
      const from = p;
      p = this.v32(p, end);
      if (p < 0) return false;
      const no = this.lo >>> 3;
      const wt = this.lo & 7;
      switch (no) {
        case 7: {
          const a = this.ld(p, end, wt);
          if (a < 0) return false;
          p = this.lo;
          attrs.push(a, p);
          this.keyAttr(from, p);
          break;
        }
        case 3:
          p = this.fixed64(p, end, wt);
          if (p < 0) return false;
          this.tLo = this.lo;
          this.tHi = this.hi;
          break;
        case 4:
          p = this.double(p, end, wt);
          if (p < 0) return false;
          d = this.dbl;
          hasDouble = true;
          break;
        case 6:
          p = this.fixed64(p, end, wt);
          if (p < 0) return false;
          iLo = this.lo;
          iHi = this.hi;
          hasInt = true;
          break;
        case 5: {
          const a = this.ld(p, end, wt);
          if (a < 0) return false;
          p = this.lo;
          if (!valid(ExemplarT, this.body, a, p)) return false;
          break;
        }
        default:
          p = this.skipField(p, end, wt, no, S_DP);
          if (p < 0) return false;
      }
    }
    const head = this.head(ctx, attrs, 0, undefined, '');
    if (head === undefined) return false;
    if (name === '' || (!hasInt && (!hasDouble || !Number.isFinite(d)))) {
      this.rejected++;
      return true;
    }
    const o = this.o;
    o.put(head);
    o.put(names.value);
    if (hasInt) {
      if (iHi < 0x8000_0000) o.u64(iHi, iLo);
      else o.text(BigInt.asIntN(64, (BigInt(iHi) << 32n) | BigInt(iLo)).toString());
      o.byte(0x69); // i
    } else o.text(String(d));
    this.time();
    return true;
  }

  /** Count (fixed64 in `cLo`/`cHi`) as an unsigned field: `<piece><count>u`. */
  private countField(piece: Buffer): void {
    const o = this.o;
    o.put(piece);
    o.u64(this.cHi, this.cLo);
    o.byte(0x75); // u
  }

  private numField(piece: Buffer, present: boolean, v: number): void {
    if (!present || !Number.isFinite(v)) return;
    this.o.put(piece);
    this.o.text(String(v));
  }

  /**
   * The fields histograms and exponential histograms share (start 2, time 3,
   * count 4, sum 5), read into `tLo`/`tHi`, `cLo`/`cHi`; returns the end, or
   * NO, or `p` itself when field `no` is not one of them.
   */
  private common(p: number, end: number, no: number, wt: number): number {
    switch (no) {
      case 2:
        return this.fixed64(p, end, wt);
      case 3:
        p = this.fixed64(p, end, wt);
        if (p >= 0) {
          this.tLo = this.lo;
          this.tHi = this.hi;
        }
        return p;
      case 4:
        p = this.fixed64(p, end, wt);
        if (p >= 0) {
          this.cLo = this.lo;
          this.cHi = this.hi;
        }
        return p;
      default:
        return -2;
    }
  }

  /**
   * HistogramDataPoint { time 3, count 4, sum 5, bucket_counts 6, explicit_bounds 7, exemplars 8, attributes 9, flags 10, min 11, max 12 }
   * or, with `exp`, ExponentialHistogramDataPoint { attributes 1, time 3, count 4, sum 5, scale 6, zero_count 7, positive 8,
   * negative 9, flags 10, exemplars 11, min 12, max 13, zero_threshold 14 }: the same statistics under other numbers.
   */
  protected histogramPoint(p: number, end: number, ctx: Ctx, name: string, names: Names, exp: boolean): boolean {
    const attrs = this.attrs;
    attrs.length = 0;
    this.keyLen = 0;
    this.tLo = this.tHi = this.cLo = this.cHi = 0;
    const counts = this.counts;
    const bounds = this.bounds;
    counts.length = 0;
    bounds.length = 0;
    const fAttrs = exp ? 1 : 9;
    const fMin = exp ? 12 : 11;
    const fMax = exp ? 13 : 12;
    const fExemplars = exp ? 11 : 8;
    let sum = 0;
    let min = 0;
    let max = 0;
    let has = 0; // 1 sum, 2 min, 4 max
    while (p < end) {
      const from = p;
      p = this.v32(p, end);
      if (p < 0) return false;
      const no = this.lo >>> 3;
      const wt = this.lo & 7;
      const c = this.common(p, end, no, wt);
      if (c !== -2) {
        if (c < 0) return false;
        p = c;
      } else if (no === fAttrs) {
        const a = this.ld(p, end, wt);
        if (a < 0) return false;
        p = this.lo;
        attrs.push(a, p);
        this.keyAttr(from, p);
      } else if (no === 5 || no === fMin || no === fMax) {
        p = this.double(p, end, wt);
        if (p < 0) return false;
        if (no === 5) sum = this.dbl;
        else if (no === fMin) min = this.dbl;
        else max = this.dbl;
        has |= no === 5 ? 1 : no === fMin ? 2 : 4;
      } else if (no === fExemplars || (exp && (no === 8 || no === 9))) {
        // exemplars and the exponential buckets: validated as the generic decoder reads them
        const a = this.ld(p, end, wt);
        if (a < 0) return false;
        p = this.lo;
        if (!valid(no === fExemplars ? ExemplarT : BucketsT, this.body, a, p)) return false;
      } else if (!exp && (no === 6 || no === 7)) {
        p = this.packed64(p, end, wt, no === 6 ? counts : undefined, no === 7 ? bounds : undefined);
        if (p < 0) return false;
      } else if (exp && no === 6) {
        // scale: sint32, read by protobufjs as uint32
        if (wt !== 0) return false;
        p = this.enumAt(p, end);
        if (p < 0) return false;
      } else {
        p = this.skipField(p, end, wt, no, exp ? S_EDP : S_HDP);
        if (p < 0) return false;
      }
    }
    const head = this.head(ctx, attrs, 0, undefined, '');
    if (head === undefined) return false;
    if (name === '') {
      this.rejected++;
      return true;
    }
    const o = this.o;
    o.put(head);
    this.countField(names.count);
    this.numField(names.sum, (has & 1) !== 0, sum);
    this.numField(names.min, (has & 2) !== 0, min);
    this.numField(names.max, (has & 4) !== 0, max);
    if (exp) {
      if (this.cHi !== 0 || this.cLo !== 0) {
        // DataKit writes the average as text with three decimals
        const count = this.cHi * 0x1_0000_0000 + this.cLo;
        const s = (has & 1) !== 0 && Number.isFinite(sum) ? sum : 0;
        o.put(names.avg);
        o.text((s / count).toFixed(3));
        o.byte(0x22);
      }
      this.time();
      return true;
    }
    this.time();
    if (counts.length <= 1 || bounds.length === 0) return true;
    let cum = 0n;
    for (let i = 0; i < counts.length; i++) {
      cum += counts[i]!;
      const b = i < bounds.length ? bounds[i]! : 0;
      const h = this.head(ctx, attrs, 1, 'le', i < bounds.length ? le(Number.isFinite(b) ? b : 0) : '+Inf');
      if (h === undefined) return false;
      o.put(h);
      o.put(names.bucket);
      o.text(cum.toString());
      o.byte(0x75);
      this.time();
    }
    return true;
  }

  /**
   * A repeated fixed64 (into `counts`, as uint64) or double (into `doubles`)
   * field, packed (wire type 2) or one value (wire type 1), as protobufjs
   * reads it.
   */
  private packed64(p: number, end: number, wt: number, counts: bigint[] | undefined, doubles: number[] | undefined): number {
    let a = p;
    let e: number;
    if (wt === 2) {
      a = this.ld(p, end, wt);
      if (a < 0) return -1;
      e = this.lo;
      if ((e - a) % 8 !== 0) return -1; // protobufjs would read past the list
    } else if (wt === 1) {
      e = a + 8;
      if (e > end) return -1;
    } else return -1;
    const dv = this.dv;
    for (let q = a; q < e; q += 8) {
      if (counts) counts.push((BigInt(dv.getUint32(q + 4, true)) << 32n) | BigInt(dv.getUint32(q, true)));
      else doubles!.push(dv.getFloat64(q, true));
    }
    return e;
  }

  /** SummaryDataPoint { time 3, count 4, sum 5, quantile_values 6, attributes 7, flags 8 }. */
  protected summaryPoint(p: number, end: number, ctx: Ctx, name: string, names: Names): boolean {
    const attrs = this.attrs;
    attrs.length = 0;
    this.keyLen = 0;
    this.tLo = this.tHi = this.cLo = this.cHi = 0;
    const qs = this.quantiles; // quantile, value; NaN for absent
    qs.length = 0;
    let sum = 0;
    let hasSum = false;
    while (p < end) {
      const from = p;
      p = this.v32(p, end);
      if (p < 0) return false;
      const no = this.lo >>> 3;
      const wt = this.lo & 7;
      const c = this.common(p, end, no, wt);
      if (c !== -2) {
        if (c < 0) return false;
        p = c;
        continue;
      }
      switch (no) {
        case 7: {
          const a = this.ld(p, end, wt);
          if (a < 0) return false;
          p = this.lo;
          attrs.push(a, p);
          this.keyAttr(from, p);
          break;
        }
        case 5:
          p = this.double(p, end, wt);
          if (p < 0) return false;
          sum = this.dbl;
          hasSum = true;
          break;
        case 6: {
          const a = this.ld(p, end, wt);
          if (a < 0) return false;
          p = this.lo;
          if (!this.quantile(a, p)) return false;
          break;
        }
        default:
          p = this.skipField(p, end, wt, no, S_SUMMARY);
          if (p < 0) return false;
      }
    }
    const head = this.head(ctx, attrs, 0, undefined, '');
    if (head === undefined) return false;
    if (name === '') {
      this.rejected++;
      return true;
    }
    const o = this.o;
    o.put(head);
    this.countField(names.count);
    this.numField(names.sum, hasSum, sum);
    this.time();
    for (let k = 0; k < qs.length; k += 2) {
      const v = qs[k + 1]!;
      if (!Number.isFinite(v)) continue; // absent or not finite: no point (num())
      const q = qs[k]!;
      const h = this.head(ctx, attrs, 2, 'quantile', String(Number.isFinite(q) ? q : 0));
      if (h === undefined) return false;
      o.put(h);
      o.put(names.value);
      o.text(String(v));
      this.time();
    }
    return true;
  }

  /** ValueAtQuantile { quantile 1, value 2 } into `quantiles` (NaN for absent). */
  private quantile(p: number, end: number): boolean {
    let q = NaN;
    let v = NaN;
    while (p < end) {
      p = this.v32(p, end);
      if (p < 0) return false;
      const no = this.lo >>> 3;
      const wt = this.lo & 7;
      if (no === 1 || no === 2) {
        p = this.double(p, end, wt);
        if (p < 0) return false;
        if (no === 1) q = this.dbl;
        else v = this.dbl;
      } else {
        p = this.skipField(p, end, wt, no, S_QV);
        if (p < 0) return false;
      }
    }
    this.quantiles.push(q, v);
    return true;
  }
}


const S_SUMMARY = schemaOf({ 2: 1, 8: WT_VARINT | U32 });

export type ProtoType = ReturnType<typeof protoType>;

export const NOT = Symbol('not decoded');

/**
 * body[a, e) decoded as a `type` by protobufjs as the generic path decodes it
 * inside the request, or NOT. Inside the request, protobufjs reads a field
 * that overruns its message on into the next bytes, where a request of its
 * own would end: such a message is refused here first, read through a plain
 * Uint8Array (whose reader throws past its end, where a Buffer's clamps
 * strings), then decoded from the Buffer (whose strings are what the generic
 * path's are).
 */
export function decodeExact(type: ProtoType, body: Buffer, a: number, e: number): unknown {
  try {
    type.decode(new Uint8Array(body.buffer, body.byteOffset + a, e - a));
    return type.decode(body.subarray(a, e));
  } catch {
    return NOT;
  }
}

export function valid(type: ProtoType, body: Buffer, a: number, e: number): boolean {
  return decodeExact(type, body, a, e) !== NOT;
}
