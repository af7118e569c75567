/**
 * What both tracing inputs do around a decoded request: back-pressure,
 * filtering and mapping through the pipeline, handing points to the
 * accumulator, counting, and answering bad input with 4xx and a reason.
 */
import type { InputContext } from '../input.js';
import type { HttpResponse } from '../http-routes.js';
import { RateLimitedLog } from '../log.js';
import { TracePipeline } from './pipeline.js';
import { traceMetrics, type TraceMetrics } from './metrics.js';
import type { TraceOptions } from './options.js';
import type { Trace } from './span.js';

/** After the queue refused spans, further requests are refused undecoded for this long. */
const FAST_REJECT_MS = 50;

/** A client error with the HTTP status and a bounded `reason` label. */
export class BadRequest extends Error {
  constructor(
    readonly status: number,
    readonly reason: 'bad_payload' | 'unsupported_media_type' | 'unsupported_format' | 'too_many_spans',
    message: string,
  ) {
    super(message);
  }
}

export class TraceReceiver {
  readonly pipeline: TracePipeline;
  readonly metrics: TraceMetrics;
  private readonly warn: RateLimitedLog;
  private refusedAt = -Infinity;

  constructor(
    private readonly ctx: Pick<InputContext, 'name' | 'acc' | 'log' | 'metrics'>,
    opts: TraceOptions,
  ) {
    this.pipeline = new TracePipeline(ctx.name, opts);
    this.metrics = traceMetrics(ctx.metrics, ctx.name);
    this.warn = new RateLimitedLog(ctx.log);
  }

  /** 503 + Retry-After while the tracing queue is full, so senders back off; undefined otherwise. */
  overloaded(route: string): HttpResponse | undefined {
    // Right after the queue refused a request, refuse the next ones before decoding them:
    // under sustained overload, decoding spans only to drop them wastes the CPU the sender needs.
    if (!this.ctx.acc.overloaded('tracing') && performance.now() - this.refusedAt > FAST_REJECT_MS) return undefined;
    this.metrics.requests.inc({ route, code: '503', reason: 'overloaded' });
    return { status: 503, headers: { 'retry-after': '1' }, body: 'tracing queue is full, retry later\n' };
  }

  /**
   * Filters and maps the traces and hands the points on. Returns undefined
   * when they were accepted (or filtered out), or a 503 + Retry-After answer
   * when the queue refused them (a request's points are taken all or none),
   * so the sender learns its spans were not kept.
   */
  accept(route: string, traces: readonly Trace[], code = '200'): HttpResponse | undefined {
    let r: ReturnType<TracePipeline['process']>;
    try {
      r = this.pipeline.process(traces);
    } catch (e) {
      // A bug in the pipeline, not the sender's fault: record it, never crash.
      this.ctx.acc.error('pipeline', e);
      this.metrics.requests.inc({ route, code, reason: 'pipeline_error' });
      return undefined;
    }
    const { points, dropped } = r;
    const n = points.length === 0 ? 0 : this.ctx.acc.add(points);
    const m = this.metrics.spans;
    if (n > 0) m.inc({ result: 'accepted' }, n);
    for (const [reason, c] of Object.entries(dropped)) m.inc({ result: reason }, c);
    if (n < points.length) {
      this.refusedAt = performance.now();
      m.inc({ result: 'queue_full' }, points.length - n);
      this.metrics.requests.inc({ route, code: '503', reason: 'queue_full' });
      return { status: 503, headers: { 'retry-after': '1' }, body: 'tracing queue is full, spans not kept; retry later\n' };
    }
    this.metrics.requests.inc({ route, code, reason: 'ok' });
    return undefined;
  }

  /** Counts spans dropped before the pipeline (e.g. sampling priority). */
  countDropped(result: string, spans: number): void {
    if (spans > 0) this.metrics.spans.inc({ result }, spans);
  }

  /** Answers a request that could not be decoded. */
  reject(route: string, err: unknown, remote: string): HttpResponse {
    if (err instanceof BadRequest) {
      this.metrics.requests.inc({ route, code: String(err.status), reason: err.reason });
      this.warn.warn(`${route}:${err.reason}`, { route, remote, err: err.message }, 'Rejected a trace payload.');
      return { status: err.status, body: `${err.message}\n` };
    }
    // A bug in a decoder, not the sender's fault: still never crash.
    this.metrics.requests.inc({ route, code: '400', reason: 'bad_payload' });
    this.ctx.acc.error('decode', err);
    return { status: 400, body: `cannot decode payload: ${err instanceof Error ? err.message : String(err)}\n` };
  }
}
