/**
 * Zipkin v2 proto3 (`ListOfSpans` from zipkin.proto), decoded with
 * protobufjs into the v2 JSON shape, so one converter serves both encodings.
 */
import protobuf from 'protobufjs';
import { BadRequest } from '../../agent/services/trace/bad-request.js';
import type { V2Span, V2Endpoint } from './v2.js';

const PROTO = `
syntax = "proto3";
package zipkin.proto3;
message Endpoint { string service_name = 1; bytes ipv4 = 2; bytes ipv6 = 3; int32 port = 4; }
message Annotation { fixed64 timestamp = 1; string value = 2; }
message Span {
  bytes trace_id = 1;
  bytes parent_id = 2;
  bytes id = 3;
  enum Kind { SPAN_KIND_UNSPECIFIED = 0; CLIENT = 1; SERVER = 2; PRODUCER = 3; CONSUMER = 4; }
  Kind kind = 4;
  string name = 5;
  fixed64 timestamp = 6;
  uint64 duration = 7;
  Endpoint local_endpoint = 8;
  Endpoint remote_endpoint = 9;
  repeated Annotation annotations = 10;
  map<string, string> tags = 11;
  bool debug = 12;
  bool shared = 13;
}
message ListOfSpans { repeated Span spans = 1; }
`;

const root = protobuf.parse(PROTO, { keepCase: true }).root;
export const ListOfSpans = root.lookupType('zipkin.proto3.ListOfSpans');
const KINDS = ['', 'CLIENT', 'SERVER', 'PRODUCER', 'CONSUMER'];

interface PbEndpoint {
  service_name?: string;
  ipv4?: Uint8Array;
  ipv6?: Uint8Array;
  port?: number;
}
interface PbSpan {
  trace_id?: Uint8Array;
  parent_id?: Uint8Array;
  id?: Uint8Array;
  kind?: number;
  name?: string;
  timestamp?: unknown;
  duration?: unknown;
  local_endpoint?: PbEndpoint;
  remote_endpoint?: PbEndpoint;
  annotations?: { timestamp?: unknown; value?: string }[];
  tags?: Record<string, string>;
  debug?: boolean;
  shared?: boolean;
}

function hex(b: Uint8Array | undefined): string {
  return b && b.length > 0 ? Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex') : '';
}

function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'object' && v !== null && 'toNumber' in v) return (v as { toNumber(): number }).toNumber();
  return Number(v ?? 0);
}

function endpoint(e: PbEndpoint | undefined): V2Endpoint | undefined {
  if (!e) return undefined;
  const out: V2Endpoint = {};
  if (e.service_name) out.serviceName = e.service_name;
  if (e.ipv4 && e.ipv4.length === 4) out.ipv4 = Array.from(e.ipv4).join('.');
  if (e.ipv6 && e.ipv6.length === 16) out.ipv6 = Buffer.from(e.ipv6).toString('hex').replace(/(.{4})(?!$)/g, '$1:');
  if (e.port) out.port = e.port;
  return out;
}

/** Decodes a `ListOfSpans` body into v2 JSON-shaped spans. */
export function decodeProto(body: Buffer): V2Span[] {
  let msg: { spans?: PbSpan[] };
  try {
    msg = ListOfSpans.decode(body) as unknown as { spans?: PbSpan[] };
  } catch (e) {
    throw new BadRequest(400, 'bad_payload', `invalid zipkin proto3 ListOfSpans: ${(e as Error).message}`);
  }
  const out: V2Span[] = [];
  for (const p of msg.spans ?? []) {
    const s: V2Span = { traceId: hex(p.trace_id), id: hex(p.id) };
    const parent = hex(p.parent_id);
    if (parent) s.parentId = parent;
    if (p.kind) s.kind = KINDS[p.kind] ?? undefined;
    if (p.name) s.name = p.name;
    if (p.timestamp !== undefined && num(p.timestamp) !== 0) s.timestamp = num(p.timestamp);
    if (p.duration !== undefined && num(p.duration) !== 0) s.duration = num(p.duration);
    const le = endpoint(p.local_endpoint);
    if (le) s.localEndpoint = le;
    const re = endpoint(p.remote_endpoint);
    if (re) s.remoteEndpoint = re;
    if (p.annotations && p.annotations.length > 0) s.annotations = p.annotations.map((a) => ({ timestamp: num(a.timestamp), value: a.value ?? '' }));
    if (p.tags && Object.keys(p.tags).length > 0) s.tags = { ...p.tags };
    if (p.debug) s.debug = true;
    if (p.shared) s.shared = true;
    out.push(s);
  }
  return out;
}
