/**
 * Pipeline scripts of container logs run in worker threads.
 *
 * One thread could not parse nginx lines with DataKit's nginx.p faster than
 * ~18 MiB/s end to end: the script (grok, user_agent, casts, the time) took
 * most of the thread that also reads, sends and gzips. Here a tailer's
 * records of one read are copied into a {@link ScriptBatch} (message bytes,
 * times, streams, `log_read_lines`), a worker runs the script over them and
 * writes their line protocol (scripted-lines.ts, the same bytes the main
 * thread would write), and the tailer hands the lines to the core in the
 * order it read them (tailer.ts sendLines). Sources without a script never
 * come here.
 *
 * Bounds: each tailer has at most a few batches out (tailer.ts), each worker
 * at most {@link PER_WORKER} posted; the rest wait here in order. A worker
 * that dies (or does not answer within {@link JOB_TIMEOUT_MS}) is replaced;
 * its batches come back as `crashed` and their lines are sent as they were.
 */
import { Worker } from 'node:worker_threads';
import type { Script, ScriptRecipe, ScriptStats } from '../../../agent/services/pipeline/script.js';
import { cpuBudget, workerLimits } from '../../../agent/services/threads.js';

/** Jobs posted to one worker at a time (one running, one waiting in its inbox). */
const PER_WORKER = 2;
/** Young generation of a script worker, MiB (see spawn()). */
const SCRIPT_WORKER_YOUNG_MB = 32;
/**
 * A worker that does not answer a job within this long, plus twice the time bound of each of its
 * lines, is ended (every line has its own bound: only a bug or a stuck regular expression gets here).
 */
export const JOB_TIMEOUT_MS = 30_000;

/**
 * Script workers for `ENV_PIPELINE_WORKERS=0`: one per CPU the process may use (cpuBudget: affinity and
 * cgroup quota, so a pod limited to 1 CPU on a 16-CPU node starts one, not four), at most 4. Unlike the
 * trace workers they are most of a scripted line's CPU (the script), so they scale with the CPUs.
 */
export function defaultScriptWorkers(cpus = cpuBudget()): number {
  return Math.min(4, Math.max(1, cpus));
}

/** A stream context: what a worker needs to write a tailer's lines (sent with each batch, cached by id there). */
export interface LinesContext {
  id: number;
  source: string;
  withFilepath: boolean;
  /** Tags per stream name, with the core's added (the streams of this batch). */
  tags: Record<string, Record<string, string>>;
}

/** What a worker receives. */
export interface ScriptJobMessage {
  id: number;
  recipe: ScriptRecipe;
  ctx: LinesContext;
  /** Messages' UTF-8 bytes, one after the other; record i is msgs[ends[i-1], ends[i]). */
  msgs: Uint8Array;
  ends: Uint32Array;
  /** The record's time: bigint ns when the record had one; else sec/ns of the CRI time. */
  sec: Float64Array;
  ns: Uint32Array;
  /** Index in `streams`. */
  stream: Uint8Array;
  streams: string[];
  /** `log_read_lines` with the record counted. */
  reads: Float64Array;
  /** Index in `files`. */
  file: Uint16Array;
  files: string[];
}

export type ScriptJobResult =
  | { ok: true; data: Uint8Array; ends: Uint32Array; written: number; stats: ScriptStats }
  | { ok: false; reason: string };

/**
 * A tailer's records of one read, waiting for a worker. Built on the main
 * thread by LogLines (lines.ts); the bytes are copies (read buffers are reused).
 */
export class ScriptBatch {
  private msgs = Buffer.allocUnsafeSlow(64 << 10);
  private off = 0;
  readonly ends: number[] = [];
  readonly sec: number[] = [];
  readonly ns: number[] = [];
  readonly stream: number[] = [];
  readonly streams: string[] = [];
  readonly reads: number[] = [];
  readonly file: number[] = [];
  readonly files: string[] = [];

  constructor(readonly script: Script) {}

  get size(): number {
    return this.ends.length;
  }

  /** Bytes held. */
  get bytes(): number {
    return this.off;
  }

