/**
 * The OTLP/gRPC server (the input's own listener, default 0.0.0.0:4317) with
 * the three Export services. Messages stay bytes here: the input decodes them
 * (trace requests in the worker threads), so the generic gRPC layer only
 * frames, limits and inflates (`grpc-encoding: gzip`) them; the input refuses
 * and counts a message over `max_payload` (grpc-js only one over grpcCeiling).
 * A refusal is a gRPC status: INVALID_ARGUMENT for bad input, UNAVAILABLE
 * with a google.rpc.RetryInfo for back-pressure, so exporters retry.
 */
import type { Http2Server, ServerHttp2Session } from 'node:http2';
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

/**
 * HTTP/2 receive windows of the server: a call's stream may have 1 MiB unread, a connection 4 MiB.
 * Node's (nghttp2's) defaults are 64 KiB each and grpc-js sets none for a server, so a 280 KB
 * export crossed in ~5 WINDOW_UPDATE round trips, each a turn of both event loops, and every
 * call on the connection shared one 64 KiB window.
 */
export const STREAM_WINDOW = 1 << 20;
export const SESSION_WINDOW = 4 << 20;

/** grpc-js's Server makes its node:http2 server in this (private) method; there is no option for the windows. */
interface Http2Factory {
  createHttp2Server?: (credentials: grpc.ServerCredentials) => Http2Server;
}

/**
 * Gives every HTTP/2 server grpc-js makes for `server` the receive windows above: the stream window in the
 * SETTINGS a new session starts with, the connection window as the session starts. Should grpc-js no
 * longer make its servers in createHttp2Server, the server keeps Node's defaults (and the test that a
 * client sees the windows fails).
 */
function widenWindows(server: grpc.Server): void {
  const s = server as unknown as Http2Factory;
  const make = s.createHttp2Server;
  if (typeof make !== 'function') return;
  s.createHttp2Server = (credentials) => {
    const h2 = make.call(server, credentials);
    h2.updateSettings({ initialWindowSize: STREAM_WINDOW });
    h2.on('session', (session: ServerHttp2Session) => session.setLocalWindowSize(SESSION_WINDOW));
    return h2;
  };
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
      // channelz (grpc-js's per-call and per-session statistics for its admin service, which nothing here serves)
      // costs timestamps and counters on every message
      'grpc.enable_channelz': 0,
    });
    widenWindows(server);
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
