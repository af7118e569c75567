/**
 * `[[inputs.ddtrace]]`: receives Datadog tracer payloads (v0.3/v0.4 msgpack,
 * v0.5 string-table msgpack, v0.3 JSON) on the agent's HTTP server, answers
 * `GET /info` so tracers discover the endpoints, and feeds the shared tracing
 * pipeline.
 */
import type { HttpRequest, HttpResponse } from '../../agent/http-routes.js';
import type { Input, InputContext, InputDefinition } from '../../agent/input.js';
import { BadRequest, TraceReceiver } from '../../agent/trace/receiver.js';
import { schema, type DdtraceConfig } from './config.js';
import { DdConverter, type ConvertResult } from './convert.js';
import { decodeJson, decodeMsgpack, decodeV05, type DdSpan } from './decode.js';

/** The Datadog agent version we present in `/info` (tracers gate features on it). */
const AGENT_VERSION = '7.60.0';

export class DdtraceInput implements Input {
  readonly receiver: TraceReceiver;
  private readonly converter: DdConverter;
  private unregister: (() => void)[] = [];

  constructor(
    private readonly cfg: DdtraceConfig,
    private readonly ctx: InputContext,
  ) {
    this.receiver = new TraceReceiver(ctx, cfg);
    this.converter = new DdConverter({
      trace128: cfg.trace_128_bit_id,
      otelIds: cfg.compatible_otel,
      keepRejected: cfg.keep_rejected_traces,
      maxSpans: cfg.trace_max_spans,
      hex64: cfg.trace_id_64_bit_hex,
      message: !cfg.del_message,
      customerTags: cfg.customer_tags,
    });
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
        this.unregister.push(this.ctx.http.route(['POST', 'PUT'], '/v0.6/stats', () => ({ status: 200, body: 'OK' }), { bodyLimit }));
        if (this.cfg.apmtelemetry_route_enable) {
          this.unregister.push(this.ctx.http.route(['POST'], '/telemetry/proxy/api/v2/apmtelemetry', () => ({ status: 202 }), { bodyLimit }));
        }
      }
    } catch (e) {
      await this.stop();
      throw e;
    }
    this.ctx.log.info({ endpoints: this.cfg.endpoints }, 'ddtrace input is receiving traces.');
  }

  async stop(): Promise<void> {
    const u = this.unregister;
    this.unregister = [];
    for (const f of u) f();
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

  handle(route: string, req: HttpRequest): HttpResponse {
    const busy = this.receiver.overloaded(route);
    if (busy) return busy;
    const v05 = route.includes('v0.5');
    const ct = String(req.headers['content-type'] ?? '').toLowerCase();
    const msgpack = ct.includes('msgpack');
    let converted: ConvertResult;
    try {
      let payload: DdSpan[][];
      if (v05) {
        if (!msgpack && ct !== '') throw new BadRequest(415, 'unsupported_media_type', `v0.5 takes application/msgpack, got ${ct}`);
        payload = decodeV05(req.body);
      } else if (msgpack) payload = decodeMsgpack(req.body);
      else payload = decodeJson(req.body);
      converted = this.converter.convert(payload);
    } catch (e) {
      return this.receiver.reject(route, e, req.remoteAddress);
    }
    const { traces, rejectedSpans, truncatedSpans } = converted;
    this.receiver.countDropped('rejected_priority', rejectedSpans);
    this.receiver.countDropped('truncated', truncatedSpans);
    const extra = requestTags(req);
    if (extra) for (const t of traces) for (const s of t) for (const k in extra) if (!Object.hasOwn(s.tags, k)) s.tags[k] = extra[k]!;
    const refused = this.receiver.accept(route, traces);
    if (refused) return refused;
    if (route.includes('v0.3') || route.includes('v0.2')) return { status: 200, body: 'OK' };
    return { status: 200, body: { rate_by_service: { 'service:,env:': 1 } } };
  }
}

/** Tags from tracer headers: Datadog-Meta-Lang → language, Datadog-Container-ID → container_id. */
function requestTags(req: HttpRequest): Record<string, string> | undefined {
  const lang = req.headers['datadog-meta-lang'];
  const cid = req.headers['datadog-container-id'];
  if (typeof lang !== 'string' && typeof cid !== 'string') return undefined;
  const t: Record<string, string> = {};
  if (typeof lang === 'string' && lang !== '') t.language = lang.slice(0, 64);
  if (typeof cid === 'string' && cid !== '') t.container_id = cid.slice(0, 128);
  return t;
}

export const ddtrace: InputDefinition<DdtraceConfig> = {
  name: 'ddtrace',
  description: 'Receives Datadog APM traces (v0.3/v0.4/v0.5) and writes them as tracing points',
  schema,
  create: (config, ctx) => new DdtraceInput(config, ctx),
};
