/**
 * `[[inputs.ddtrace]]`: receives Datadog tracer payloads (v0.3/v0.4 msgpack,
 * v0.5 string-table msgpack, v0.3 JSON) on the agent's HTTP server, answers
 * `GET /info` so tracers discover the endpoints, and feeds the shared tracing
 * pipeline.
 */
import type { HttpRequest, HttpResponse } from '../../agent/server/http-routes.js';
import type { Input, InputContext } from '../../agent/input/contract.js';
import { TraceReceiver } from '../../agent/services/trace/receiver.js';
import { traceRequest, workerScript, type TraceDecoder } from '../../agent/services/trace/offthread.js';
import type { DdtraceConfig } from './config.js';
import { DD_HEADERS, ddDecoder } from './request.js';

/** The Datadog agent version we present in `/info` (tracers gate features on it). */
const AGENT_VERSION = '7.60.0';
/** Stats and telemetry posts are small summaries, not trace batches: their routes take at most 4 MiB. */
const SMALL_BODY_LIMIT = 4 << 20;

export class DdtraceInput implements Input {
  readonly receiver: TraceReceiver;
  private readonly decode: TraceDecoder;
  private unregister: (() => void)[] = [];

  constructor(
    private readonly cfg: DdtraceConfig,
    private readonly ctx: InputContext,
  ) {
    this.receiver = new TraceReceiver(ctx, cfg);
    this.decode = ddDecoder(cfg);
  }

  async start(): Promise<void> {
    const bodyLimit = this.cfg.max_trace_body_mb > 0 ? this.cfg.max_trace_body_mb * 1024 * 1024 : undefined;
    try {
      for (const ep of this.cfg.endpoints) {
        this.unregister.push(this.ctx.http.route(['POST', 'PUT'], ep, (req) => this.handle(ep, req), { bodyLimit }));
      }
      if (this.cfg.enable_info && this.ctx.instance === 0) {
        this.unregister.push(this.ctx.http.route(['GET'], '/info', () => this.info()));
        // Tracers that compute stats (client_drop_p0s) post them here; accepted and discarded.
        this.unregister.push(this.ctx.http.route(['POST', 'PUT'], '/v0.6/stats', () => ({ status: 200, body: 'OK' }), { bodyLimit: SMALL_BODY_LIMIT }));
        if (this.cfg.apmtelemetry_route_enable) {
          this.unregister.push(this.ctx.http.route(['POST'], '/telemetry/proxy/api/v2/apmtelemetry', () => ({ status: 202 }), { bodyLimit: SMALL_BODY_LIMIT }));
        }
      }
    } catch (e) {
      await this.stop();
      throw e;
    }
    this.receiver.startWorkers(workerScript(import.meta.url, 'worker'), this.cfg);
    this.ctx.log.info({ endpoints: this.cfg.endpoints }, 'ddtrace input is receiving traces.');
  }

  async stop(): Promise<void> {
    const u = this.unregister;
    this.unregister = [];
    for (const f of u) f();
    await this.receiver.stopWorkers();
  }

  /** What the Datadog agent answers at /info, limited to what we implement. */
  info(): HttpResponse {
    return {
      status: 200,
      body: {
        version: AGENT_VERSION,
        git_commit: '',
        endpoints: [...this.cfg.endpoints, '/v0.6/stats', ...(this.cfg.apmtelemetry_route_enable ? ['/telemetry/proxy/'] : []), '/info'],
        feature_flags: [],
        client_drop_p0s: !this.cfg.keep_rejected_traces,
        span_meta_structs: false,
        long_running_spans: false,
        config: { default_env: 'none', statsd_port: 8125, receiver_port: 9529, analyzed_spans_by_service: {} },
      },
    };
  }

  async handle(route: string, req: HttpRequest): Promise<HttpResponse> {
    const refused = await this.receiver.handle(traceRequest(route, req, DD_HEADERS), req.remoteAddress, this.decode, '200');
    if (refused) return refused;
    if (route.includes('v0.3') || route.includes('v0.2')) return { status: 200, body: 'OK' };
    return { status: 200, body: { rate_by_service: { 'service:,env:': 1 } } };
  }
}
