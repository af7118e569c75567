/**
 * `[[inputs.opentelemetry]]`: receives OTLP traces, metrics and logs —
 * OTLP/HTTP (protobuf or JSON, gzip) on the agent's port at DataKit's paths
 * (`/otel/v1/traces|metrics|logs`), optionally the standard `/v1/*` paths on
 * a listener of its own (4318), and OTLP/gRPC on its own server (4317).
 * Traces go through the shared tracing pipeline (worker threads when the
 * sinks take lines); metrics become `otel_service` points, logs logging points.
 */
import type { Category, Point } from '../../agent/model/point.js';
import type { HttpRequest, HttpResponse } from '../../agent/server/http-routes.js';
import type { Input, InputContext } from '../../agent/input/contract.js';
import { RouteListener } from '../../agent/server/listener.js';
import { BadRequest } from '../../agent/services/trace/bad-request.js';
import { TraceReceiver } from '../../agent/services/trace/receiver.js';
import { defaultWorkers, TraceThreads, traceRequest, workerScript, type TraceDecoder } from '../../agent/services/trace/offthread.js';
import { RateLimitedLog } from '../../agent/telemetry/log.js';
import { Counter, Gauge } from 'prom-client';
import { failure, grpcFailure, success } from './answer.js';
import type { OtelConfig } from './config.js';
import { OtlpGrpcServer, type GrpcAnswer } from './grpc.js';
import { mapLogs, type LogsRequestBody } from './logs.js';
import { mapMetrics, TagInterner, type MetricsRequestBody } from './metrics.js';
import type { Signal } from './proto.js';
import { bodyFormat, decodeBody, otelDecoder, OTEL_HEADERS } from './request.js';

/** The standard OTLP/HTTP paths, served on the `http.listen` listener. */
export const STANDARD_PATHS: Record<string, Signal> = { '/v1/traces': 'traces', '/v1/metrics': 'metrics', '/v1/logs': 'logs' };

const CATEGORY: Record<'metrics' | 'logs', Category> = { metrics: 'metric', logs: 'logging' };
/**
 * Young generation of the metrics and logs workers, MiB, where the container's
 * memory is not limited to 1 GiB or less (workerLimits). protobufjs decoding
 * and the points make ~10 objects per data point: with the trace workers' 6 MiB
 * the metrics workers spent half their time in scavenges; 32 MiB doubled
 * data points per agent CPU-second for ~+30 MiB of peak RSS (BENCHMARKS.md,
 * "opentelemetry", metrics).
 */
const YOUNG_MB = 32;

export class OtelInput implements Input {
  readonly receiver: TraceReceiver;
  private readonly decode: TraceDecoder;
  private readonly points: Counter<'signal' | 'result'>;
  private readonly warn: RateLimitedLog;
  private readonly expected: [string, string][];
  /** Frozen tags per metric series, shared across requests (the core caches their encoding). */
  private readonly interner = new TagInterner();
  private unregister: (() => void)[] = [];
  private listener: RouteListener | undefined;
  private grpc: OtlpGrpcServer | undefined;
  /** Worker threads that decode, map and line-encode metrics and logs requests (metrics-worker.ts, logs-worker.ts), when the category takes lines. */
  private lineThreads: Partial<Record<'metrics' | 'logs', TraceThreads>> = {};

  constructor(
    private readonly cfg: OtelConfig,
    private readonly ctx: InputContext,
  ) {
    this.receiver = new TraceReceiver(ctx, cfg);
    this.decode = otelDecoder(cfg);
    this.warn = new RateLimitedLog(ctx.log);
    this.expected = Object.entries(cfg.expected_headers).map(([k, v]) => [k.toLowerCase(), v]);
    const name = `telekit_${ctx.name}_points_total`;
    this.points = (ctx.metrics.getSingleMetric(name) as Counter<'signal' | 'result'> | undefined) ?? new Counter({ name, help: 'Metric data points and log records handled by the opentelemetry input, by signal and result', labelNames: ['signal', 'result'], registers: [ctx.metrics] });
  }

