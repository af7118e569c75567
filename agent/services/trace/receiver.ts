/**
 * What both tracing inputs do around a decoded request: back-pressure,
 * filtering and mapping through the processor, handing points to the
 * accumulator, counting, and answering bad input with 4xx and a reason.
 */
import type { InputContext } from '../../input/contract.js';
import type { HttpResponse } from '../../server/http-routes.js';
import { RateLimitedLog } from '../../telemetry/log.js';
import { TraceProcessor } from './processor.js';
import { traceMetrics, type TraceMetrics } from './metrics.js';
import type { TraceOptions } from './options.js';
import type { Trace } from './span.js';
import { BadRequest } from './bad-request.js';
import { TraceThreads, defaultWorkers, type TraceDecoder, type TraceRequest } from './offthread.js';

/** After the queue refused spans, further requests are refused undecoded for this long. */
const FAST_REJECT_MS = 50;

export class TraceReceiver {
  readonly pipeline: TraceProcessor;
  readonly metrics: TraceMetrics;
  private readonly warn: RateLimitedLog;
  private refusedAt = -Infinity;
  private threads: TraceThreads | undefined;

  constructor(
    private readonly ctx: Pick<InputContext, 'name' | 'acc' | 'log' | 'metrics'>,
    private readonly opts: TraceOptions,
  ) {
    this.pipeline = new TraceProcessor(ctx.name, opts);
    this.metrics = traceMetrics(ctx.metrics, ctx.name);
    this.warn = new RateLimitedLog(ctx.log);
  }

  /**
   * Starts the input's worker threads (agent/services/trace/offthread.ts) when the
   * `workers` option allows, there is a compiled worker script, and lines go
   * to every sink as they are. Otherwise requests are handled on this thread.
   * `youngMb`: the workers' young generation where no container limit sizes it
   * (workerLimits; TraceThreads' default otherwise).
   */
  startWorkers(script: URL | undefined, config: unknown, youngMb?: number): void {
    const n = this.opts.workers === 0 ? defaultWorkers() : this.opts.workers;
    const acc = this.ctx.acc;
    if (n <= 0 || script === undefined || !acc.addLines || !acc.tagsToAdd) return;
    const format = acc.recordFormat?.('tracing');
    if (format === undefined) {
      // a sink needs points (OTLP forwarding, sinks with different formats): workers would hand over records to decode again
      this.ctx.log.info('Decoding traces on the main thread: a sink of the tracing category needs points (OTLP forwarding, or sinks that take different formats), which the worker threads do not write; expect about a third of the throughput (BENCHMARKS.md).');
      return;
    }
    this.threads = new TraceThreads(script, { source: this.ctx.name, opts: this.opts, config, format }, n, 4, (e) => acc.error('worker', e), (k) => this.metrics.workers.set(k), undefined, youngMb);
    this.ctx.log.info({ maxWorkers: n }, 'Decoding traces in worker threads (started as requests come).');
  }

  async stopWorkers(): Promise<void> {
    const t = this.threads;
    this.threads = undefined;
    this.metrics.workers.set(0);
    await t?.close();
  }

  /**
   * A request, start to end: back-pressure, then decoding, filtering, mapping
   * and queueing, in a worker thread when there are any. Resolves undefined
   * when the spans were taken (or filtered out), else the error answer.
   * `seen`, when given, is told the spans dropped by reason (decoder and
   * filters) of a request that was taken, e.g. for an OTLP partial success.
   */
  async handle(req: TraceRequest, remote: string, decode: TraceDecoder, code: string, seen?: (dropped: Readonly<Record<string, number>>) => void): Promise<HttpResponse | undefined> {
    const route = req.route;
    const busy = this.overloaded(route) ?? this.workersBusy(route);
    if (busy) return busy;
    const threads = this.threads;
    if (threads === undefined) {
      let d: ReturnType<TraceDecoder>;
      try {
        d = decode(req);
      } catch (e) {
        return this.reject(route, e, remote);
      }
      if (d.dropped) for (const [reason, n] of Object.entries(d.dropped)) this.countDropped(reason, n);
      const refused = this.accept(route, d.traces, code);
      if (!refused) seen?.(d.dropped ?? {});
      return refused;
    }
    const r = await threads.run(req, this.ctx.acc.tagsToAdd!());
    switch (r.kind) {
      case 'ok': {
        this.metrics.paths.inc({ path: r.path });
        if (r.fastError !== undefined) this.ctx.acc.error('fast_path', new Error(r.fastError));
        const answer = this.acceptLines(route, r, code);
        threads.recycle(r.data);
        if (!answer) seen?.(r.dropped);
        return answer;
      }
      case 'bad':
        return this.reject(route, new BadRequest(r.status, r.reason, r.message), remote);
      case 'unavailable':
        // nothing was queued: the tracer keeps the spans and sends them again
        this.metrics.requests.inc({ route, code: '503', reason: 'unavailable' });
        return { status: 503, headers: { 'retry-after': '1' }, body: `${r.message}, retry later\n` };
      default:
        if (r.where === 'decode') return this.reject(route, new Error(r.message), remote);
        this.ctx.acc.error('pipeline', new Error(r.message));
        this.metrics.requests.inc({ route, code, reason: 'pipeline_error' });
        return undefined;
    }
  }

  /** 503 while every worker already has its backlog of bodies (bounded memory under a burst). */
  private workersBusy(route: string): HttpResponse | undefined {
    if (!this.threads?.busy()) return undefined;
    this.metrics.requests.inc({ route, code: '503', reason: 'overloaded' });
    return { status: 503, headers: { 'retry-after': '1' }, body: 'trace workers are busy, retry later\n' };
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
    let r: ReturnType<TraceProcessor['process']>;
    try {
      r = this.pipeline.process(traces);
    } catch (e) {
      // A bug in the processor, not the sender's fault: record it, never crash.
      this.ctx.acc.error('pipeline', e);
      this.metrics.requests.inc({ route, code, reason: 'pipeline_error' });
      return undefined;
    }
    const { points, dropped } = r;
    return this.settle(route, code, points.length, points.length === 0 ? 0 : this.ctx.acc.add(points), dropped);
  }

  /** Counts what became of a request's spans: `n` of `total` queued, the rest refused (503), `dropped` by the filters. */
  private settle(route: string, code: string, total: number, n: number, dropped: Partial<Record<string, number>>): HttpResponse | undefined {
    const m = this.metrics.spans;
    if (n > 0) m.inc({ result: 'accepted' }, n);
    for (const [reason, c] of Object.entries(dropped)) if (c) m.inc({ result: reason }, c);
    if (n < total) {
      this.refusedAt = performance.now();
      m.inc({ result: 'queue_full' }, total - n);
      this.metrics.requests.inc({ route, code: '503', reason: 'queue_full' });
      return { status: 503, headers: { 'retry-after': '1' }, body: 'tracing queue is full, spans not kept; retry later\n' };
    }
    this.metrics.requests.inc({ route, code, reason: 'ok' });
    return undefined;
  }

  /**
   * accept() for lines a trace worker already filtered, mapped and encoded
   * (agent/services/trace/offthread.ts): counts its drops and queues the lines.
   */
  acceptLines(route: string, r: { data: Uint8Array; ends: Uint32Array; dropped: Record<string, number> }, code = '200'): HttpResponse | undefined {
    const total = r.ends.length;
    return this.settle(route, code, total, total === 0 ? 0 : this.ctx.acc.addLines!('tracing', r.data, r.ends), r.dropped);
  }


  /** Counts spans dropped before the processor (e.g. sampling priority). */
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
