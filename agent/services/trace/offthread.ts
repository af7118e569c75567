/**
 * Tracing requests decoded, filtered, mapped and encoded in worker threads.
 *
 * One Node thread could not go past ~65k spans/s end to end: decoding,
 * building each span's point and its `message`, and writing line protocol all
 * ran on the thread that also serves HTTP and sends batches. Here the input's
 * main-thread handler only checks back-pressure and posts the raw body to a
 * worker; the worker runs the input's decoder and the shared pipeline, applies
 * the tags the core would add (Accumulator.tagsToAdd), writes the records the
 * sender queues for tracing (line protocol, or PBPoints entries with v2 bodies)
 * and hands back one buffer of them, which the sender queues as it is
 * (Accumulator.addLines). An input may also give a TraceLineWriter, a fast
 * path tried first that writes the lines from the body itself (ddtrace's
 * lines.ts) and leaves what it does not model to the decoder and pipeline.
 *
 * Each worker keeps its own pipeline state, so with several workers
 * `keep_rare_resource` remembers resources per worker (a rare resource may be
 * kept once per worker per hour instead of once).
 */
import { Worker, parentPort, workerData } from 'node:worker_threads';
import { cpuBudget, workerLimits } from '../threads.js';
import { LineBuf } from '../../model/linebuf.js';
import { nowNs } from '../../model/point.js';
import { TraceProcessor } from './processor.js';
import type { TraceOptions } from './options.js';
import type { Trace } from './span.js';
import { BadRequest } from './bad-request.js';
import { appendPBRecord } from '../../model/pbpoint.js';
import type { RecordFormat } from '../../delivery/sinks/types.js';

export { workerLimits, workerScript } from '../threads.js';

/** What an input's decoder needs of a request (headers lower-cased, only those it reads). */
export interface TraceRequest {
  route: string;
  contentType: string;
  headers: Record<string, string>;
  /** Handed over to a worker when there are workers (handOver): not to be read once the request is handled. */
  body: Buffer;
}

export interface Decoded {
  traces: Trace[];
  /** Spans dropped while decoding (sampling priority, truncation), by reason. */
  dropped?: Record<string, number>;
}

/** An input's request decoder: the same code runs on the main thread and in workers. Throws BadRequest. */
export type TraceDecoder = (req: TraceRequest) => Decoded;

/**
 * An input's fast path in a worker: writes the request's spans as lines into
 * `out` itself (the same lines the decoder and the processor would give, with
 * the core's `tags` where a point lacks the key; spans without a time get
 * `now`) and returns the spans dropped by reason; or returns undefined, having
 * written nothing, to leave the request to the decoder and the processor.
 */
export type TraceLineWriter = (req: TraceRequest, out: LineBuf, tags: Record<string, string>, now: bigint) => Record<string, number> | undefined;

export type JobResult =
  | {
      kind: 'ok';
      data: Uint8Array;
      ends: Uint32Array;
      dropped: Record<string, number>;
      /** Which path wrote the lines: the input's TraceLineWriter or the decoder and the processor. */
      path: 'fast' | 'generic';
      /** The fast path threw (a bug): the generic path wrote the lines instead. */
      fastError?: string;
    }
  | { kind: 'bad'; status: number; reason: BadRequest['reason']; message: string }
  /** A bug in a decoder or the processor, not the sender's fault. */
  | { kind: 'error'; where: 'decode' | 'pipeline'; message: string }
  /** The worker died or the input stopped before answering: the sender should retry. */
  | { kind: 'unavailable'; message: string };

interface Job {
  id: number;
  route: string;
  contentType: string;
  headers: Record<string, string>;
  body: Uint8Array<ArrayBuffer>;
  /** Sent when they changed since the worker's last job. */
  tags?: Record<string, string>;
}

interface Init {
  source: string;
  opts: TraceOptions;
  /** The input's own configuration, for its decoder. */
  config: unknown;
  /** The records the sender takes for the tracing category: line protocol or PBPoints entries. */
  format: RecordFormat;
}

/** The TraceRequest of an HTTP request: the route it came in on and the named headers (as strings). */
export function traceRequest(route: string, req: { headers: Record<string, string | string[] | undefined>; body: Buffer }, names: readonly string[]): TraceRequest {
  const headers: Record<string, string> = {};
  for (const n of names) {
    const v = req.headers[n];
    if (typeof v === 'string' && v !== '') headers[n] = v;
  }
  return { route, contentType: (headers['content-type'] ?? '').toLowerCase(), headers, body: req.body };
}

/** Bodies at least this large that own their memory whole are transferred to the worker as they are, not copied. */
export const HAND_OVER_MIN = 64 << 10;

