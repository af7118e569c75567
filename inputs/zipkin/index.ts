/**
 * `[[inputs.zipkin]]`: receives Zipkin spans on the agent's HTTP server —
 * v1 JSON at pathV1, v2 JSON and proto3 at pathV2 (gzip bodies are inflated
 * by the core) — and, when `listen` is set, on a server of its own (Zipkin's
 * port 9411) so Envoy/Istio can send straight to the agent.
 */
import type { HttpRequest, HttpResponse } from '../../agent/http-routes.js';
import type { Input, InputContext, InputDefinition } from '../../agent/input.js';
import { BadRequest, TraceReceiver } from '../../agent/trace/receiver.js';
import type { TraceSpan } from '../../agent/trace/span.js';
import { schema, type ZipkinConfig } from './config.js';
import { decodeProto } from './proto.js';
import { convertV1 } from './v1.js';
import { decodeThriftV1 } from './thrift.js';
import { convertV2, decodeV2Json, groupTraces } from './v2.js';
import { ZipkinListener } from './listener.js';

export class ZipkinInput implements Input {
  readonly receiver: TraceReceiver;
  private unregister: (() => void)[] = [];
  private listener: ZipkinListener | undefined;

  constructor(
    private readonly cfg: ZipkinConfig,
    private readonly ctx: InputContext,
  ) {
    this.receiver = new TraceReceiver(ctx, cfg);
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
        this.listener = new ZipkinListener(this.cfg.listen, bodyLimit ?? 32 * 1024 * 1024, (req) => this.handle(req));
        await this.listener.start();
      }
    } catch (e) {
      await this.stop();
      throw e;
    }
    this.ctx.log.info({ pathV1: this.cfg.pathV1, pathV2: this.cfg.pathV2, listen: this.listener?.address }, 'zipkin input is receiving spans.');
  }

  async stop(): Promise<void> {
    const u = this.unregister;
    this.unregister = [];
    for (const f of u) f();
    const l = this.listener;
    this.listener = undefined;
    await l?.stop();
  }

  /** Dispatches on path and Content-Type. Paths other than pathV1/pathV2 get 404. */
  handle(req: HttpRequest): HttpResponse {
    const v1 = req.path === this.cfg.pathV1;
    if (!v1 && req.path !== this.cfg.pathV2) return { status: 404, body: 'not found\n' };
    const route = v1 ? this.cfg.pathV1 : this.cfg.pathV2;
    const busy = this.receiver.overloaded(route);
    if (busy) return busy;
    const ct = String(req.headers['content-type'] ?? '').toLowerCase();
    let spans: TraceSpan[];
    try {
      spans = v1 ? this.v1(ct, req.body) : this.v2(ct, req.body);
    } catch (e) {
      return this.receiver.reject(route, e, req.remoteAddress);
    }
    return this.receiver.accept(route, groupTraces(spans), '202') ?? { status: 202 };
  }

  private v2(ct: string, body: Buffer): TraceSpan[] {
    if (ct.includes('protobuf')) {
      const keep = this.receiver.pipeline.keepMessage;
      return decodeProto(body).map((s) => convertV2(s, keep ? JSON.stringify(s) : undefined));
    }
    if (ct !== '' && !ct.includes('json')) throw new BadRequest(415, 'unsupported_media_type', `zipkin v2 takes application/json or application/x-protobuf, got ${ct}`);
    return this.json(body, convertV2);
  }

  private v1(ct: string, body: Buffer): TraceSpan[] {
    if (ct.includes('thrift')) {
      const keep = this.receiver.pipeline.keepMessage;
      return decodeThriftV1(body).map((s) => convertV1(s, keep ? JSON.stringify(s) : undefined));
    }
    if (ct !== '' && !ct.includes('json')) throw new BadRequest(415, 'unsupported_media_type', `zipkin v1 takes application/json, got ${ct}`);
    return this.json(body, convertV1);
  }

  private json(body: Buffer, convert: (o: unknown, msg: string | undefined) => TraceSpan): TraceSpan[] {
    const keep = this.receiver.pipeline.keepMessage;
    const { spans, raw } = decodeV2Json(body.toString('utf8'));
    const out: TraceSpan[] = new Array(spans.length);
    for (let i = 0; i < spans.length; i++) {
      const s = spans[i];
      out[i] = convert(s, keep ? (raw ? raw[i] : JSON.stringify(s)) : undefined);
    }
    return out;
  }
}

export const zipkin: InputDefinition<ZipkinConfig> = {
  name: 'zipkin',
  description: 'Receives Zipkin spans (v1 JSON, v2 JSON and proto3) and writes them as tracing points',
  schema,
  create: (config, ctx) => new ZipkinInput(config, ctx),
};
