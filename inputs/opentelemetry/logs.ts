/**
 * An ExportLogsServiceRequest → logging points, as DataKit writes them:
 * measurement = the resource's `log.source`, else `service.name`, else
 * `otel_logs`; tags `service` (`unSetServiceName` when absent), `status`
 * from the severity, `host` from `host.name`; fields `message` (the body as
 * text), `trace_id` and `span_id` (hex, `"0"` when absent) so logs link to
 * traces, and the resource, scope (`scope_name`) and record attributes
 * (`.` → `_`). A body over `log_max` KiB is split into several points, 1 ms apart.
 */
import type { FieldValue, Point } from '../../agent/model/point.js';
import { anyJson, anyString, arr, attr, idDecimal, idHex, pointKey, toBig, type AnyValue, type KeyValue } from './attrs.js';

interface LogRecord {
  timeUnixNano?: unknown;
  observedTimeUnixNano?: unknown;
  severityNumber?: number | string;
  severityText?: string;
  body?: AnyValue | null;
  attributes?: KeyValue[];
  traceId?: unknown;
  spanId?: unknown;
}
export interface LogsRequestBody {
  resourceLogs?: {
    resource?: { attributes?: KeyValue[] } | null;
    schemaUrl?: string;
    scopeLogs?: { scope?: { name?: string; attributes?: KeyValue[] } | null; logRecords?: LogRecord[] }[];
  }[];
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
const SEVERITY_NAMES: Record<string, number> = Object.fromEntries(
  LEVELS.flatMap((l, i) => ['', '2', '3', '4'].map((s, j) => [`SEVERITY_NUMBER_${l.toUpperCase()}${s}`, i * 4 + j + 1] as [string, number])),
);

/** DataKit's status from a record's severity: number ranges (TRACE..FATAL), else the text, else `unknown`. */
export function logStatus(n: number | string | undefined, text: string | undefined): string {
  const num = typeof n === 'string' ? (SEVERITY_NAMES[n] ?? Number(n)) : (n ?? 0);
  if (num >= 1 && num <= 24) return LEVELS[Math.floor((num - 1) / 4)]!;
  return typeof text === 'string' && text !== '' ? text.toLowerCase() : 'unknown';
}

function fieldsOf(attrs: readonly KeyValue[] | null | undefined, into: Record<string, FieldValue>): void {
  for (const kv of arr(attrs as KeyValue[])) {
    if (!kv || typeof kv.key !== 'string' || kv.key === '') continue;
    const s = anyString(kv.value);
    if (s !== undefined) into[pointKey(kv.key)] = s;
  }
}

function bodyText(b: AnyValue | null | undefined): string {
  if (!b || typeof b !== 'object') return '';
  if (b.stringValue != null) return String(b.stringValue);
  if (b.arrayValue != null || b.kvlistValue != null) return JSON.stringify(anyJson(b));
  return anyString(b) ?? '';
}

/** Splits `s` into pieces of at most `max` UTF-16 units, never inside a surrogate pair. */
function chunks(s: string, max: number): string[] {
  if (s.length <= max) return [s];
  const out: string[] = [];
  for (let i = 0; i < s.length; ) {
    let end = Math.min(s.length, i + max);
    if (end < s.length && /[\uD800-\uDBFF]/.test(s[end - 1]!)) end--;
    out.push(s.slice(i, end));
    i = end;
  }
  return out;
}

export interface LogMapOptions {
  /** Longest message per point, characters. */
  maxMessage: number;
  decimalIds: boolean;
}

export function mapLogs(req: LogsRequestBody, o: LogMapOptions): { points: Point[]; rejected: number } {
  const points: Point[] = [];
  const id = (v: unknown): string => {
    const h = idHex(v) ?? '0';
    return o.decimalIds ? idDecimal(h) : h;
  };
  for (const rl of arr(req.resourceLogs)) {
    if (!rl) continue;
    const ra = arr(rl.resource?.attributes);
    const serviceName = attr(ra, 'service.name') ?? '';
    const source = attr(ra, 'log.source') || serviceName || 'otel_logs';
    const service = serviceName || 'unSetServiceName';
    const host = attr(ra, 'host.name');
    const resFields: Record<string, FieldValue> = {};
    fieldsOf(ra, resFields);
    if (typeof rl.schemaUrl === 'string' && rl.schemaUrl !== '') resFields.schema_url = rl.schemaUrl;
    for (const sl of arr(rl.scopeLogs)) {
      if (!sl) continue;
      const scopeFields: Record<string, FieldValue> = { ...resFields };
      fieldsOf(sl.scope?.attributes, scopeFields);
      if (typeof sl.scope?.name === 'string' && sl.scope.name !== '') scopeFields.scope_name = sl.scope.name;
      for (const r of arr(sl.logRecords)) {
        if (!r) continue;
        const base: Record<string, FieldValue> = { ...scopeFields };
        fieldsOf(r.attributes, base);
        base.trace_id = id(r.traceId);
        base.span_id = id(r.spanId);
        const tags: Record<string, string> = { service, status: logStatus(r.severityNumber, r.severityText) };
        if (host) tags.host = host;
        let t = toBig(r.timeUnixNano);
        if (t === 0n) t = toBig(r.observedTimeUnixNano);
        const parts = chunks(bodyText(r.body), o.maxMessage);
        for (let i = 0; i < parts.length; i++) {
          points.push({ category: 'logging', name: source, tags: i === 0 ? tags : { ...tags }, fields: { ...base, message: parts[i]! }, time: t > 0n ? t + BigInt(i) * 1_000_000n : undefined });
        }
      }
    }
  }
  return { points, rejected: 0 };
}