/**
 * At most this many bytes of a handed-over body's ArrayBuffer may lie before it: a gRPC message is the tail
 * of grpc-js's framed message, one allocation with the 5-byte message prefix ahead of the protobuf.
 */
export const HAND_OVER_PREFIX = 16;

/**
 * The bytes of a request body in memory a worker can own. A large body that
 * owns its ArrayBuffer (the HTTP server reads a body of a declared length into
 * one allocation of that length; grpc-js assembles a message into one
 * allocation behind its 5-byte prefix) is given as it is: transferring the
 * ArrayBuffer detaches `body`, which the caller no longer reads, and the few
 * bytes before it. Anything else (small bodies from Node's shared pool, a
 * slice of a larger buffer with bytes after it) is copied into a buffer of its
 * own. A 253 KB trace body copied cost the main thread an allocation, its page
 * faults and a copy per request.
 */
export function handOver(body: Buffer): Uint8Array<ArrayBuffer> {
  const ab = body.buffer;
  if (body.length >= HAND_OVER_MIN && body.byteOffset <= HAND_OVER_PREFIX && ab.byteLength === body.byteOffset + body.length && ab instanceof ArrayBuffer) return new Uint8Array(ab, body.byteOffset, body.length);
  const copy = new Uint8Array(body.length);
  copy.set(body);
  return copy;
}

/**
 * Worker threads for `workers = 0`: one per two CPUs the process may use
 * (cpuBudget: affinity and cgroup quota), at least 1, at most 4. The workers'
 * part of a span's CPU is under half (3.3 of 7.1–7.6 µs at saturation: the main
 * thread's HTTP and sender, libuv's gzip and V8's GC threads take the rest), so
 * on N CPUs N/2 workers already keep the other threads busy; one per CPU
 * started a second isolate on a 2-CPU node that added no spans/s and took
 * ~15–30 MiB of RSS at saturation (BENCHMARKS.md, Traces, session 11).
 */
export function defaultWorkers(cpus = cpuBudget()): number {
  return Math.min(4, Math.max(1, Math.floor(cpus / 2)));
}

interface Slot {
  worker: Worker;
  busy: number;
  tagsKey: string;
  /** When its last job finished (or it started). */
  idleSince: number;
  /** Ended for idleness: its exit is not a crash. */
  retired?: boolean;
}

/**
 * A worker with this many jobs (one running, one waiting) is behind: the next job goes to another, started if need be.
 * At 1 (a second worker as soon as the first had a job) two requests in flight kept two workers awake where one kept up,
 * and one does it with less CPU a span and 30-40 MiB less RSS (BENCHMARKS.md, Traces, session 8).
 */
export const BEHIND = 2;

/** A worker without a job for this long ends; the next request starts another. */
export const WORKER_IDLE_MS = 60_000;

/**
 * A small pool of trace workers with a bounded backlog. Workers start on
 * demand: the first with the first request, another only while every
 * running one is behind (BEHIND), up to `max` — a node that receives no
 * traces pays for no thread (each is a V8 isolate of ~27–30 MiB). Jobs go to
 * the first worker that is not behind, so a worker the load does not need
 * gets none, and one that has had no job for `idleMs` ends: a burst's
 * workers do not stay resident.
 */
export class TraceThreads {
  private readonly slots: Slot[] = [];
  private readonly waiting = new Map<number, { slot: Slot; done: (r: JobResult) => void }>();
  /** The worker each result's buffer came from: a spare goes back to it (recycle). */
  private readonly owners = new WeakMap<ArrayBufferLike, Slot>();
  private next = 1;
  private closed = false;
  private reaper: NodeJS.Timeout | undefined;

  constructor(
    private readonly script: URL,
    private readonly init: Init,
    /** Most workers. */
    private readonly max: number,
    /** Jobs waiting or running per worker beyond which busy() is true. */
    private readonly backlog: number,
    private readonly onExit: (err: Error) => void,
    /** Told the number of running workers when it changes. */
    private readonly onCount: (n: number) => void = () => {},
    /** A worker idle this long ends (0: never). */
    private readonly idleMs = WORKER_IDLE_MS,
    /** The workers' young generation (MiB) where the container's memory is not limited (workerLimits). */
    private readonly youngMb = 6,
  ) {}

  /** Workers running now. */
  get count(): number {
    return this.slots.length;
  }

