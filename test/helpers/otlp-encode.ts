/**
 * OTLP/JSON objects → OTLP protobuf bodies, with the same generated
 * definitions the input decodes with: ids (hex in OTLP/JSON) become bytes,
 * the rest goes through protobufjs' fromObject (int64 strings, enum names).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
interface PbType {
  fromObject(o: unknown): unknown;
  encode(m: unknown): { finish(): Uint8Array };
  decode(b: Uint8Array): unknown;
  toObject(m: unknown, o?: unknown): unknown;
}
const c = (require('otlp-proto-root/build/src/generated/root.js') as { opentelemetry: { proto: { collector: Record<string, { v1: Record<string, PbType> }> } } }).opentelemetry.proto.collector;
const TYPES = { traces: c.trace!.v1.ExportTraceServiceRequest!, metrics: c.metrics!.v1.ExportMetricsServiceRequest!, logs: c.logs!.v1.ExportLogsServiceRequest! };
const RESPONSES = { traces: c.trace!.v1.ExportTraceServiceResponse!, metrics: c.metrics!.v1.ExportMetricsServiceResponse!, logs: c.logs!.v1.ExportLogsServiceResponse! };
const IDS = new Set(['traceId', 'spanId', 'parentSpanId']);

function hexIds(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(hexIds);
  if (typeof v !== 'object' || v === null) return v;
  const o: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) o[k] = IDS.has(k) && typeof x === 'string' ? Buffer.from(x, 'hex') : hexIds(x);
  return o;
}

export function encodeOtlp(signal: 'traces' | 'metrics' | 'logs', json: unknown): Buffer {
  const t = TYPES[signal];
  const b = t.encode(t.fromObject(hexIds(json))).finish();
  return Buffer.from(b);
}

/** An Export*ServiceResponse body as a plain object (partialSuccess with numbers). */
export function decodeOtlpResponse(signal: 'traces' | 'metrics' | 'logs', body: Uint8Array): Record<string, unknown> {
  const t = RESPONSES[signal];
  return t.toObject(t.decode(body), { longs: Number }) as Record<string, unknown>;
}
