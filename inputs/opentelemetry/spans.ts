/**
 * An OTLP/protobuf ExportTraceServiceRequest read into columns of offsets
 * (the first half of the trace workers' fast path; lines.ts writes the lines
 * from them). One pass over the wire format: resources, scopes, spans, events
 * and key-values become rows of Int32Array columns holding offsets into the
 * body; strings stay bytes. `read()` returns false, having read nothing the
 * caller may use, for whatever protobufjs would read otherwise or the writer
 * does not model (see lines.ts): it then runs the generic path.
 */
import type { AnyValue } from './attrs.js';
import { Cols, MSG, schemaOf, U32, u32Len, WireReader, WT_VARINT, type Schema } from './wire.js';

/** Spans of one request the fast path takes (bounds its arrays). */
export const MAX_SPANS = 1 << 17;

// AnyValue kinds
export const V_NONE = 0;
export const V_STR = 1;
export const V_BOOL = 2;
export const V_INT = 3;
export const V_DOUBLE = 4;

const S_ESR = schemaOf({});
const S_RS = schemaOf({ 3: 2 });
const S_RESOURCE = schemaOf({ 2: WT_VARINT | U32, 3: MSG });
const S_SS = schemaOf({ 3: 2 });
const S_SCOPE = schemaOf({ 1: 2, 2: 2, 4: WT_VARINT | U32 });
const S_SPAN = schemaOf({ 3: 2, 10: WT_VARINT | U32, 12: WT_VARINT | U32, 14: WT_VARINT | U32, 16: 5 });
const S_EVENT = schemaOf({ 4: WT_VARINT | U32 });
const S_STATUS = schemaOf({});
const S_KV = schemaOf({});
const S_AV = schemaOf({});

// key-value columns
export const KV_KS = 0;
export const KV_KE = 1;
export const KV_T = 2;
export const KV_A = 3; // string start, bool, int lo, double: index into doubles
export const KV_B = 4; // string end, int hi
// resource columns
export const R_KV0 = 0;
export const R_KV1 = 1;
export const R_SEEN = 2;
// scope columns
export const S_RES = 0;
export const S_KV0 = 1;
export const S_KV1 = 2;
export const S_SEEN = 3;
// span columns
export const SP_SCOPE = 0;
export const SP_TS = 1;
export const SP_TE = 2;
export const SP_SS = 3;
export const SP_SE = 4;
export const SP_PS = 5;
export const SP_PE = 6;
export const SP_NS = 7;
export const SP_NE = 8;
export const SP_KIND = 9;
export const SP_ST_HI = 10;
export const SP_ST_LO = 11;
export const SP_EN_HI = 12;
export const SP_EN_LO = 13;
export const SP_CODE = 14;
export const SP_MS = 15; // status message start (-1 none)
export const SP_ME = 16;
export const SP_KV0 = 17;
export const SP_KV1 = 18;
export const SP_EV0 = 19;
export const SP_EV1 = 20;
export const SP_STATUS = 21; // seen
// event columns
export const E_T_HI = 0;
export const E_T_LO = 1;
export const E_NS = 2;
export const E_NE = 3;
export const E_KV0 = 4;
export const E_KV1 = 5;

export class SpanScan extends WireReader {
  readonly kv = new Cols(5, 1 << 20);
  readonly res = new Cols(3, 1 << 16);
  readonly scopes = new Cols(4, 1 << 16);
  readonly spans = new Cols(22, MAX_SPANS);
  readonly events = new Cols(6, 1 << 18);
  doubles = new Float64Array(64);
  private nDoubles = 0;
  private evStarts: number[] = [];

  /** The body read last. */
  get bytes(): Buffer {
    return this.body;
  }

  get view(): DataView {
    return this.dv;
  }

  /** Reads `body` into the columns; false when the fast path does not take it. */
  read(body: Buffer): boolean {
    this.setBody(body);
    return this.scan();
  }

  /** Forgets the request (call after writing it). */
  reset(): void {
    this.kv.reset();
    this.res.reset();
    this.scopes.reset();
    this.spans.reset();
    this.events.reset();
    this.nDoubles = 0;
    if (this.doubles.length > 4096) this.doubles = new Float64Array(64);
    this.clearBody();
  }

