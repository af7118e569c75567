/**
 * DataKit's JSON form of a points body (`Content-Type: application/json`), as
 * `/v1/write/<category>` and the RUM SDKs' `sendContentTypeByJson` send it:
 * `[{"measurement":"view","tags":{…},"fields":{…},"time":1700000000000}, …]`
 * (one object is taken as an array of one), times in the request's precision.
 * Null tags and fields are skipped, objects and arrays become their JSON text,
 * non-finite numbers are dropped; an element with no fields left is an error.
 * The whole body is refused on the first bad element, with its index.
 */
import type { DecodedPoint } from './lineproto.js';
import type { FieldValue } from './point.js';

export class JsonPointsError extends Error {}

const MAX_INT64 = (1n << 63n) - 1n;

export function isJsonBody(contentType: string | undefined): boolean {
  return (contentType ?? '').toLowerCase().includes('json');
}

function jsonTime(v: unknown, precision: bigint, at: number): bigint | undefined {
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw new JsonPointsError(`element ${at}: time must be a non-negative number`);
  const t = BigInt(Math.round(n)) * precision;
  if (t > MAX_INT64) throw new JsonPointsError(`element ${at}: time out of range (beyond int64 nanoseconds)`);
  return t;
}

export function decodeJsonPoints(text: string, precision: bigint): DecodedPoint[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new JsonPointsError(`invalid JSON: ${(e as Error).message}`);
  }
  const arr = Array.isArray(doc) ? doc : [doc];
  const out: DecodedPoint[] = [];
  for (let i = 0; i < arr.length; i++) {
    const el = arr[i] as { measurement?: unknown; tags?: unknown; fields?: unknown; time?: unknown } | null;
    if (el === null || typeof el !== 'object') throw new JsonPointsError(`element ${i}: not an object`);
    if (typeof el.measurement !== 'string' || el.measurement === '') throw new JsonPointsError(`element ${i}: missing measurement`);
    const tags: Record<string, string> = {};
    if (el.tags !== undefined && el.tags !== null) {
      if (typeof el.tags !== 'object' || Array.isArray(el.tags)) throw new JsonPointsError(`element ${i}: tags must be an object`);
      for (const [k, v] of Object.entries(el.tags)) {
        if (v === null || v === undefined) continue;
        tags[k] = typeof v === 'object' ? JSON.stringify(v) : String(v);
      }
    }
    const fields: Record<string, FieldValue> = {};
    if (el.fields !== null && typeof el.fields === 'object' && !Array.isArray(el.fields)) {
      for (const [k, v] of Object.entries(el.fields)) {
        if (v === null || v === undefined) continue;
        if (typeof v === 'number') {
          if (Number.isFinite(v)) fields[k] = v;
        } else if (typeof v === 'string' || typeof v === 'boolean') fields[k] = v;
        else fields[k] = JSON.stringify(v);
      }
    }
    if (Object.keys(fields).length === 0) throw new JsonPointsError(`element ${i}: no fields`);
    out.push({ name: el.measurement, tags, fields, time: jsonTime(el.time, precision, i) });
  }
  return out;
}
