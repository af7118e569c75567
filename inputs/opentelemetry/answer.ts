/**
 * OTLP answers. Success: the Export*ServiceResponse (with partial_success
 * when items were rejected), in the request's encoding. Failure: a
 * google.rpc.Status in the request's encoding (text for an unknown content
 * type), the HTTP status, and Retry-After on 429/503 — what SDK exporters
 * read to retry (429, 502, 503, 504) or give up (other 4xx). Over gRPC the
 * same refusals become status codes.
 */
import { status as grpcStatus } from '@grpc/grpc-js';
import type { HttpResponse } from '../../agent/server/http-routes.js';
import type { GrpcAnswer } from './grpc.js';
import { encodeResponse, encodeStatus, jsonResponse, type Signal } from './proto.js';

export type BodyFormat = 'protobuf' | 'json' | undefined;

const PB = 'application/x-protobuf';
const JSON_CT = 'application/json';

export function success(signal: Signal, format: BodyFormat, status: number, rejected: number, message: string): HttpResponse {
  if (format === 'json') return { status, headers: { 'content-type': JSON_CT }, body: jsonResponse(signal, rejected, message) };
  return { status, headers: { 'content-type': PB }, body: encodeResponse(signal, rejected, message) };
}

function rpcCode(httpStatus: number): number {
  // 413: gRPC's code for a message over the size limit (no RetryInfo: exporters do not retry it)
  if (httpStatus === 429 || httpStatus === 413) return grpcStatus.RESOURCE_EXHAUSTED;
  if (httpStatus >= 500) return grpcStatus.UNAVAILABLE;
  return grpcStatus.INVALID_ARGUMENT;
}

/** A refusal (the receiver's text answer, or our own) in the request's encoding. */
export function failure(format: BodyFormat, r: HttpResponse): HttpResponse {
  const message = typeof r.body === 'string' ? r.body.trim() : Buffer.isBuffer(r.body) ? r.body.toString().trim() : JSON.stringify(r.body ?? '');
  const headers: Record<string, string> = { ...(r.headers ?? {}) };
  if (format === 'json') return { status: r.status, headers: { ...headers, 'content-type': JSON_CT }, body: JSON.stringify({ code: rpcCode(r.status), message }) };
  if (format === 'protobuf') return { status: r.status, headers: { ...headers, 'content-type': PB }, body: encodeStatus(rpcCode(r.status), message) };
  return { status: r.status, headers, body: `${message}\n` };
}

/** The same refusal as a gRPC status: UNAVAILABLE/RESOURCE_EXHAUSTED carry RetryInfo from Retry-After. */
export function grpcFailure(r: HttpResponse): GrpcAnswer {
  const message = typeof r.body === 'string' ? r.body.trim() : Buffer.isBuffer(r.body) ? r.body.toString().trim() : JSON.stringify(r.body ?? '');
  const code = rpcCode(r.status);
  const ra = r.headers?.['retry-after'];
  return ra !== undefined && code !== grpcStatus.INVALID_ARGUMENT ? { code, message, retryAfterS: Math.max(1, Number(ra) || 1) } : { code, message };
}