  /** The gRPC server's port once started (tests bind port 0). */
  get grpcPort(): number | undefined {
    return this.grpc?.port;
  }

  /** The standard-paths listener's port once started. */
  get listenPort(): number | undefined {
    return this.listener?.port;
  }

  async start(): Promise<void> {
    const h = this.cfg.http;
    const g = this.cfg.grpc;
    try {
      if (h.enable) {
        const routes: [string, Signal][] = [
          [h.trace_api, 'traces'],
          [h.metric_api, 'metrics'],
          [h.logs_api, 'logs'],
        ];
        for (const [path, signal] of routes) this.unregister.push(this.ctx.http.route(['POST'], path, (req) => this.handleHttp(signal, path, req)));
        if (h.listen !== '') {
          this.listener = new RouteListener(h.listen, 32 * 1024 * 1024, (req) => {
            const signal = STANDARD_PATHS[req.path];
            return signal ? this.handleHttp(signal, req.path, req) : { status: 404, body: 'not found\n' };
          });
          await this.listener.start();
        }
      }
      const signals: Signal[] = [];
      if (g.trace_enable) signals.push('traces');
      if (g.metric_enable) signals.push('metrics');
      if (g.logs_enable) signals.push('logs');
      if (g.addr !== '' && signals.length > 0) {
        this.grpc = new OtlpGrpcServer(g.addr, g.max_payload, signals, (signal, body, md, peer) => this.handleGrpc(signal, body, md, peer));
        await this.grpc.start();
      }
    } catch (e) {
      await this.stop();
      throw e;
    }
    this.receiver.startWorkers(workerScript(import.meta.url, 'worker'), this.cfg);
    this.startLineWorkers('metrics');
    this.startLineWorkers('logs');
    this.ctx.log.info({ http: h.enable ? [h.trace_api, h.metric_api, h.logs_api] : [], listen: this.listener?.address, grpc: this.grpc?.address }, 'opentelemetry input is receiving OTLP.');
  }

  async stop(): Promise<void> {
    const u = this.unregister;
    this.unregister = [];
    for (const f of u) f();
    const l = this.listener;
    this.listener = undefined;
    const g = this.grpc;
    this.grpc = undefined;
    await Promise.all([l?.stop(), g?.stop()]);
    const lt = this.lineThreads;
    this.lineThreads = {};
    for (const s of ['metric', 'logs']) (this.ctx.metrics.getSingleMetric(`telekit_${this.ctx.name}_${s}_workers`) as Gauge | undefined)?.set(0);
    await Promise.all([this.receiver.stopWorkers(), lt.metrics?.close(), lt.logs?.close()]);
  }

  /** Like the trace workers: `workers` threads at most, started as requests come, only while the category's lines go to every sink as they are. */
  private startLineWorkers(signal: 'metrics' | 'logs'): void {
    const n = this.cfg.workers === 0 ? defaultWorkers() : this.cfg.workers;
    const acc = this.ctx.acc;
    const script = workerScript(import.meta.url, `${signal}-worker`);
    if (n <= 0 || script === undefined || !acc.addLines || !acc.tagsToAdd || acc.recordFormat?.(CATEGORY[signal]) !== 'lp') return;
    // `metric_workers` keeps its name from before logs had workers
    const name = `telekit_${this.ctx.name}_${signal === 'metrics' ? 'metric' : 'logs'}_workers`;
    const gauge = (this.ctx.metrics.getSingleMetric(name) as Gauge | undefined) ?? new Gauge({ name, help: `Worker threads decoding OTLP ${signal} requests (0: the main thread)`, registers: [this.ctx.metrics] });
    this.lineThreads[signal] = new TraceThreads(script, { source: this.ctx.name, opts: this.cfg, config: this.cfg, format: 'lp' }, n, 4, (e) => acc.error(`${signal}_worker`, e), (k) => gauge.set(k), undefined, YOUNG_MB);
  }

