/**
 * A span's `message` (DataKit's protojson of the span: the attributes that
 * are not promoted, the events, the status message) written from the
 * request's bytes as OTLP/JSON that is at once escaped for a line-protocol
 * string field: each byte JSON escapes is written with the backslashes both
 * need, so the message is copied once (lines.ts writes the rest of the line).
 */
import { isUtf8 } from 'node:buffer';
import { F_MESSAGE } from '../../agent/services/trace/span-line.js';
import { LineOut } from './line-out.js';
import { E_KV0, E_KV1, E_NE, E_NS, E_T_HI, E_T_LO, KV_A, KV_B, KV_KE, KV_KS, KV_T, SP_EV0, SP_EV1, SP_ME, SP_MS, SpanScan, V_BOOL, V_DOUBLE, V_INT, V_STR } from './spans.js';

/** Bytes that JSON escapes, and how each is written once the JSON is escaped again for line protocol. */
const JLP: (Buffer | undefined)[] = [];
for (let c = 0; c < 0x20; c++) {
  const short = { 8: 'b', 9: 't', 10: 'n', 12: 'f', 13: 'r' }[c];
  JLP[c] = Buffer.from('\\\\' + (short ?? 'u' + c.toString(16).padStart(4, '0')), 'latin1');
}
JLP[0x22] = Buffer.from('\\\\\\"', 'latin1');
JLP[0x5c] = Buffer.from('\\\\\\\\', 'latin1');

