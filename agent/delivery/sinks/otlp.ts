/**
 * The OTLP forwarding sink: turns tracing points (the shape written by the
 * shared tracing pipeline, agent/services/trace/processor.ts) back into spans and
 * exports them with @opentelemetry/exporter-trace-otlp-http, so users with
 * Jaeger, Tempo or an OpenTelemetry Collector get the same traces.
 *
 * Mapping: trace_id/span_id/parent_id → hex ids (ddtrace's decimal ids are
 * converted; hex ids are padded); name = resource (else operation);
 * span_type entry/exit/local → kind SERVER/CLIENT/INTERNAL; status=error →
 * ERROR; `service` → resource attribute service.name; the other tags and the
 * scalar fields (but not `message`) → span attributes; start/duration (µs) →
 * start/end time.
 *
 * Note: the exporter retries 429/502/503/504 itself a few times before it
 * reports a failure; the core's sender then retries as for any sink.
 */
import { SpanKind, SpanStatusCode, TraceFlags, type Attributes, type HrTime } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { UInt, Utf8String, type Category, type Point } from '../../model/point.js';
import type { Batch, SendResult, Sink } from './types.js';
import { redactUrl } from '../../telemetry/redact.js';

export interface OtlpSinkConfig {
  /** OTLP/HTTP traces URL, e.g. http://tempo:4318/v1/traces. */
  endpoint: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

const HEX = /^[0-9a-f]+$/;
const DEC = /^[0-9]+$/;
/** Tags that become structure rather than attributes. */
const STRUCTURAL_TAGS = new Set(['service', 'status', 'span_type']);
/** Fields that become structure (or are too large) rather than attributes. */
const STRUCTURAL_FIELDS = new Set(['trace_id', 'span_id', 'parent_id', 'start', 'duration', 'message']);

/**
 * A point id as OTLP hex of `width` characters. ddtrace writes decimal ids
 * (hex only with compatible_otel, or 32-hex 128-bit trace ids); zipkin hex.
 */
export function toHexId(id: string, width: 16 | 32, decimal: boolean): string | undefined {
  const s = id.toLowerCase();
  if (s.length === width && HEX.test(s) && !(decimal && DEC.test(s))) return s;
  if (decimal && DEC.test(s)) {
    const n = BigInt(s);
    const max = width === 16 ? 0xffff_ffff_ffff_ffffn : (1n << 128n) - 1n;
    if (n === 0n || n > max) return undefined;
    return n.toString(16).padStart(width, '0');
  }
  if (s.length > width || !HEX.test(s) || /^0+$/.test(s)) return undefined;
  return s.padStart(width, '0');
}

function hrTime(us: number): HrTime {
  const sec = Math.floor(us / 1e6);
  return [sec, Math.round((us - sec * 1e6) * 1000)];
}

function num(v: unknown): number {
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof UInt) return Number(v.value);
  return typeof v === 'number' ? v : Number(v ?? 0) || 0;
}

const KINDS = new Map<string, SpanKind>([['entry', SpanKind.SERVER], ['exit', SpanKind.CLIENT], ['local', SpanKind.INTERNAL]]);

export class OtlpSink implements Sink {
  readonly name = 'otlp';
  private readonly exporter: OTLPTraceExporter;
  private readonly resources = new Map<string, Resource>();
  private closed = false;

  constructor(cfg: OtlpSinkConfig) {
    this.exporter = new OTLPTraceExporter({ url: cfg.endpoint, headers: cfg.headers, timeoutMillis: cfg.timeoutMs ?? 10_000 });
  }

  accepts(category: Category): boolean {
    return category === 'tracing';
  }

  private resource(service: string): Resource {
    let r = this.resources.get(service);
    if (!r) {
      if (this.resources.size > 10_000) this.resources.clear();
      r = resourceFromAttributes({ 'service.name': service });
      this.resources.set(service, r);
    }
    return r;
  }

  /** One point → a ReadableSpan, or undefined when its ids are unusable. */
  toSpan(p: Point, defaultTime: bigint): ReadableSpan | undefined {
    const decimal = p.name === 'ddtrace';
    const traceId = toHexId(String(p.fields.trace_id ?? ''), 32, decimal);
    const spanId = toHexId(String(p.fields.span_id ?? ''), 16, decimal);
    if (!traceId || !spanId) return undefined;
    const parentRaw = String(p.fields.parent_id ?? '0');
    const parentId = parentRaw === '0' || parentRaw === '' ? undefined : toHexId(parentRaw, 16, decimal);
    const startUs = p.fields.start !== undefined ? num(p.fields.start) : Number((p.time ?? defaultTime) / 1000n);
    const durUs = num(p.fields.duration);
    const attributes: Attributes = {};
    for (const k in p.tags) if (!STRUCTURAL_TAGS.has(k)) attributes[k] = p.tags[k];
    for (const k in p.fields) {
      if (STRUCTURAL_FIELDS.has(k)) continue;
      const v = p.fields[k]!;
      attributes[k] = typeof v === 'bigint' || v instanceof UInt ? num(v) : v instanceof Utf8String ? v.toString() : v;
    }
    const error = p.tags.status === 'error';
    const ctx = { traceId, spanId, traceFlags: TraceFlags.SAMPLED };
    const name = String(p.fields.resource ?? '') || p.tags.operation || p.name;
    return {
      name,
      kind: KINDS.get(p.tags.span_type ?? '') ?? SpanKind.INTERNAL,
      spanContext: () => ctx,
      parentSpanContext: parentId ? { traceId, spanId: parentId, traceFlags: TraceFlags.SAMPLED } : undefined,
      startTime: hrTime(startUs),
      endTime: hrTime(startUs + durUs),
      duration: hrTime(durUs),
      status: error ? { code: SpanStatusCode.ERROR } : { code: SpanStatusCode.UNSET },
      attributes,
      links: [],
      events: [],
      ended: true,
      resource: this.resource(p.tags.service ?? p.name),
      instrumentationScope: { name: `telekit/${p.name}` },
      droppedAttributesCount: 0,
      droppedEventsCount: 0,
      droppedLinksCount: 0,
    };
  }

  async send(batch: Batch): Promise<SendResult> {
    if (this.closed) return { ok: false, retryable: false, reason: 'sink closed' };
    if (batch.category !== 'tracing') return { ok: true };
    const spans: ReadableSpan[] = [];
    for (const p of batch.points) {
      const s = this.toSpan(p, batch.defaultTime);
      if (s) spans.push(s);
    }
    if (spans.length === 0) return { ok: true };
    return new Promise<SendResult>((resolve) => {
      try {
        this.exporter.export(spans, (r) => {
          if (r.code === ExportResultCode.SUCCESS) return resolve({ ok: true });
          const err = r.error as (Error & { code?: number }) | undefined;
          const code = typeof err?.code === 'number' ? err.code : undefined;
          const reason = `otlp export failed${code ? ` (HTTP ${code})` : ''}: ${redactUrl(err?.message ?? 'unknown error')}`;
          if (code !== undefined && code >= 400 && code < 500 && code !== 429 && code !== 408) resolve({ ok: false, retryable: false, reason });
          else resolve({ ok: false, retryable: true, reason });
        });
      } catch (e) {
        resolve({ ok: false, retryable: true, reason: `otlp export threw: ${redactUrl((e as Error).message)}` });
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.exporter.shutdown().catch(() => undefined);
  }
}

export function createOtlpSink(cfg: OtlpSinkConfig): Sink {
  return new OtlpSink(cfg);
}
