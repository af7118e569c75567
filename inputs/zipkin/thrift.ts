/**
 * Zipkin v1 Thrift (`application/x-thrift`): a TBinaryProtocol `list<Span>`
 * decoded by a small generic reader, then mapped to the v1 JSON shape so the
 * v1 converter serves both. Untrusted input: every length is checked against
 * the bytes left, and nesting is limited.
 */
import { BadRequest } from '../../agent/services/trace/bad-request.js';

const T_STOP = 0;
const T_BOOL = 2;
const T_BYTE = 3;
const T_DOUBLE = 4;
const T_I16 = 6;
const T_I32 = 8;
const T_I64 = 10;
const T_STRING = 11;
const T_STRUCT = 12;
const T_MAP = 13;
const T_SET = 14;
const T_LIST = 15;
const MAX_DEPTH = 16;

type TValue = boolean | number | bigint | Buffer | TStruct | TValue[] | [TValue, TValue][];
type TStruct = Map<number, TValue>;

function bad(msg: string): BadRequest {
  return new BadRequest(400, 'bad_payload', `invalid zipkin v1 thrift: ${msg}`);
}

class Reader {
  pos = 0;
  constructor(private readonly b: Buffer) {}

  private need(n: number): void {
    if (n < 0 || this.pos + n > this.b.length) throw bad('truncated');
  }
  u8(): number {
    this.need(1);
    return this.b[this.pos++]!;
  }
  i16(): number {
    this.need(2);
    const v = this.b.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  i32(): number {
    this.need(4);
    const v = this.b.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  i64(): bigint {
    this.need(8);
    const v = this.b.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }
  bytes(): Buffer {
    const n = this.i32();
    this.need(n);
    const v = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  /** A collection size, at most the bytes left (every element takes at least one byte). */
  size(): number {
    const n = this.i32();
    if (n < 0 || n > this.b.length - this.pos) throw bad(`collection size ${n}`);
    return n;
  }

  value(type: number, depth: number): TValue {
    if (depth > MAX_DEPTH) throw bad('nested too deeply');
    switch (type) {
      case T_BOOL:
        return this.u8() !== 0;
      case T_BYTE:
        return this.u8();
      case T_DOUBLE: {
        this.need(8);
        const v = this.b.readDoubleBE(this.pos);
        this.pos += 8;
        return v;
      }
      case T_I16:
        return this.i16();
      case T_I32:
        return this.i32();
      case T_I64:
        return this.i64();
      case T_STRING:
        return this.bytes();
      case T_STRUCT:
        return this.struct(depth + 1);
      case T_MAP: {
        const kt = this.u8();
        const vt = this.u8();
        const n = this.size();
        const out: [TValue, TValue][] = [];
        for (let i = 0; i < n; i++) out.push([this.value(kt, depth + 1), this.value(vt, depth + 1)]);
        return out;
      }
      case T_SET:
      case T_LIST: {
        const et = this.u8();
        const n = this.size();
        const out: TValue[] = [];
        for (let i = 0; i < n; i++) out.push(this.value(et, depth + 1));
        return out;
      }
      default:
        throw bad(`unknown type ${type}`);
    }
  }

  struct(depth: number): TStruct {
    const m: TStruct = new Map();
    for (;;) {
      const t = this.u8();
      if (t === T_STOP) return m;
      const id = this.i16();
      m.set(id, this.value(t, depth));
    }
  }
}

const hex = (v: TValue | undefined): string | undefined => (typeof v === 'bigint' ? BigInt.asUintN(64, v).toString(16).padStart(16, '0') : undefined);
const str = (v: TValue | undefined): string | undefined => (Buffer.isBuffer(v) ? v.toString('utf8') : undefined);
const num = (v: TValue | undefined): number | undefined => (typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : undefined);
const structOf = (v: TValue | undefined): TStruct | undefined => (v instanceof Map ? v : undefined);
const listOf = (v: TValue | undefined): TValue[] => (Array.isArray(v) ? (v as TValue[]) : []);

function endpoint(v: TValue | undefined): Record<string, unknown> | undefined {
  const e = structOf(v);
  if (!e) return undefined;
  const out: Record<string, unknown> = {};
  const sn = str(e.get(3));
  if (sn !== undefined) out.serviceName = sn;
  const ip = e.get(1);
  if (typeof ip === 'number') out.ipv4 = [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].join('.');
  const port = e.get(2);
  if (typeof port === 'number' && port !== 0) out.port = port & 0xffff;
  return out;
}

/** A binary annotation's value as text, by its AnnotationType. */
function binaryValue(v: TValue | undefined, type: number): string {
  const b = Buffer.isBuffer(v) ? v : Buffer.alloc(0);
  try {
    switch (type) {
      case 0:
        return b[0] ? 'true' : 'false';
      case 2:
        return String(b.readInt16BE(0));
      case 3:
        return String(b.readInt32BE(0));
      case 4:
        return String(b.readBigInt64BE(0));
      case 5:
        return String(b.readDoubleBE(0));
      default:
        return b.toString('utf8');
    }
  } catch {
    return b.toString('hex');
  }
}

/** Decodes a TBinaryProtocol list<Span> into v1 JSON-shaped spans. */
export function decodeThriftV1(body: Buffer): Record<string, unknown>[] {
  const r = new Reader(body);
  if (body.length === 0) return [];
  const et = r.u8();
  if (et !== T_STRUCT) throw bad(`expected a list of structs, element type ${et}`);
  const n = r.size();
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const s = r.struct(1);
    const high = hex(s.get(12));
    const low = hex(s.get(1));
    const span: Record<string, unknown> = { traceId: high && high !== '0000000000000000' ? high + low : low, id: hex(s.get(4)), name: str(s.get(3)) ?? '' };
    const parent = hex(s.get(5));
    if (parent !== undefined) span.parentId = parent;
    const ts = num(s.get(10));
    if (ts !== undefined) span.timestamp = ts;
    const dur = num(s.get(11));
    if (dur !== undefined) span.duration = dur;
    span.annotations = listOf(s.get(6)).map((a) => {
      const m = structOf(a) ?? new Map();
      return { timestamp: num(m.get(1)), value: str(m.get(2)) ?? '', endpoint: endpoint(m.get(3)) };
    });
    span.binaryAnnotations = listOf(s.get(8)).map((a) => {
      const m = structOf(a) ?? new Map();
      const t = m.get(3);
      return { key: str(m.get(1)) ?? '', value: binaryValue(m.get(2), typeof t === 'number' ? t : 6), endpoint: endpoint(m.get(4)) };
    });
    if (s.get(9) === true) span.debug = true;
    out.push(span);
  }
  if (r.pos !== body.length) throw bad(`${body.length - r.pos} trailing bytes`);
  return out;
}