  private scan(): boolean {
    const end = this.body.length;
    let p = 0;
    while (p < end) {
      p = this.v32(p, end);
      if (p < 0) return false;
      const wt = this.lo & 7;
      const no = this.lo >>> 3;
      if (no === 1) {
        const a = this.ld(p, end, wt);
        if (a < 0) return false;
        p = this.lo;
        if (!this.resourceSpans(a, p)) return false;
      } else {
        p = this.skipField(p, end, wt, no, S_ESR);
        if (p < 0) return false;
      }
    }
    return true;
  }

  private resourceSpans(p: number, end: number): boolean {
    const r = this.res.add();
    if (r < 0) return false;
    const rc = this.res.cols;
    rc[R_SEEN]![r] = 0;
    rc[R_KV0]![r] = 0;
    rc[R_KV1]![r] = 0;
    // ResourceSpans { resource 1: Resource { attributes 1, dropped 2 }, scope_spans 2, schema_url 3 }
    return this.level(p, end, r, rc, R_SEEN, R_KV0, 1, S_RESOURCE, S_RS, false);
  }

  private scopeSpans(p: number, end: number, r: number): boolean {
    const s = this.scopes.add();
    if (s < 0) return false;
    const sc = this.scopes.cols;
    sc[S_RES]![s] = r;
    sc[S_KV0]![s] = 0;
    sc[S_KV1]![s] = 0;
    sc[S_SEEN]![s] = 0;
    // ScopeSpans { scope 1: InstrumentationScope { name 1, version 2, attributes 3, dropped 4 }, spans 2, schema_url 3 }
    return this.level(p, end, s, sc, S_SEEN, S_KV0, 3, S_SCOPE, S_SS, true);
  }

  /**
   * ResourceSpans and ScopeSpans, which have one shape: field 1 a message
   * (read once) whose attributes are field `attrField`, field 2 the repeated
   * children (scopes, or spans when `spans`). Row `row` of `cols` gets the
   * attributes' rows in columns kv0 and kv0 + 1.
   */
  private level(p: number, end: number, row: number, cols: Int32Array[], seen: number, kv0: number, attrField: number, attrTbl: Schema, tbl: Schema, spans: boolean): boolean {
    while (p < end) {
      p = this.v32(p, end);
      if (p < 0) return false;
      const no = this.lo >>> 3;
      const wt = this.lo & 7;
      if (no === 1 || no === 2) {
        const a = this.ld(p, end, wt);
        if (a < 0) return false;
        p = this.lo;
        if (no === 1) {
          if (cols[seen]![row] === 1) return false;
          cols[seen]![row] = 1;
          const k0 = this.kv.n;
          if (!this.attrList(a, p, attrField, attrTbl)) return false;
          cols[kv0]![row] = k0;
          cols[kv0 + 1]![row] = this.kv.n;
        } else if (!(spans ? this.span(a, p, row) : this.scopeSpans(a, p, row))) return false;
      } else {
        p = this.skipField(p, end, wt, no, tbl);
        if (p < 0) return false;
      }
    }
    return true;
  }

  /** The repeated KeyValue field `field` of a message [p, end); other fields skipped. */
  private attrList(p: number, end: number, field: number, tbl: Schema): boolean {
    while (p < end) {
      p = this.v32(p, end);
      if (p < 0) return false;
      const no = this.lo >>> 3;
      const wt = this.lo & 7;
      if (no === field) {
        const a = this.ld(p, end, wt);
        if (a < 0) return false;
        p = this.lo;
        if (!this.keyValue(a, p)) return false;
      } else {
        p = this.skipField(p, end, wt, no, tbl);
        if (p < 0) return false;
      }
    }
    return true;
  }

  private keyValue(p: number, end: number): boolean {
    const i = this.kv.add();
    if (i < 0) return false;
    const c = this.kv.cols;
    c[KV_KS]![i] = 0;
    c[KV_KE]![i] = 0;
    c[KV_T]![i] = V_NONE;
    let seenValue = false;
    while (p < end) {
      p = this.v32(p, end);
      if (p < 0) return false;
      const no = this.lo >>> 3;
      const wt = this.lo & 7;
      if (no === 1 || no === 2) {
        const a = this.ld(p, end, wt);
        if (a < 0) return false;
        p = this.lo;
        if (no === 1) {
          c[KV_KS]![i] = a;
          c[KV_KE]![i] = p;
        } else {
          if (seenValue) return false;
          seenValue = true;
          if (!this.anyValue(a, p, i)) return false;
        }
      } else {
        p = this.skipField(p, end, wt, no, S_KV);
        if (p < 0) return false;
      }
    }
    return true;
  }