  add(buf: Buffer, start: number, end: number, sec: number, ns: number, stream: string, linesRead: number, filepath: string): void {
    const n = end - start;
    if (this.off + n > this.msgs.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(this.off + n, this.msgs.length * 2));
      this.msgs.copy(bigger, 0, 0, this.off);
      this.msgs = bigger;
    }
    buf.copy(this.msgs, this.off, start, end);
    this.off += n;
    this.ends.push(this.off);
    this.sec.push(sec);
    this.ns.push(ns);
    let s = this.streams.indexOf(stream);
    if (s < 0) s = this.streams.push(stream) - 1;
    this.stream.push(s);
    this.reads.push(linesRead);
    let f = this.files.length > 0 && this.files[this.files.length - 1] === filepath ? this.files.length - 1 : this.files.indexOf(filepath);
    if (f < 0) f = this.files.push(filepath) - 1;
    this.file.push(f);
  }

  /** Record i's message bytes, start and end (in `data`). */
  message(i: number): { data: Buffer; start: number; end: number } {
    return { data: this.msgs, start: i > 0 ? this.ends[i - 1]! : 0, end: this.ends[i]! };
  }

  toMessage(id: number, recipe: ScriptRecipe, ctx: LinesContext): ScriptJobMessage {
    return {
      id,
      recipe,
      ctx,
      msgs: new Uint8Array(this.msgs.buffer, this.msgs.byteOffset, this.off),
      ends: Uint32Array.from(this.ends),
      sec: Float64Array.from(this.sec),
      ns: Uint32Array.from(this.ns),
      stream: Uint8Array.from(this.stream),
      streams: this.streams,
      reads: Float64Array.from(this.reads),
      file: Uint16Array.from(this.file),
      files: this.files,
    };
  }
}

interface Slot {
  worker: Worker;
  /** Jobs posted and not answered. */
  jobs: Set<number>;
  timer: NodeJS.Timeout | undefined;
  ended: boolean;
}

interface Pending {
  msg: ScriptJobMessage;
  done: (r: ScriptJobResult) => void;
  slot?: Slot;
}

export interface ScriptThreadsOptions {
  /** The compiled script-worker.js. */
  script: URL;
  /** Most workers. */
  max: number;
  /** A worker died or was ended: its jobs come back `crashed`. */
  onCrash(err: Error): void;
  /** Told the number of running workers when it changes. */
  onCount?(n: number): void;
  jobTimeoutMs?: number;
}

/** Workers started on demand (the first with the first batch), up to `max`; jobs answered in any order, matched by id. */
export class ScriptThreads {
  private readonly slots: Slot[] = [];
  private readonly jobs = new Map<number, Pending>();
  private readonly queue: Pending[] = [];
  private next = 1;
  private closed = false;

  constructor(private readonly o: ScriptThreadsOptions) {}

  /** Workers running now. */
  get count(): number {
    return this.slots.length;
  }

  /** Jobs posted to workers and not yet answered. */
  get running(): number {
    let n = 0;
    for (const s of this.slots) n += s.jobs.size;
    return n;
  }

  /** Jobs waiting for a worker. */
  get queued(): number {
    return this.queue.length;
  }

  run(batch: ScriptBatch, recipe: ScriptRecipe, ctx: LinesContext): Promise<ScriptJobResult> {
    if (this.closed) return Promise.resolve({ ok: false, reason: 'stopped' });
    const id = this.next++;
    return new Promise((done) => {
      this.queue.push({ msg: batch.toMessage(id, recipe, ctx), done });
      this.pump();
    });
  }

