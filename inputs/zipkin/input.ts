/**
 * `[[inputs.zipkin]]`: receives Zipkin spans on the agent's HTTP server —
 * v1 JSON at pathV1, v2 JSON and proto3 at pathV2 (gzip bodies are inflated
 * by the core) — and, when `listen` is set, on a server of its own (Zipkin's
 * port 9411) so Envoy/Istio can send straight to the agent.
 */
import type { HttpRequest, HttpResponse } from '../../agent/server/http-routes.js';
import type { Input, InputContext } from '../../agent/input/contract.js';
import { TraceReceiver } from '../../agent/services/trace/receiver.js';
import { traceRequest, workerScript, type TraceDecoder } from '../../agent/services/trace/offthread.js';
import type { ZipkinConfig } from './config.js';
import { ZIPKIN_HEADERS, zipkinDecoder } from './request.js';
import { RouteListener } from '../../agent/server/listener.js';

/**
 * Young generation (MiB) of the zipkin input's trace workers where no container
 * limit sizes it. The JSON path keeps a request's converted spans (their tags
 * and strings) alive until the whole request is grouped into traces, ~3 MiB for
 * 500 spans: with the trace workers' default 6 MiB (2 MiB semi-spaces) they are
 * promoted and collected by full GCs. 16 MiB took ~20 % off a worker's CPU per
 * span (BENCHMARKS.md, "Traces", session 7); ddtrace's byte-level path
 * allocates little and keeps the default.
 */
const WORKER_YOUNG_MB = 16;

export class ZipkinInput implements Input {
  readonly receiver: TraceReceiver;
  private unregister: (() => void)[] = [];
  private listener: RouteListener | undefined;
  private readonly decode: TraceDecoder;

  constructor(
    private readonly cfg: ZipkinConfig,
    private readonly ctx: InputContext,
  ) {
    this.receiver = new TraceReceiver(ctx, cfg);
    this.decode = zipkinDecoder(cfg);
  }

  /** Bytes, or undefined for the agent's limit. */
  get bodyLimit(): number | undefined {
    return this.cfg.max_trace_body_mb > 0 ? this.cfg.max_trace_body_mb * 1024 * 1024 : undefined;
  }

  async start(): Promise<void> {
    const bodyLimit = this.bodyLimit;
    try {
      this.unregister.push(this.ctx.http.route(['POST'], this.cfg.pathV1, (req) => this.handle(req), { bodyLimit }));
      this.unregister.push(this.ctx.http.route(['POST'], this.cfg.pathV2, (req) => this.handle(req), { bodyLimit }));
      if (this.cfg.listen !== '') {
        this.listener = new RouteListener(this.cfg.listen, bodyLimit ?? 32 * 1024 * 1024, (req) => this.handle(req));
        await this.listener.start();
      }
    } catch (e) {
      await this.stop();
      throw e;
    }
    this.receiver.startWorkers(workerScript(import.meta.url, 'worker'), this.cfg, WORKER_YOUNG_MB);
    this.ctx.log.info({ pathV1: this.cfg.pathV1, pathV2: this.cfg.pathV2, listen: this.listener?.address }, 'zipkin input is receiving spans.');
  }

  async stop(): Promise<void> {
    const u = this.unregister;
    this.unregister = [];
    for (const f of u) f();
    const l = this.listener;
    this.listener = undefined;
    await l?.stop();
    await this.receiver.stopWorkers();
  }

  /** Dispatches on path and Content-Type. Paths other than pathV1/pathV2 get 404. */
  async handle(req: HttpRequest): Promise<HttpResponse> {
    const v1 = req.path === this.cfg.pathV1;
    if (!v1 && req.path !== this.cfg.pathV2) return { status: 404, body: 'not found\n' };
    const route = v1 ? this.cfg.pathV1 : this.cfg.pathV2;
    return (await this.receiver.handle(traceRequest(route, req, ZIPKIN_HEADERS), req.remoteAddress, this.decode, '202')) ?? { status: 202 };
  }
}