/** JSON text escaped for a line-protocol string field: `"` and `\` get a backslash. */
export function lp(json: string): Buffer {
  return Buffer.from(json.replace(/[\\"]/g, '\\$&'));
}

/** The JSON pieces of an attribute key in the message. */
export interface JsonKey {
  /** `{"key":<key>,"value":` as JSON, escaped for line protocol. */
  json: Buffer;
  /** `{"key":<key>,"value":{"stringValue":"`, escaped: the common case in one piece. */
  jsonStr: Buffer;
}

const P_ATTRS = lp('{"attributes":[');
const P_EVENTS = lp('],"events":[');
const P_END_ATTRS = lp(']');
const P_EV_TIME = lp('{"timeUnixNano":"');
const P_EV_NAME = lp('","name":');
const P_EV_ATTRS = lp(',"attributes":[');
const P_STATUS = lp(',"status":{"message":');
const P_STR = lp('{"stringValue":');
const P_INT = lp('{"intValue":"');
const P_INT_END = lp('"}');
const P_DOUBLE = lp('{"doubleValue":');
const P_BOOL_T = lp('{"boolValue":true}');
const P_BOOL_F = lp('{"boolValue":false}');
const P_EMPTY = lp('{}');
const P_QUOTE = lp('"');
export const COMMA = Buffer.from(',');
const P_END_OBJ = lp('}');
const P_STR_END = lp('"}}');
const P_END_EV = lp(']}');
const P_END_MSG = Buffer.from('}"');
const P_KEY = lp('{"key":');
const P_VALUE = lp(',"value":');

export class SpanJsonOut extends LineOut {
  protected readonly scan = new SpanScan();
  protected body: Buffer = Buffer.alloc(0);
  /** Set when a string copied as bytes was not valid UTF-8: the request goes to the generic path. */
  protected bad = false;
  /** The span's attributes that stay in the message, by row − its first (undefined: not there). */
  protected readonly rest: (JsonKey | undefined)[] = [];

  /**
   * body[a, e) as a JSON string's content, escaped for line protocol. Bytes
   * that are not valid UTF-8 would be U+FFFD on the generic path: such a
   * request is left to it (`bad`).
   */
  protected jsonStr(a: number, e: number): void {
    this.room((e - a) * 7);
    const d = this.d;
    const b = this.body;
    let w = this.w;
    let high = 0;
    for (let i = a; i < e; i++) {
      const ch = b[i]!;
      high |= ch;
      if (ch >= 0x20 && ch !== 0x22 && ch !== 0x5c) d[w++] = ch;
      else {
        const x = JLP[ch]!;
        for (let k = 0; k < x.length; k++) d[w++] = x[k]!;
      }
    }
    this.w = w;
    if (high >= 0x80 && !isUtf8(b.subarray(a, e))) this.bad = true;
  }

  /** A JSON string (quotes included) of body[a, e), escaped for line protocol. */
  protected jsonQuoted(a: number, e: number): void {
    this.put(P_QUOTE);
    this.jsonStr(a, e);
    this.put(P_QUOTE);
  }

  /** A value as OTLP/JSON writes it (traces.ts kvJson / plain). */
  protected jsonValue(k: number): void {
    const c = this.scan.kv.cols;
    switch (c[KV_T]![k]) {
      case V_STR:
        this.put(P_STR);
        this.jsonQuoted(c[KV_A]![k]!, c[KV_B]![k]!);
        this.put(P_END_OBJ);
        return;
      case V_INT: {
        const hi = c[KV_B]![k]!;
        const lo = c[KV_A]![k]!;
        this.put(P_INT);
        this.text(hi === 0 && lo >= 0 ? String(lo) : this.scan.int(k).toString());
        this.put(P_INT_END);
        return;
      }
      case V_DOUBLE: {
        const v = this.scan.doubles[c[KV_A]![k]!]!;
        this.put(P_DOUBLE);
        this.text(Number.isFinite(v) ? String(v) : 'null');
        this.put(P_END_OBJ);
        return;
      }
      case V_BOOL:
        this.put(c[KV_A]![k] !== 0 ? P_BOOL_T : P_BOOL_F);
        return;
      default:
        this.put(P_EMPTY);
    }
  }

  protected kvJson(k: number, info: JsonKey): void {
    const c = this.scan.kv.cols;
    if (c[KV_T]![k] === V_STR) {
      // one piece before the value, one after
      this.put(info.jsonStr);
      this.jsonStr(c[KV_A]![k]!, c[KV_B]![k]!);
      this.put(P_STR_END);
      return;
    }
    this.put(info.json);
    this.jsonValue(k);
    this.put(P_END_OBJ);
  }

  /**
   * Span i's `message` field: the resource's and scope's message attributes
   * (`scopeRest`, written once per scope), the span's own from row `restAt`
   * on (those `rest` marks), the events not taken as the exception, the status
   * message. As traces.ts builds it, escaped for line protocol as it is copied.
   */
  protected writeMessage(i: number, scopeRest: Buffer, restAt: number, k0: number, k1: number, keptEvents: number): void {
    const sp = this.scan.spans.cols;
    const ev = this.scan.events.cols;
    const kvc = this.scan.kv.cols;
    const rest = this.rest;
    const e0 = sp[SP_EV0]![i]!;
    const e1 = sp[SP_EV1]![i]!;
    this.put(F_MESSAGE);
    this.put(P_ATTRS);
    let first = scopeRest.length === 0;
    this.put(scopeRest);
    if (restAt >= 0) {
      for (let k = restAt; k < k1; k++) {
        const info = rest[k - k0];
        if (info === undefined) continue;
        if (!first) this.put(COMMA);
        first = false;
        this.kvJson(k, info);
      }
    }
    if (keptEvents > 0) {
      this.put(P_EVENTS);
      let firstEv = true;
      for (let e = e0; e < e1; e++) {
        if (ev[E_NS]![e]! < 0) continue;
        if (!firstEv) this.put(COMMA);
        firstEv = false;
        this.put(P_EV_TIME);
        this.u64(ev[E_T_HI]![e]! >>> 0, ev[E_T_LO]![e]! >>> 0);
        this.put(P_EV_NAME);
        this.jsonQuoted(ev[E_NS]![e]!, ev[E_NE]![e]!);
        this.put(P_EV_ATTRS);
        const a1 = ev[E_KV1]![e]!;
        for (let k = ev[E_KV0]![e]!; k < a1; k++) {
          if (k > ev[E_KV0]![e]!) this.put(COMMA);
          this.put(P_KEY);
          this.jsonQuoted(kvc[KV_KS]![k]!, kvc[KV_KE]![k]!);
          this.put(P_VALUE);
          this.jsonValue(k);
          this.put(P_END_OBJ);
        }
        this.put(P_END_EV);
      }
    }
    this.put(P_END_ATTRS);
    const ms = sp[SP_MS]![i]!;
    if (ms >= 0 && sp[SP_ME]![i]! > ms) {
      this.put(P_STATUS);
      this.jsonQuoted(ms, sp[SP_ME]![i]!);
      this.put(P_END_OBJ);
    }
    this.put(P_END_MSG);
  }
}