  private refuse(route: string, status: number, reason: string, message: string, remote: string): HttpResponse {
    this.receiver.metrics.requests.inc({ route, code: String(status), reason });
    this.warn.warn(`${route}:${reason}`, { route, remote, err: message }, 'Rejected an OTLP request.');
    return { status, body: message };
  }

  /** An OTLP/HTTP request on one of the signal's paths. */
  async handleHttp(signal: Signal, route: string, req: HttpRequest): Promise<HttpResponse> {
    const ct = String(req.headers['content-type'] ?? '').toLowerCase();
    const format = bodyFormat(ct);
    for (const [k, v] of this.expected) {
      if (req.headers[k] !== v) return failure(format, this.refuse(route, 400, 'missing_header', `expected header ${k} is missing or has another value`, req.remoteAddress));
    }
    if (format === undefined) return failure(format, this.refuse(route, 415, 'unsupported_media_type', `OTLP/HTTP takes application/x-protobuf or application/json, got ${ct || 'no content type'}`, req.remoteAddress));
    const ok = this.cfg.http.http_status_ok;
    if (signal === 'traces') {
      let rejected = 0;
      const refused = await this.receiver.handle(traceRequest(route, req, OTEL_HEADERS), req.remoteAddress, this.decode, String(ok), (d) => (rejected = d.invalid ?? 0));
      if (refused) return failure(format, refused);
      return success(signal, format, ok, rejected, rejected > 0 ? `${rejected} spans without a valid trace_id or span_id` : '');
    }
    const r = await this.take(signal, route, ct, req.body, req.remoteAddress, String(ok));
    if ('refused' in r) return failure(format, r.refused);
    return success(signal, format, ok, r.rejected, r.rejected > 0 ? `${r.rejected} data points without a name or a value` : '');
  }

  /** An OTLP/gRPC Export call. */
  async handleGrpc(signal: Signal, body: Buffer, md: Record<string, string>, peer: string): Promise<GrpcAnswer> {
    const route = `grpc:${signal}`;
    const max = this.cfg.grpc.max_payload;
    if (body.length > max) return grpcFailure(this.refuse(route, 413, 'too_large', `message of ${body.length} bytes exceeds max_payload (${max})`, peer));
    for (const [k, v] of this.expected) {
      if (md[k] !== v) return grpcFailure(this.refuse(route, 400, 'missing_header', `expected header ${k} is missing or has another value`, peer));
    }
    const ct = 'application/x-protobuf';
    if (signal === 'traces') {
      let rejected = 0;
      const refused = await this.receiver.handle({ route, contentType: ct, headers: {}, body }, peer, this.decode, '0', (d) => (rejected = d.invalid ?? 0));
      if (refused) return grpcFailure(refused);
      return { ok: successBody(signal, rejected, rejected > 0 ? `${rejected} spans without a valid trace_id or span_id` : '') };
    }
    const r = await this.take(signal, route, ct, body, peer, '0');
    if ('refused' in r) return grpcFailure(r.refused);
    return { ok: successBody(signal, r.rejected, r.rejected > 0 ? `${r.rejected} data points without a name or a value` : '') };
  }

  private take(signal: 'metrics' | 'logs', route: string, ct: string, body: Buffer, remote: string, code: string): Promise<{ rejected: number } | { refused: HttpResponse }> | { rejected: number } | { refused: HttpResponse } {
    const threads = this.lineThreads[signal];
    return threads !== undefined ? this.takeLines(signal, threads, route, ct, body, remote, code) : this.takePoints(signal, route, ct, body, remote, code);
  }

  private overloadedAnswer(route: string, category: Category, reason: string): { refused: HttpResponse } {
    this.receiver.metrics.requests.inc({ route, code: '503', reason });
    return { refused: { status: 503, headers: { 'retry-after': '1' }, body: reason === 'overloaded' ? `${category} queue is full, retry later` : `${category} queue is full, not kept; retry later` } };
  }

