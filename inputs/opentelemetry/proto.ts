/**
 * The OTLP protobuf messages, from the OpenTelemetry project's own generated
 * protobufjs module (`@opentelemetry/otlp-transformer` 0.214.0's
 * `generated/root.js`, installed as `otlp-proto-root`: later releases ship
 * encoders only). Decoding is wrapped so a malformed or truncated body becomes
 * a 400 with a reason, never an exception that escapes.
 */
import { createRequire } from 'node:module';
import { BadRequest } from '../../agent/services/trace/bad-request.js';

const require = createRequire(import.meta.url);

interface PbType {
  decode(buf: Uint8Array): unknown;
  encode(msg: unknown): { finish(): Uint8Array };
}

interface Root {
  opentelemetry: {
    proto: {
      collector: {
        trace: { v1: Record<'ExportTraceServiceRequest' | 'ExportTraceServiceResponse', PbType> };
        metrics: { v1: Record<'ExportMetricsServiceRequest' | 'ExportMetricsServiceResponse', PbType> };
        logs: { v1: Record<'ExportLogsServiceRequest' | 'ExportLogsServiceResponse', PbType> };
      };
    };
  };
}

const root = require('otlp-proto-root/build/src/generated/root.js') as Root;
const c = root.opentelemetry.proto.collector;

export type Signal = 'traces' | 'metrics' | 'logs';

const REQUEST: Record<Signal, PbType> = {
  traces: c.trace.v1.ExportTraceServiceRequest,
  metrics: c.metrics.v1.ExportMetricsServiceRequest,
  logs: c.logs.v1.ExportLogsServiceRequest,
};
const RESPONSE: Record<Signal, PbType> = {
  traces: c.trace.v1.ExportTraceServiceResponse,
  metrics: c.metrics.v1.ExportMetricsServiceResponse,
  logs: c.logs.v1.ExportLogsServiceResponse,
};
const REJECTED: Record<Signal, string> = { traces: 'rejectedSpans', metrics: 'rejectedDataPoints', logs: 'rejectedLogRecords' };

/** Decodes an Export*ServiceRequest; throws BadRequest (400) on malformed or truncated protobuf. */
export function decodeRequest(signal: Signal, body: Uint8Array): unknown {
  try {
    return REQUEST[signal].decode(body);
  } catch (e) {
    throw new BadRequest(400, 'bad_payload', `invalid OTLP ${signal} protobuf: ${(e as Error).message}`);
  }
}

/** Parses an OTLP/JSON body; throws BadRequest (400) on invalid JSON or a non-object. */
export function parseJsonRequest(signal: Signal, body: Uint8Array): unknown {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.length).toString('utf8'));
  } catch (e) {
    throw new BadRequest(400, 'bad_payload', `invalid OTLP ${signal} JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new BadRequest(400, 'bad_payload', `OTLP ${signal} JSON is not an object`);
  return v;
}

/**
 * The Export*ServiceResponse: empty on full success, with partial_success
 * when some items were rejected (the OTLP spec's partial success).
 */
export function encodeResponse(signal: Signal, rejected: number, message: string): Buffer {
  const msg = rejected > 0 || message !== '' ? { partialSuccess: { [REJECTED[signal]]: rejected, errorMessage: message } } : {};
  const b = RESPONSE[signal].encode(msg).finish();
  return Buffer.from(b.buffer, b.byteOffset, b.length);
}

/** The same response as OTLP/JSON. */
export function jsonResponse(signal: Signal, rejected: number, message: string): string {
  if (rejected === 0 && message === '') return '{}';
  return JSON.stringify({ partialSuccess: { [REJECTED[signal]]: String(rejected), errorMessage: message } });
}

/** A tiny protobuf writer for the two messages the root lacks (google.rpc.Status and RetryInfo). */
function varint(n: number, out: number[]): void {
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
}
function field(no: number, wire: number, out: number[]): void {
  varint((no << 3) | wire, out);
}
function bytesField(no: number, b: Uint8Array | number[], out: number[]): void {
  field(no, 2, out);
  varint(b.length, out);
  for (const x of b) out.push(x);
}

/**
 * google.rpc.Status { code, message, details } — the body of an OTLP/HTTP
 * error answer in protobuf, and gRPC's `grpc-status-details-bin`. With
 * `retryAfterS`, details carry a google.rpc.RetryInfo so exporters wait that long.
 */
export function encodeStatus(code: number, message: string, retryAfterS?: number): Buffer {
  const out: number[] = [];
  if (code !== 0) {
    field(1, 0, out);
    varint(code, out);
  }
  if (message !== '') bytesField(2, Buffer.from(message, 'utf8'), out);
  if (retryAfterS !== undefined) {
    const duration: number[] = [];
    field(1, 0, duration);
    varint(retryAfterS, duration);
    const retryInfo: number[] = [];
    bytesField(1, duration, retryInfo);
    const any: number[] = [];
    bytesField(1, Buffer.from('type.googleapis.com/google.rpc.RetryInfo'), any);
    bytesField(2, retryInfo, any);
    bytesField(3, any, out);
  }
  return Buffer.from(out);
}

/** A message type of the OTLP root by its full name (`opentelemetry.proto.common.v1.KeyValue`). */
export function protoType(name: string): PbType {
  let t: unknown = root;
  for (const part of name.split('.')) t = (t as Record<string, unknown> | undefined)?.[part];
  if (typeof (t as PbType | undefined)?.decode !== 'function') throw new Error(`no OTLP protobuf type ${name}`);
  return t as PbType;
}
