/**
 * Decodes Datadog trace payloads into arrays of traces of {@link DdSpan}s:
 * msgpack v0.3/v0.4 (array of traces, each an array of span maps), v0.5
 * (`[string table, traces of 12-element span arrays]`) and JSON (v0.3).
 *
 * 64-bit ids and ns timestamps are kept exact as decimal strings (msgpackr's
 * `int64AsType: 'string'`); small values arrive as numbers.
 */
import { Unpackr } from 'msgpackr';
import { BadRequest } from '../../agent/services/trace/bad-request.js';

export type DdNum = number | string;

export interface DdSpan {
  service?: unknown;
  name?: unknown;
  resource?: unknown;
  trace_id?: unknown;
  span_id?: unknown;
  parent_id?: unknown;
  start?: unknown;
  duration?: unknown;
  error?: unknown;
  meta?: unknown;
  metrics?: unknown;
  type?: unknown;
}

const unpackr = new Unpackr({ int64AsType: 'string', mapsAsObjects: true, useRecords: false });

function bad(msg: string): BadRequest {
  return new BadRequest(400, 'bad_payload', msg);
}

function unpack(body: Buffer): unknown {
  if (body.length === 0) return [];
  try {
    return unpackr.unpack(body);
  } catch (e) {
    throw bad(`invalid msgpack: ${(e as Error).message}`);
  }
}

function asTraces(v: unknown): DdSpan[][] {
  if (!Array.isArray(v)) throw bad('payload is not an array of traces');
  for (const t of v) {
    if (!Array.isArray(t)) throw bad('a trace is not an array of spans');
    for (const s of t) if (typeof s !== 'object' || s === null || Array.isArray(s)) throw bad('a span is not a map');
  }
  return v as DdSpan[][];
}

/** v0.3 / v0.4 msgpack. */
export function decodeMsgpack(body: Buffer): DdSpan[][] {
  return asTraces(unpack(body));
}

const ID_NUMBER = /("(?:trace_id|span_id|parent_id|start|duration)"\s*:\s*)(-?\d+)/g;

/** v0.3 JSON (ids quoted before parsing so 64-bit values stay exact). */
export function decodeJson(body: Buffer): DdSpan[][] {
  if (body.length === 0) return [];
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8').replace(ID_NUMBER, '$1"$2"'));
  } catch (e) {
    throw bad(`invalid JSON: ${(e as Error).message}`);
  }
  return asTraces(v);
}

/** v0.5: `[strings, traces]`, each span `[service, name, resource, trace_id, span_id, parent_id, start, duration, error, meta, metrics, type]`. */
export function decodeV05(body: Buffer): DdSpan[][] {
  const v = unpack(body);
  if (!Array.isArray(v) || v.length !== 2 || !Array.isArray(v[0]) || !Array.isArray(v[1])) throw bad('v0.5 payload is not [string table, traces]');
  const dict = v[0] as unknown[];
  const str = (i: unknown): string => {
    if (typeof i !== 'number') throw bad('v0.5 string index is not an integer');
    const s = dict[i];
    if (typeof s !== 'string') throw bad(`v0.5 string index ${i} out of range`);
    return s;
  };
  const out: DdSpan[][] = [];
  for (const t of v[1] as unknown[]) {
    if (!Array.isArray(t)) throw bad('a trace is not an array of spans');
    const spans: DdSpan[] = [];
    for (const a of t as unknown[]) {
      if (!Array.isArray(a) || a.length !== 12) throw bad('a v0.5 span is not a 12-element array');
      const meta: Record<string, string> = {};
      if (typeof a[9] !== 'object' || a[9] === null) throw bad('v0.5 meta is not a map');
      for (const [k, x] of Object.entries(a[9] as Record<string, unknown>)) meta[str(Number(k))] = str(x);
      const metrics: Record<string, unknown> = {};
      if (typeof a[10] !== 'object' || a[10] === null) throw bad('v0.5 metrics is not a map');
      for (const [k, x] of Object.entries(a[10] as Record<string, unknown>)) metrics[str(Number(k))] = x;
      spans.push({
        service: str(a[0]),
        name: str(a[1]),
        resource: str(a[2]),
        trace_id: a[3],
        span_id: a[4],
        parent_id: a[5],
        start: a[6],
        duration: a[7],
        error: a[8],
        meta,
        metrics,
        type: str(a[11]),
      });
    }
    out.push(spans);
  }
  return out;
}
