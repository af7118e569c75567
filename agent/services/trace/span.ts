/**
 * The one span model both tracing inputs convert into. Converters fill what
 * their format carries; the processor (processor.ts) filters whole traces in
 * DataKit's order and maps each kept span to a tracing point (to-point.ts).
 */
import type { FieldValue, Utf8String } from '../../model/point.js';

/** DataKit's span_type: where the span sits in its service's part of the trace. `''` = let the processor derive it. */
export type SpanType = 'entry' | 'local' | 'exit' | '';

export interface TraceSpan {
  /** As written to the `trace_id` field (decimal for ddtrace, hex for zipkin). */
  traceId: string;
  spanId: string;
  /** `"0"` for a root span. */
  parentId: string;
  service: string;
  operation: string;
  resource: string;
  /** web, db, cache, message_queue, custom, ... */
  sourceType: string;
  spanType: SpanType;
  /** Start, microseconds since the epoch. */
  startUs: number;
  durationUs: number;
  /** Exact start in ns when the format carries it (else startUs * 1000). */
  timeNs?: bigint;
  error: boolean;
  /** HTTP status code as a string, for omit_err_status. */
  httpStatusCode?: string;
  /** `_dd.origin` (a `rum` origin keeps the trace past the sampler). */
  origin?: string;
  /** Point tags from the span (keys already mapped); ignore_tags applies to these. */
  tags: Record<string, string>;
  /** Extra point fields (e.g. over-long meta values, error stacks). */
  fields?: Record<string, FieldValue>;
  /** JSON of the original span (as UTF-8 bytes when they came so); undefined when del_message is on. */
  message?: string | Utf8String;
}

/** The spans of one trace (or of one trace's part that arrived in one request). */
export type Trace = TraceSpan[];

/** `"0"` and the empty string mean "no parent". */
export function isRootParent(id: string): boolean {
  return id === '' || id === '0' || id === '0000000000000000';
}

/** Groups spans by trace id, keeping arrival order (decoders that receive spans, not traces). */
export function groupTraces(spans: TraceSpan[]): Trace[] {
  if (spans.length === 0) return [];
  const by = new Map<string, Trace>();
  for (const s of spans) {
    const t = by.get(s.traceId);
    if (t) t.push(s);
    else by.set(s.traceId, [s]);
  }
  return [...by.values()];
}

const keyCache = new Map<string, string>();
/** A span attribute's key as a point key: `.` becomes `_`, as DataKit writes them (cached: keys repeat across spans). */
export function underscoreKey(k: string): string {
  let v = keyCache.get(k);
  if (v === undefined) {
    v = k.replace(/\./g, '_');
    if (keyCache.size > 10_000) keyCache.clear();
    keyCache.set(k, v);
  }
  return v;
}