  /** AnyValue { string 1, bool 2, int64 3, double 4, array 5, kvlist 6, bytes 7 }: one of the first four. */
  private anyValue(p: number, end: number, i: number): boolean {
    const c = this.kv.cols;
    let t = V_NONE;
    while (p < end) {
      p = this.v32(p, end);
      if (p < 0) return false;
      const no = this.lo >>> 3;
      const wt = this.lo & 7;
      if (no >= 1 && no <= 7 && t !== V_NONE && t !== no) return false; // two values
      switch (no) {
        case 1: {
          const a = this.ld(p, end, wt);
          if (a < 0) return false;
          p = this.lo;
          t = V_STR;
          c[KV_A]![i] = a;
          c[KV_B]![i] = p;
          break;
        }
        case 2:
        case 3: {
          if (wt !== 0) return false;
          const from = p;
          p = this.v64(p, end);
          if (p < 0 || (no === 2 && !u32Len(p - from))) return false;
          t = no === 2 ? V_BOOL : V_INT;
          c[KV_A]![i] = this.lo | 0;
          c[KV_B]![i] = this.hi | 0;
          break;
        }
        case 4: {
          if (wt !== 1 || p + 8 > end) return false;
          if (t !== V_DOUBLE) {
            if (this.nDoubles === this.doubles.length) {
              const g = new Float64Array(this.doubles.length * 2);
              g.set(this.doubles);
              this.doubles = g;
            }
            c[KV_A]![i] = this.nDoubles++;
          }
          this.doubles[c[KV_A]![i]!] = this.dv.getFloat64(p, true);
          p += 8;
          t = V_DOUBLE;
          break;
        }
        case 5:
        case 6:
        case 7:
          return false; // arrays, maps, bytes: the generic path
        default:
          p = this.skipField(p, end, wt, no, S_AV);
          if (p < 0) return false;
      }
    }
    c[KV_T]![i] = t;
    return true;
  }

  private span(p: number, end: number, scope: number): boolean {
    const i = this.spans.add();
    if (i < 0) return false;
    const c = this.spans.cols;
    for (let k = 0; k < c.length; k++) c[k]![i] = 0;
    c[SP_SCOPE]![i] = scope;
    c[SP_MS]![i] = -1;
    const k0 = this.kv.n;
    const evs = this.evStarts;
    evs.length = 0;
    while (p < end) {
      p = this.v32(p, end);
      if (p < 0) return false;
      const no = this.lo >>> 3;
      const wt = this.lo & 7;
      switch (no) {
        case 1:
        case 2:
        case 4:
        case 5: {
          const a = this.ld(p, end, wt);
          if (a < 0) return false;
          p = this.lo;
          const col = no === 1 ? SP_TS : no === 2 ? SP_SS : no === 4 ? SP_PS : SP_NS;
          c[col]![i] = a;
          c[col + 1]![i] = p;
          break;
        }
        case 6: {
          if (wt !== 0) return false;
          p = this.enumAt(p, end);
          if (p < 0) return false;
          c[SP_KIND]![i] = this.lo | 0;
          break;
        }
        case 7:
        case 8:
          if (wt !== 1 || p + 8 > end) return false;
          c[no === 7 ? SP_ST_LO : SP_EN_LO]![i] = this.dv.getUint32(p, true) | 0;
          c[no === 7 ? SP_ST_HI : SP_EN_HI]![i] = this.dv.getUint32(p + 4, true) | 0;
          p += 8;
          break;
        case 9: {
          const a = this.ld(p, end, wt);
          if (a < 0) return false;
          p = this.lo;
          if (!this.keyValue(a, p)) return false;
          break;
        }
        case 11: {
          const a = this.ld(p, end, wt);
          if (a < 0) return false;
          p = this.lo;
          evs.push(a, p);
          break;
        }
        case 13:
          return false; // links: the generic path
        case 15: {
          if (wt !== 2 || c[SP_STATUS]![i] === 1) return false;
          c[SP_STATUS]![i] = 1;
          const a = this.ld(p, end);
          if (a < 0) return false;
          p = this.lo;
          if (!this.status(a, p, i)) return false;
          break;
        }
        default:
          p = this.skipField(p, end, wt, no, S_SPAN);
          if (p < 0) return false;
      }
    }
    c[SP_KV0]![i] = k0;
    c[SP_KV1]![i] = this.kv.n;
    c[SP_EV0]![i] = this.events.n;
    // events after the span's attributes, so each list is one range of kv rows
    for (let k = 0; k < evs.length; k += 2) if (!this.event(evs[k]!, evs[k + 1]!)) return false;
    c[SP_EV1]![i] = this.events.n;
    return true;
  }