  /** Metrics or logs in a worker thread (metrics-worker.ts, logs-worker.ts): the lines come back and are queued all or none. */
  private async takeLines(signal: 'metrics' | 'logs', threads: TraceThreads, route: string, ct: string, body: Buffer, remote: string, code: string): Promise<{ rejected: number } | { refused: HttpResponse }> {
    const acc = this.ctx.acc;
    const category = CATEGORY[signal];
    if (acc.overloaded(category) || threads.busy()) return this.overloadedAnswer(route, category, 'overloaded');
    const r = await threads.run({ route, contentType: ct, headers: {}, body }, acc.tagsToAdd!());
    switch (r.kind) {
      case 'ok': {
        const total = r.ends.length;
        const n = total === 0 ? 0 : acc.addLines!(category, r.data, r.ends);
        threads.recycle(r.data);
        const rejected = r.dropped.invalid ?? 0;
        if (rejected > 0) this.points.inc({ signal, result: 'invalid' }, rejected);
        if (n < total) {
          this.points.inc({ signal, result: 'queue_full' }, total - n);
          return this.overloadedAnswer(route, category, 'queue_full');
        }
        if (n > 0) this.points.inc({ signal, result: 'accepted' }, n);
        this.receiver.metrics.requests.inc({ route, code, reason: 'ok' });
        return { rejected };
      }
      case 'bad':
        return { refused: this.refuse(route, r.status, r.reason, r.message, remote) };
      case 'unavailable':
        this.receiver.metrics.requests.inc({ route, code: '503', reason: 'unavailable' });
        return { refused: { status: 503, headers: { 'retry-after': '1' }, body: `${r.message}, retry later` } };
      default:
        acc.error('decode', new Error(r.message));
        return { refused: this.refuse(route, 400, 'bad_payload', `cannot decode payload: ${r.message}`, remote) };
    }
  }

  /** Metrics and logs on the main thread (no workers, or a sink that needs points): back-pressure, decode, map, queue (all or none). */
  private takePoints(signal: 'metrics' | 'logs', route: string, ct: string, body: Buffer, remote: string, code: string): { rejected: number } | { refused: HttpResponse } {
    const category = CATEGORY[signal];
    const acc = this.ctx.acc;
    if (acc.overloaded(category)) return this.overloadedAnswer(route, category, 'overloaded');
    let mapped: { points: Point[]; rejected: number };
    try {
      const req = decodeBody(signal, ct, body);
      mapped = signal === 'metrics' ? mapMetrics(req as MetricsRequestBody, this.interner) : mapLogs(req as LogsRequestBody, { maxMessage: this.cfg.log_max * 1024, decimalIds: this.cfg.compatible_ddtrace });
    } catch (e) {
      if (e instanceof BadRequest) return { refused: this.refuse(route, e.status, e.reason, e.message, remote) };
      acc.error('decode', e);
      return { refused: this.refuse(route, 400, 'bad_payload', `cannot decode payload: ${e instanceof Error ? e.message : String(e)}`, remote) };
    }
    const { points, rejected } = mapped;
    if (rejected > 0) this.points.inc({ signal, result: 'invalid' }, rejected);
    const n = points.length === 0 ? 0 : acc.add(points);
    if (n < points.length) {
      this.points.inc({ signal, result: 'queue_full' }, points.length - n);
      return this.overloadedAnswer(route, category, 'queue_full');
    }
    if (n > 0) this.points.inc({ signal, result: 'accepted' }, n);
    this.receiver.metrics.requests.inc({ route, code, reason: 'ok' });
    return { rejected };
  }
}

function successBody(signal: Signal, rejected: number, message: string): Buffer {
  return success(signal, 'protobuf', 200, rejected, message).body as Buffer;
}
