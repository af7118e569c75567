/**
 * The two body forms of the RUM SDKs' batches:
 * - line protocol, one point per line (`text/plain` from `sendBeacon` and
 *   `fetch(keepalive)`; the SDK adds `?precision=ms`);
 * - a JSON array (`sendContentTypeByJson`, `application/json`):
 *   `[{"measurement":"view","tags":{…},"fields":{…},"time":1700000000000}, …]`,
 *   times in the same `?precision`.
 * Both are refused as a whole on the first bad line or element (400 with the
 * line or index and the reason), as `/v1/write` does.
 */
import { decodeLines, LineProtocolError, type DecodedPoint } from '../../agent/model/lineproto.js';
import type { FieldValue } from '../../agent/model/point.js';

export class BadBody extends Error {
  constructor(
    readonly kind: 'bad_line' | 'bad_json',
    message: string,
  ) {
    super(message);
  }
}

export function isJson(contentType: string | undefined): boolean {
  return (contentType ?? '').toLowerCase().includes('json');
}

export function decodeBody(body: Buffer, contentType: string | undefined, precision: bigint): DecodedPoint[] {
  if (isJson(contentType)) return decodeJson(body.toString('utf8'), precision);
  try {
    return decodeLines(body.toString('utf8'), precision);
  } catch (e) {
    if (e instanceof LineProtocolError) throw new BadBody('bad_line', e.message);
    throw e;
  }
}

function jsonTime(v: unknown, precision: bigint, at: number): bigint | undefined {
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw new BadBody('bad_json', `element ${at}: time must be a non-negative number`);
  return BigInt(Math.round(n)) * precision;
}

export function decodeJson(text: string, precision: bigint): DecodedPoint[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new BadBody('bad_json', `invalid JSON: ${(e as Error).message}`);
  }
  const arr = Array.isArray(doc) ? doc : [doc];
  const out: DecodedPoint[] = [];
  for (let i = 0; i < arr.length; i++) {
    const el = arr[i] as { measurement?: unknown; tags?: unknown; fields?: unknown; time?: unknown } | null;
    if (el === null || typeof el !== 'object') throw new BadBody('bad_json', `element ${i}: not an object`);
    if (typeof el.measurement !== 'string' || el.measurement === '') throw new BadBody('bad_json', `element ${i}: missing measurement`);
    const tags: Record<string, string> = {};
    if (el.tags !== undefined && el.tags !== null) {
      if (typeof el.tags !== 'object' || Array.isArray(el.tags)) throw new BadBody('bad_json', `element ${i}: tags must be an object`);
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
    if (Object.keys(fields).length === 0) throw new BadBody('bad_json', `element ${i}: no fields`);
    out.push({ name: el.measurement, tags, fields, time: jsonTime(el.time, precision, i) });
  }
  return out;
}