  private spawn(): Slot {
    const worker = new Worker(this.script, { workerData: this.init, resourceLimits: workerLimits(undefined, this.youngMb) });
    const slot: Slot = { worker, busy: 0, tagsKey: '', idleSince: Date.now() };
    worker.on('message', (m: { id: number; result: JobResult }) => {
      slot.busy--;
      if (slot.busy === 0) slot.idleSince = Date.now();
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.result.kind === 'ok') this.owners.set(m.result.data.buffer, slot);
      w?.done(m.result);
    });
    worker.on('error', (e) => this.onExit(e));
    worker.on('exit', (code) => {
      if (this.closed || slot.retired) return;
      const i = this.slots.indexOf(slot);
      // a worker died (a bug): its jobs fail, and a new one takes its place
      for (const [id, w] of this.waiting) {
        if (w.slot !== slot) continue;
        this.waiting.delete(id);
        w.done({ kind: 'unavailable', message: `trace worker exited (${code})` });
      }
      if (i >= 0) this.slots.splice(i, 1); // the next request starts another
      this.onCount(this.slots.length);
      this.onExit(new Error(`trace worker exited with code ${code}`));
    });
    return slot;
  }

  /** True when every worker has its full backlog: the caller answers 503 instead of queueing more bodies. */
  busy(): boolean {
    if (this.slots.length < this.max) return false;
    for (const s of this.slots) if (s.busy < this.backlog) return false;
    return true;
  }

  /** Runs a request in a worker. The request's body is handed over (handOver): the caller must not read it afterwards. */
  run(req: TraceRequest, tags: Readonly<Record<string, string>>): Promise<JobResult> {
    // Fill first: the first worker that is not behind takes the job, so a worker the load does not need gets none, idles
    // and ends; another starts only when every running one is behind, up to `max`; past that, the least busy one.
    let slot = this.slots.find((s) => s.busy < BEHIND);
    if (slot === undefined && this.slots.length < this.max) {
      slot = this.spawn();
      this.slots.push(slot);
      this.onCount(this.slots.length);
      this.watchIdle();
    }
    if (slot === undefined) {
      slot = this.slots[0]!;
      for (const s of this.slots) if (s.busy < slot.busy) slot = s;
    }
    const id = this.next++;
    const body = handOver(req.body);
    const job: Job = { id, route: req.route, contentType: req.contentType, headers: req.headers, body };
    const key = JSON.stringify(tags);
    if (key !== slot.tagsKey) {
      job.tags = { ...tags };
      slot.tagsKey = key;
    }
    slot.busy++;
    return new Promise<JobResult>((done) => {
      this.waiting.set(id, { slot, done });
      slot.worker.postMessage(job, [body.buffer]);
    });
  }

  /**
   * Gives a result's buffer back to a worker once its lines were queued
   * (copied): workers reuse such buffers instead of allocating one per
   * request, which kept V8 busy with full GCs for external memory.
   */
  recycle(data: Uint8Array): void {
    const buf = data.buffer;
    // a worker's lines are in shared memory (serveTraceJobs): posted back as they are, nothing to transfer
    if (this.closed || !(buf instanceof SharedArrayBuffer) || buf.byteLength < 64 << 10 || buf.byteLength > 32 << 20) return;
    // to the worker it came from: each worker then gets back as many buffers as it gave, where spares sent round the
    // workers left the busier one short (a new buffer a job) and the other over its four (dropped), and the shared
    // memory of dropped buffers stayed until both isolates collected them (peak RSS +50 MiB end to end)
    const slot = this.owners.get(buf);
    if (slot !== undefined && !slot.retired && this.slots.includes(slot)) slot.worker.postMessage({ spare: buf });
  }

  /** Ends workers idle for `idleMs`, checking a few times per period while any runs. */
  private watchIdle(): void {
    if (this.idleMs <= 0 || this.reaper) return;
    this.reaper = setInterval(() => {
      const now = Date.now();
      const before = this.slots.length;
      for (const s of [...this.slots]) {
        if (s.busy > 0 || now - s.idleSince < this.idleMs) continue;
        s.retired = true;
        this.slots.splice(this.slots.indexOf(s), 1);
        void s.worker.terminate();
      }
      if (this.slots.length !== before) this.onCount(this.slots.length);
      if (this.slots.length === 0) {
        clearInterval(this.reaper);
        this.reaper = undefined;
      }
    }, Math.max(10, this.idleMs / 4));
    this.reaper.unref();
  }

  /** Lets the jobs in flight finish (up to `drainMs`; later ones answer 'unavailable'), then ends the workers. */
  async close(drainMs = 2000): Promise<void> {
    const until = Date.now() + drainMs;
    while (this.waiting.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    this.closed = true;
    clearInterval(this.reaper);
    this.reaper = undefined;
    for (const w of this.waiting.values()) w.done({ kind: 'unavailable', message: 'input stopped' });
    this.waiting.clear();
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

/**
 * The body of a worker script: `serveTraceJobs((config) => makeDecoder(config))`.
 * Decodes, filters and maps each job's traces, adds the core's tags where a
 * point lacks the key, and answers with the lines. With `makeWriter`, the
 * input's fast path is tried first for each job.
 */
export function serveTraceJobs(makeDecoder: (config: unknown) => TraceDecoder, makeWriter?: (config: unknown, pipeline: TraceProcessor) => TraceLineWriter): void {
  const port = parentPort;
  if (!port) throw new Error('serveTraceJobs runs in a worker thread');
  const init = workerData as Init;
  const pipeline = new TraceProcessor(init.source, init.opts);
  const decode = makeDecoder(init.config);
  // the fast paths write line protocol only
  const fast = init.format === 'lp' ? makeWriter?.(init.config, pipeline) : undefined;
  const pb = init.format === 'pb';
  let tags: Record<string, string> = {};
  let size = 256 << 10;
  // The lines go back in shared memory, posted without a transfer list: a transfer detaches the buffer in this isolate,
  // and once any ArrayBuffer of an isolate is detached V8 checks for it at every typed-array and DataView access of
  // optimised code (its detaching protector), which cost the byte-level writers ~15 % (BENCHMARKS.md, "Traces", session 10).
  const spares: SharedArrayBuffer[] = [];
  const lineBuf = (): LineBuf => {
    const i = spares.findIndex((b) => b.byteLength >= size);
    return new LineBuf(Buffer.from(i >= 0 ? spares.splice(i, 1)[0]! : new SharedArrayBuffer(size)));
  };
  const answer = (lines: LineBuf, dropped: Record<string, number>, path: 'fast' | 'generic', id: number, fastError?: string): void => {
    size = Math.max(64 << 10, Math.min(Math.ceil(lines.off * 1.25), 32 << 20));
    // cloned (a copy of a few KiB), not transferred: see `spares`
    const ends = Uint32Array.from(lines.ends);
    let data = new Uint8Array(lines.data.buffer, lines.data.byteOffset, lines.off);
    if (!(lines.data.buffer instanceof SharedArrayBuffer)) {
      // the buffer grew during the job (LineBuf allocates ordinary memory): its lines are copied into shared memory
      const shared = new Uint8Array(new SharedArrayBuffer(Math.max(size, lines.off)), 0, lines.off);
      shared.set(data);
      data = shared;
    }
    const result: JobResult = { kind: 'ok', data, ends, dropped, path, ...(fastError === undefined ? {} : { fastError }) };
    port.postMessage({ id, result });
  };
  port.on('message', (job: Job | { spare: SharedArrayBuffer }) => {
    if ('spare' in job) {
      if (spares.length < 4) spares.push(job.spare);
      return;
    }
    if (job.tags) tags = job.tags;
    const body = Buffer.from(job.body.buffer, job.body.byteOffset, job.body.length);
    const req: TraceRequest = { route: job.route, contentType: job.contentType, headers: job.headers, body };
    let result: JobResult;
    let fastError: string | undefined;
    const lines = lineBuf();
    if (fast !== undefined) {
      let dropped: Record<string, number> | undefined;
      try {
        dropped = fast(req, lines, tags, nowNs());
      } catch (e) {
        // a bug in the fast path: the generic path still takes the spans, and the error is reported
        fastError = e instanceof Error ? (e.stack ?? e.message) : String(e);
      }
      if (dropped !== undefined) {
        answer(lines, dropped, 'fast', job.id);
        return;
      }
      lines.reset();
    }
    let decoded: Decoded | undefined;
    try {
      decoded = decode(req);
    } catch (e) {
      result = e instanceof BadRequest ? { kind: 'bad', status: e.status, reason: e.reason, message: e.message } : { kind: 'error', where: 'decode', message: e instanceof Error ? e.message : String(e) };
    }
    if (decoded) {
      try {
        const { points, dropped } = pipeline.process(decoded.traces);
        const now = nowNs();
        for (const p of points) {
          const t = p.tags;
          for (const k in tags) if (t[k] === undefined) t[k] = tags[k]!;
          if (pb) appendPBRecord(lines, p, now);
          else lines.point(p, now);
        }
        const all: Record<string, number> = { ...decoded.dropped };
        for (const [k, v] of Object.entries(dropped)) all[k] = (all[k] ?? 0) + (v ?? 0);
        answer(lines, all, 'generic', job.id, fastError);
        return;
      } catch (e) {
        result = { kind: 'error', where: 'pipeline', message: e instanceof Error ? e.message : String(e) };
      }
    }
    if (spares.length < 4 && lines.data.buffer instanceof SharedArrayBuffer) spares.push(lines.data.buffer);
    port.postMessage({ id: job.id, result: result! });
  });
}
