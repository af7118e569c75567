/**
 * OTLP values as they come from either encoding: the protobufjs objects of
 * a protobuf body and the parsed OTLP/JSON share field names (camelCase), but
 * ids are bytes in one and hex strings in the other, and 64-bit integers are
 * Long objects, numbers or strings. These helpers read both.
 */
import type { FieldValue } from '../../agent/model/point.js';

export interface KeyValue {
  key?: string;
  value?: AnyValue | null;
}

export interface AnyValue {
  stringValue?: string | null;
  boolValue?: boolean | null;
  intValue?: unknown;
  doubleValue?: number | null;
  arrayValue?: { values?: AnyValue[] } | null;
  kvlistValue?: { values?: KeyValue[] } | null;
  bytesValue?: Uint8Array | string | null;
}

const HEX = /^[0-9a-fA-F]*$/;

/** `v` when it is an array, else an empty one: OTLP/JSON bodies are untrusted and may have any shape. */
export function arr<T>(v: T[] | null | undefined): T[] {
  return Array.isArray(v) ? v : [];
}

/** 64-bit integers as protobufjs (Long or number) or OTLP/JSON (string or number) give them. */
export function toBig(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
  if (typeof v === 'string') {
    if (!/^-?[0-9]+$/.test(v)) return 0n;
    return BigInt(v);
  }
  if (typeof v === 'object' && v !== null && 'low' in v && 'high' in v) {
    const l = v as { low: number; high: number; unsigned?: boolean };
    const u = (BigInt(l.high >>> 0) << 32n) | BigInt(l.low >>> 0);
    return l.unsigned || u < 1n << 63n ? u : u - (1n << 64n);
  }
  return 0n;
}

/** A 64-bit integer as a JS number (exact below 2^53). */
export function toNum(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'object' && v !== null && 'low' in v && 'high' in v) {
    const l = v as { low: number; high: number; unsigned?: boolean };
    return l.unsigned ? (l.high >>> 0) * 4294967296 + (l.low >>> 0) : l.high * 4294967296 + (l.low >>> 0);
  }
  if (typeof v === 'string') return Number(v);
  return 0;
}

/**
 * An id as DataKit writes it: lowercase hex; `"0"` when absent or all zero.
 * Returns undefined for an id that is not hex (OTLP/JSON) — the caller rejects the item.
 */
export function idHex(v: unknown): string | undefined {
  if (v === undefined || v === null) return '0';
  if (typeof v === 'string') {
    if (!HEX.test(v)) return undefined;
    return v === '' || /^0*$/.test(v) ? '0' : v.toLowerCase();
  }
  if (v instanceof Uint8Array) {
    let zero = true;
    for (const b of v) if (b !== 0) zero = false;
    return zero ? '0' : Buffer.from(v.buffer, v.byteOffset, v.length).toString('hex');
  }
  return undefined;
}

/** `compatible_ddtrace`: the id's low 64 bits as a decimal number, as DataKit writes it. */
export function idDecimal(hex: string): string {
  if (hex === '0' || hex.length < 16) return '0';
  return BigInt('0x' + hex.slice(-16)).toString();
}

/** An AnyValue as a string (arrays and maps as JSON), or undefined when empty. */
export function anyString(v: AnyValue | null | undefined): string | undefined {
  if (!v || typeof v !== 'object') return undefined;
  if (v.stringValue != null) return String(v.stringValue);
  if (v.boolValue != null) return v.boolValue ? 'true' : 'false';
  if (v.intValue != null) return toBig(v.intValue).toString();
  if (v.doubleValue != null) return String(v.doubleValue);
  if (v.bytesValue != null) return typeof v.bytesValue === 'string' ? v.bytesValue : v.bytesValue instanceof Uint8Array ? Buffer.from(v.bytesValue).toString('base64') : undefined;
  if (v.arrayValue != null || v.kvlistValue != null) return JSON.stringify(anyJson(v));
  return undefined;
}

/** An AnyValue as a point field: numbers and booleans keep their type. */
export function anyField(v: AnyValue | null | undefined): FieldValue | undefined {
  if (!v || typeof v !== 'object') return undefined;
  if (v.intValue != null) return toBig(v.intValue);
  if (typeof v.doubleValue === 'number') return v.doubleValue;
  if (typeof v.boolValue === 'boolean') return v.boolValue;
  return anyString(v);
}

/** An AnyValue as plain JSON (for messages and map bodies). */
export function anyJson(v: AnyValue | null | undefined): unknown {
  if (!v || typeof v !== 'object') return null;
  if (v.stringValue != null) return v.stringValue;
  if (v.boolValue != null) return v.boolValue;
  if (v.intValue != null) {
    const b = toBig(v.intValue);
    return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b.toString();
  }
  if (v.doubleValue != null) return v.doubleValue;
  if (v.bytesValue != null) return typeof v.bytesValue === 'string' ? v.bytesValue : v.bytesValue instanceof Uint8Array ? Buffer.from(v.bytesValue).toString('base64') : null;
  if (v.arrayValue != null) return arr(v.arrayValue.values).map(anyJson);
  if (v.kvlistValue != null) {
    const o: Record<string, unknown> = {};
    for (const kv of arr(v.kvlistValue.values)) if (kv && typeof kv.key === 'string') o[kv.key] = anyJson(kv.value);
    return o;
  }
  return null;
}

/** Attribute key → point key: `.` becomes `_` (the tracing inputs' shared rule). */
export { underscoreKey as pointKey } from '../../agent/services/trace/span.js';

/** The string value of attribute `key`, if any. */
export function attr(attrs: readonly KeyValue[] | null | undefined, key: string): string | undefined {
  for (const kv of arr(attrs as KeyValue[])) if (kv && kv.key === key) return anyString(kv.value);
  return undefined;
}