  /** Status { message 2, code 3 }. */
  private status(p: number, end: number, i: number): boolean {
    const c = this.spans.cols;
    while (p < end) {
      p = this.v32(p, end);
      if (p < 0) return false;
      const no = this.lo >>> 3;
      const wt = this.lo & 7;
      if (no === 2) {
        const a = this.ld(p, end, wt);
        if (a < 0) return false;
        p = this.lo;
        c[SP_MS]![i] = a;
        c[SP_ME]![i] = p;
      } else if (no === 3) {
        if (wt !== 0) return false;
        p = this.enumAt(p, end);
        if (p < 0) return false;
        c[SP_CODE]![i] = this.lo | 0;
      } else {
        p = this.skipField(p, end, wt, no, S_STATUS);
        if (p < 0) return false;
      }
    }
    return true;
  }

  /** Event { time_unix_nano 1, name 2, attributes 3, dropped 4 }. */
  private event(p: number, end: number): boolean {
    const e = this.events.add();
    if (e < 0) return false;
    const c = this.events.cols;
    c[E_T_HI]![e] = 0;
    c[E_T_LO]![e] = 0;
    c[E_NS]![e] = 0;
    c[E_NE]![e] = 0;
    const k0 = this.kv.n;
    while (p < end) {
      p = this.v32(p, end);
      if (p < 0) return false;
      const no = this.lo >>> 3;
      const wt = this.lo & 7;
      if (no === 1) {
        if (wt !== 1 || p + 8 > end) return false;
        c[E_T_LO]![e] = this.dv.getUint32(p, true) | 0;
        c[E_T_HI]![e] = this.dv.getUint32(p + 4, true) | 0;
        p += 8;
      } else if (no === 2 || no === 3) {
        const a = this.ld(p, end, wt);
        if (a < 0) return false;
        p = this.lo;
        if (no === 2) {
          c[E_NS]![e] = a;
          c[E_NE]![e] = p;
        } else if (!this.keyValue(a, p)) return false;
      } else {
        p = this.skipField(p, end, wt, no, S_EVENT);
        if (p < 0) return false;
      }
    }
    c[E_KV0]![e] = k0;
    c[E_KV1]![e] = this.kv.n;
    return true;
  }

  // ---- values ----

  keyIs(k: number, name: Buffer): boolean {
    const c = this.kv.cols;
    return this.bytesAre(c[KV_KS]![k]!, c[KV_KE]![k]!, name);
  }

  int(k: number): bigint {
    const c = this.kv.cols;
    return BigInt.asIntN(64, (BigInt(c[KV_B]![k]! >>> 0) << 32n) | BigInt(c[KV_A]![k]! >>> 0));
  }

  /** The attribute's value as protobufjs and traces.ts see it. */
  anyOf(k: number): AnyValue | null {
    const c = this.kv.cols;
    switch (c[KV_T]![k]) {
      case V_STR:
        return { stringValue: this.body.toString('utf8', c[KV_A]![k]!, c[KV_B]![k]!) };
      case V_BOOL:
        return { boolValue: c[KV_A]![k] !== 0 };
      case V_INT:
        return { intValue: this.int(k) };
      case V_DOUBLE:
        return { doubleValue: this.doubles[c[KV_A]![k]!]! };
      default:
        return null;
    }
  }

  /** anyString of the value. */
  str(k: number): string | undefined {
    const c = this.kv.cols;
    switch (c[KV_T]![k]) {
      case V_STR:
        return this.body.toString('utf8', c[KV_A]![k]!, c[KV_B]![k]!);
      case V_BOOL:
        return c[KV_A]![k] !== 0 ? 'true' : 'false';
      case V_INT:
        return this.int(k).toString();
      case V_DOUBLE:
        return String(this.doubles[c[KV_A]![k]!]!);
      default:
        return undefined;
    }
  }
}
