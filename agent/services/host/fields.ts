/**
 * DataKit's host inputs take most counters and sizes from gopsutil as uint64,
 * which its protobuf points carry as unsigned fields (`u`). Using the same
 * types keeps a cluster that mixes DataKit and telekit nodes free of field-type
 * conflicts at the backend.
 */
import { UInt, type FieldValue } from '../../model/point.js';

/** An unsigned field from a non-negative count or size (negative and NaN become 0). */
export function uint(n: number): UInt {
  return new UInt(Number.isFinite(n) && n > 0 ? BigInt(Math.trunc(n)) : 0n);
}

/** Any numeric field as a JS number (tests and summaries). */
export function fieldNumber(v: FieldValue | undefined): number {
  if (v instanceof UInt) return Number(v.value);
  return typeof v === 'bigint' || typeof v === 'number' ? Number(v) : NaN;
}
