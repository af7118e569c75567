/**
 * The OTLP/gRPC server (the input's own listener, default 0.0.0.0:4317) with
 * the three Export services. Messages stay bytes here: the input decodes them
 * (trace requests in the worker threads), so the generic gRPC layer only
 * frames, limits and inflates (`grpc-encoding: gzip`) them; the input refuses
 * and counts a message over `max_payload` (grpc-js only one over grpcCeiling).
 * A refusal is a gRPC status: INVALID_ARGUMENT for bad input, UNAVAILABLE
 * with a google.rpc.RetryInfo for back-pressure, so exporters retry.
 */
import * as grpc from '@grpc/grpc-js';
import { parseListen } from '../../agent/server/listener.js';
import type { Signal } from './proto.js';
import { encodeStatus } from './proto.js';

export type GrpcAnswer = { ok: Buffer } | { code: grpc.status; message: string; retryAfterS?: number };

export type GrpcHandler = (signal: Signal, body: Buffer, metadata: Record<string, string>, peer: string) => Promise<GrpcAnswer>;

const SERVICES: Record<Signal, string> = {
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
};

const bytes = (b: Buffer): Buffer => b;

/**
 * The message size grpc-js itself refuses (RESOURCE_EXHAUSTED, before any
 * handler runs, so not counted): max_payload plus as much again, at most 4 MiB more.
 */
export function grpcCeiling(maxPayload: number): number {
  return Math.min(2 ** 31 - 1, maxPayload + Math.min(maxPayload, 4 << 20));
}

export class OtlpGrpcServer {
  private server: grpc.Server | undefined;
  port: number | undefined;
  address: string | undefined;

  constructor(
    private readonly addr: string,
    private readonly maxPayload: number,
    private readonly signals: readonly Signal[],
    private readonly handler: GrpcHandler,
  ) {}

  async start(): Promise<void> {
    const { host, port } = parseListen(this.addr);
    const server = new grpc.Server({
      // above max_payload, so that the input sees (counts and refuses) a message over it; grpc-js refuses,
      // uncounted, only what is over this ceiling
      'grpc.max_receive_message_length': grpcCeiling(this.maxPayload),
      'grpc.max_send_message_length': 1 << 20,
    });
    for (const signal of this.signals) {
      const def: grpc.ServiceDefinition = {
        Export: { path: SERVICES[signal], requestStream: false, responseStream: false, requestSerialize: bytes, requestDeserialize: bytes, responseSerialize: bytes, responseDeserialize: bytes, originalName: 'export' },
      };
      server.addService(def, {
        Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => {
          const md: Record<string, string> = {};
          for (const [k, v] of Object.entries(call.metadata.getMap())) if (typeof v === 'string') md[k] = v;
          this.handler(signal, call.request, md, call.getPeer()).then(
            (a) => {
              if ('ok' in a) return done(null, a.ok);
              const metadata = new grpc.Metadata();
              if (a.retryAfterS !== undefined) metadata.set('grpc-status-details-bin', encodeStatus(a.code, a.message, a.retryAfterS));
              done({ code: a.code, details: a.message, metadata });
            },
            () => done({ code: grpc.status.INTERNAL, details: 'internal error' }),
          );
        },
      });
    }
    const h = host.includes(':') ? `[${host}]` : host;
    this.port = await new Promise<number>((resolve, reject) => server.bindAsync(`${h}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
    this.server = server;
    this.address = `${host}:${this.port}`;
  }

  /** Stops accepting, lets calls in flight finish for up to `graceMs`, then closes what is left. */
  async stop(graceMs = 2000): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        s.forceShutdown();
        resolve();
      }, graceMs);
      t.unref();
      s.tryShutdown(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
