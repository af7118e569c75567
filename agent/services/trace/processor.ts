/**
 * The shared tracing pipeline: filters whole traces (filters.ts), derives
 * span types, and maps every kept span to a tracing point.
 *
 * Point shape (DataKit's): measurement = source (the input name); tags
 * service, source, operation, source_type, span_type, status plus the span's
 * promoted tags (minus ignore_tags); fields trace_id, span_id, parent_id,
 * resource, start (µs), duration (µs), message; time = span start.
 */
import type { FieldValue, Point } from '../../model/point.js';
import { TraceFilters, deriveSpanTypes, type DropReason } from './filters.js';
import type { TraceOptions } from './options.js';
import type { Trace, TraceSpan } from './span.js';

export interface ProcessResult {
  points: Point[];
  /** Spans dropped by the filters, by reason. */
  dropped: Partial<Record<DropReason, number>>;
}

/** Tags the processor sets itself; span tags of these names are not copied. */
export const FIXED_TAGS: ReadonlySet<string> = new Set(['service', 'source', 'operation', 'source_type', 'span_type', 'status']);

/** Decides whether a tag key is ignored, caching the regex answers (bounded). */
class TagFilter {
  private readonly res: RegExp[];
  private readonly cache = new Map<string, boolean>();
  constructor(patterns: readonly string[]) {
    this.res = patterns.map((p) => new RegExp(p));
  }
  get empty(): boolean {
    return this.res.length === 0;
  }
  ignored(key: string): boolean {
    let v = this.cache.get(key);
    if (v === undefined) {
      v = this.res.some((r) => r.test(key));
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(key, v);
    }
    return v;
  }
}

export class TraceProcessor {
  readonly filters: TraceFilters;
  private readonly ignore: TagFilter;

  constructor(
    /** Measurement and `source` tag: the input name. */
    readonly source: string,
    readonly opts: TraceOptions,
    now?: () => number,
  ) {
    this.filters = new TraceFilters(opts, now);
    this.ignore = new TagFilter(opts.ignore_tags);
  }

  /** Whether ignore_tags leaves span tag `key` out of points. */
  tagIgnored(key: string): boolean {
    return !this.ignore.empty && this.ignore.ignored(key);
  }

  process(traces: readonly Trace[]): ProcessResult {
    const points: Point[] = [];
    const dropped: Partial<Record<DropReason, number>> = {};
    for (const trace of traces) {
      if (trace.length === 0) continue;
      const why = this.filters.check(trace);
      if (why !== undefined) {
        dropped[why] = (dropped[why] ?? 0) + trace.length;
        continue;
      }
      deriveSpanTypes(trace);
      for (const s of trace) points.push(this.toPoint(s));
    }
    return { points, dropped };
  }

  toPoint(s: TraceSpan): Point {
    const tags: Record<string, string> = {
      service: s.service,
      source: this.source,
      operation: s.operation,
      source_type: s.sourceType,
      span_type: s.spanType === '' ? 'entry' : s.spanType,
      status: s.error ? 'error' : 'ok',
    };
    const st = s.tags;
    const ignore = this.ignore.empty ? undefined : this.ignore;
    for (const k in st) {
      if (FIXED_TAGS.has(k) || (ignore !== undefined && ignore.ignored(k))) continue;
      tags[k] = st[k]!;
    }
    const fields: Record<string, FieldValue> = {
      trace_id: s.traceId,
      span_id: s.spanId,
      parent_id: s.parentId,
      resource: s.resource,
      start: BigInt(Math.trunc(s.startUs)),
      duration: BigInt(Math.trunc(s.durationUs)),
    };
    if (s.message !== undefined && !this.opts.del_message) fields.message = s.message;
    if (s.fields) for (const k in s.fields) if (!Object.hasOwn(fields, k)) fields[k] = s.fields[k]!;
    // A span without a start (0) gets no time: the core stamps it on arrival rather than in 1970.
    return { category: 'tracing', name: this.source, tags, fields, time: s.timeNs ?? (s.startUs > 0 ? BigInt(Math.trunc(s.startUs)) * 1000n : undefined) };
  }
}