  private spawn(): Slot {
    // A script run makes short-lived objects per line (its maps, captures, the line's text): with the 6 MiB young
    // generation of trace workers, scavenges took ~20 % of a script worker (CPU profile of the nginx bench).
    const limits = workerLimits();
    const worker = new Worker(this.o.script, { resourceLimits: 'maxYoungGenerationSizeMb' in limits ? { maxYoungGenerationSizeMb: SCRIPT_WORKER_YOUNG_MB } : limits });
    const slot: Slot = { worker, jobs: new Set(), timer: undefined, ended: false };
    worker.on('message', (m: { id: number; result: ScriptJobResult }) => {
      slot.jobs.delete(m.id);
      const p = this.jobs.get(m.id);
      this.jobs.delete(m.id);
      this.arm(slot);
      p?.done(m.result);
      this.pump();
    });
    worker.on('error', (e) => this.lost(slot, e));
    worker.on('exit', (code) => this.lost(slot, new Error(`script worker exited with code ${code}`)));
    this.slots.push(slot);
    this.o.onCount?.(this.slots.length);
    return slot;
  }

  /** A worker is gone: its jobs fail (their lines go out raw), a new one is started for the next. */
  private lost(slot: Slot, err: Error): void {
    if (slot.ended) return;
    slot.ended = true;
    clearTimeout(slot.timer);
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    this.o.onCount?.(this.slots.length);
    void slot.worker.terminate();
    if (this.closed) return;
    this.o.onCrash(err);
    for (const id of slot.jobs) {
      const p = this.jobs.get(id);
      this.jobs.delete(id);
      p?.done({ ok: false, reason: err.message });
    }
    slot.jobs.clear();
    this.pump();
  }

  /** (Re)starts the watchdog of a worker's oldest job. */
  private arm(slot: Slot): void {
    clearTimeout(slot.timer);
    slot.timer = undefined;
    const oldest = this.jobs.get(slot.jobs.values().next().value ?? -1);
    if (oldest === undefined) return;
    const ms = (this.o.jobTimeoutMs ?? JOB_TIMEOUT_MS) + 2 * oldest.msg.ends.length * Math.max(0, oldest.msg.recipe.timeBoundMs);
    slot.timer = setTimeout(() => this.lost(slot, new Error(`script worker did not answer a batch of ${oldest.msg.ends.length} lines within ${ms} ms`)), ms);
    slot.timer.unref();
  }

  private pump(): void {
    while (this.queue.length > 0 && !this.closed) {
      let slot: Slot | undefined;
      for (const s of this.slots) if (s.jobs.size < PER_WORKER && (slot === undefined || s.jobs.size < slot.jobs.size)) slot = s;
      if ((slot === undefined || slot.jobs.size > 0) && this.slots.length < this.o.max) slot = this.spawn();
      if (slot === undefined) return;
      const p = this.queue.shift()!;
      p.slot = slot;
      this.jobs.set(p.msg.id, p);
      slot.jobs.add(p.msg.id);
      if (slot.jobs.size === 1) this.arm(slot);
      // the bytes are copied: the batch keeps its own for a worker that dies
      slot.worker.postMessage(p.msg);
    }
  }

  /** Gives a result's buffer back to a worker once its lines were copied (workers reuse them). */
  recycle(data: Uint8Array): void {
    const buf = data.buffer as ArrayBuffer;
    if (this.closed || buf.byteLength < 64 << 10 || buf.byteLength > 32 << 20) return;
    const slot = this.slots[this.next % Math.max(1, this.slots.length)];
    slot?.worker.postMessage({ spare: buf }, [buf]);
  }

  /** Test hook and watchdog: ends worker `i` as if it had crashed. */
  kill(i: number): void {
    const s = this.slots[i];
    if (s) this.lost(s, new Error('script worker ended'));
  }

  /** Lets the jobs in flight finish (up to `drainMs`; later ones come back not ok), then ends the workers. */
  async close(drainMs = 5000): Promise<void> {
    const until = Date.now() + drainMs;
    while ((this.jobs.size > 0 || this.queue.length > 0) && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    this.closed = true;
    for (const p of [...this.jobs.values(), ...this.queue]) p.done({ ok: false, reason: 'stopped' });
    this.jobs.clear();
    this.queue.length = 0;
    const slots = this.slots.splice(0);
    for (const s of slots) {
      s.ended = true;
      clearTimeout(s.timer);
    }
    await Promise.all(slots.map((s) => s.worker.terminate()));
    this.o.onCount?.(0);
  }
}
