/**
 * Tails one log-file family (a live file and its rotations) into log points.
 *
 * - Reads in fixed-size chunks with a bounded carry, so memory stays bounded
 *   whatever the line lengths; hands points over with `addWait`, so a full
 *   logging queue pauses reading instead of dropping.
 * - Follows rotation by rename (the open descriptor is read to its end, then
 *   the new live file from its start) and by copytruncate (what is left is
 *   read from the copy, found by fingerprint, then the file from its start).
 * - Saves a position only when every record before it was acknowledged.
 * - On start, resumes from saved positions across rotations that happened
 *   while stopped, gzip included.
 */
import fs from 'node:fs/promises';
import zlib from 'node:zlib';
import type { Accumulator } from '../../../agent/input/contract.js';
import type { Point } from '../../../agent/model/point.js';
import { Assembler, splitLines, type AssemblerOptions, type LogRecord } from './assembler.js';
import type { LogLines } from './lines.js';
import { AckedPositions, type Ident, type Slot } from './acks.js';
import type { ScriptBatch } from './script-pool.js';
import { positionKey, type Checkpoints, type Position } from './checkpoint.js';
import { FP_LEN, fpMatches, listFamily, type Member } from './family.js';
import type { ReadPool } from './pool.js';
import type { FileRoots } from '../../../agent/services/files/safe-open.js';

export interface TailStats {
  bytes(n: number): void;
  records(n: number): void;
  parseErrors(n: number): void;
  event(kind: 'rotation' | 'truncation' | 'lost' | 'resume'): void;
}

export interface TailerOptions {
  live: string;
  /** Where to start the live file when nothing is known about it. */
  firstSight: 'beginning' | 'end' | 'threshold';
  thresholdBytes: number;
  assembler: AssemblerOptions;
  multilineTimeoutMs: number;
  /** `linesBefore`: raw lines this tailer read before these records (DataKit's `log_read_lines`). */
  toPoints(records: LogRecord[], filepath: string, linesBefore: number): Point[];
  /** The path shown in the `filepath` field for a file read (default: the path itself). */
  displayPath?: ((file: string) => string) | undefined;
  /** When set, records are written as line protocol as they are assembled, without points (lines.ts LogLines). */
  newLines?: (() => LogLines) | undefined;
}

export interface TailerDeps {
  acc: Accumulator;
  checkpoints: Checkpoints;
  pool: ReadPool;
  /** Every file is opened through it: a regular file under the log roots, checked on the descriptor. */
  files: FileRoots;
  stats: TailStats;
  onError(err: unknown): void;
}

const POLL_MIN_MS = 25;
/** Handoffs of scripted batches a tailer may have out at the script workers before it waits (direct mode). */
const MAX_OUT = 2;
const POLL_MAX_MS = 500;

export class Tailer {
  private stopping = false;
  /** When set, the tailer reads to the end of what exists and exits (the container is gone). */
  private draining = false;
  private wake: (() => void) | undefined;
  private readonly acks: AckedPositions;
  private linesRead = 0;
  /** Direct mode (TailerOptions.newLines): where assemblers write their records. */
  private readonly lines: LogLines | undefined;
  private done: Promise<void> | undefined;
  /** Handoffs of scripted batches not yet accepted by the core, oldest first. */
  private readonly out: Promise<void>[] = [];

  constructor(
    readonly opts: TailerOptions,
    private readonly deps: TailerDeps,
  ) {
    this.acks = new AckedPositions(deps.checkpoints, opts.live);
    this.lines = opts.newLines?.();
  }

  start(): void {
    // batches still at the script workers are handed to the core before the tailer is done
    this.done ??= this.run()
      .catch((e) => this.deps.onError(e))
      .then(() => this.flushOut());
  }

  /** Stops promptly; positions already acknowledged stay saved, later acks still advance them. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.done;
    this.acks.handOff();
  }

  /** Reads what is left, then exits. */
  drain(): void {
    this.draining = true;
    this.wake?.();
  }

  get finished(): Promise<void> {
    return this.done ?? Promise.resolve();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        r();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = undefined;
        r();
      };
    });
  }

  private async send(asm: Assembler, ident: Ident): Promise<void> {
    const lines = this.lines;
    if (lines !== undefined) return this.sendLines(asm, ident, lines);
    const recs = asm.take();
    if (asm.parseErrors > 0) {
      this.deps.stats.parseErrors(asm.parseErrors);
      asm.parseErrors = 0;
    }
    const slot = this.acks.sent(ident, asm.safeOffset(), recs.length === 0);
    if (recs.length === 0) return;
    this.deps.stats.records(recs.length);
    const before = this.linesRead;
    for (const r of recs) this.linesRead += r.lines;
    const shown = this.opts.displayPath ? this.opts.displayPath(ident.path) : ident.path;
    await this.deps.acc.addWait(this.opts.toPoints(recs, shown, before), { onAck: () => this.acks.ack(slot) });
  }

  /** send() in direct mode: the lines the assembler wrote since the last send. */
  private async sendLines(asm: Assembler, ident: Ident, lines: LogLines): Promise<void> {
    if (asm.parseErrors > 0) {
      this.deps.stats.parseErrors(asm.parseErrors);
      asm.parseErrors = 0;
    }
    const b = lines.buf;
    const n = b.ends.length;
    const batches = lines.takeBatches();
    // batches out at the script workers: these lines go after theirs
    if (n > 0 && this.out.length > 0) await this.flushOut();
    const slot = this.acks.sent(ident, asm.safeOffset(), n === 0 && batches.length === 0);
    if (batches.length > 0) return this.sendBatches(lines, batches, slot);
    if (n === 0) return;
    this.deps.stats.records(lines.records);
    lines.records = 0;
    try {
      await this.deps.acc.addLinesWait!('logging', b.data, b.ends, { onAck: () => this.acks.ack(slot) });
    } finally {
      b.reset(); // the core copied the lines (or dropped them at shutdown)
    }
  }

  /**
   * Scripted records of one read, parsed in the script workers: handed to the
   * core in the order they were read, after every earlier send; the position
   * is acknowledged when the core acknowledges the last of them. Returns at
   * once unless MAX_OUT handoffs are already out (back-pressure on reading).
   */
  private async sendBatches(lines: LogLines, batches: readonly ScriptBatch[], slot: Slot): Promise<void> {
    const jobs = batches.map((b) => lines.runBatch(b));
    const prev = this.out.length > 0 ? this.out[this.out.length - 1]! : undefined;
    const handoff = (async () => {
      if (prev !== undefined) await prev;
      // the position waits for the core's acks of every part (one more until all are handed over)
      let unacked = 1;
      const acked = (): void => {
        if (--unacked === 0) this.acks.ack(slot);
      };
      for (const job of jobs) {
        const r = await job;
        if (r.written > 0) this.deps.stats.records(r.written);
        if (r.ends.length === 0) continue;
        unacked++;
        await this.deps.acc.addLinesWait!('logging', r.data, r.ends, { onAck: acked });
        r.recycle?.();
      }
      acked();
    })().catch((e) => this.deps.onError(e));
    this.out.push(handoff);
    void handoff.finally(() => this.out.splice(this.out.indexOf(handoff), 1));
    if (this.out.length >= MAX_OUT) await this.out[0];
  }

  /** Waits until every batch out at the script workers was handed to the core. */
  private async flushOut(): Promise<void> {
    while (this.out.length > 0) await this.out[this.out.length - 1];
  }

  private finish(ident: Ident): void {
    this.acks.finish(ident);
  }

  private position(ident: Ident, offset: number): Position {
    return this.acks.position(ident, offset);
  }

  // ---- reading -----------------------------------------------------------------

  private newAssembler(offset: number, filepath: string): Assembler {
    return new Assembler(this.opts.assembler, offset, this.lines?.sinkFor(this.opts.displayPath ? this.opts.displayPath(filepath) : filepath));
  }

  private split(asm: Assembler, data: Buffer, len: number, base: number): Buffer {
    this.lines?.refresh();
    return splitLines(asm, data, len, base, this.opts.assembler.maxBytes + 256);
  }

  /** Reads a whole stream (a rotated or gzipped file) from `from`, then finishes its position. */
  private async readStream(m: Member, ident: Ident, from: number): Promise<void> {
    const asm = this.newAssembler(from, ident.path);
    let carry: Buffer = Buffer.alloc(0);
    let pos = 0;
    let base = from;
    // A position from the start, so that a crash now resumes this file instead of forgetting the family.
    if (!this.deps.checkpoints.get(positionKey(ident.dev, ident.ino))) this.deps.checkpoints.set(this.position(ident, from));
    // Open the file that was listed, even if it was renamed since (docker shifts `.1` → `.2`).
    const fh = await this.openMember(m);
    if (!fh) {
      this.deps.stats.event('lost');
      this.finish(ident);
      return;
    }
    const file = fh.createReadStream(m.gz ? { highWaterMark: 256 * 1024 } : { start: from, highWaterMark: 256 * 1024 });
    const src = m.gz ? file.pipe(zlib.createGunzip()) : file;
    if (!m.gz) pos = from;
    try {
      for await (const chunk of src as AsyncIterable<Buffer>) {
        if (this.stopping) return;
        let c = chunk;
        if (pos < from) {
          // gzip: skip what was already acknowledged.
          const skip = Math.min(from - pos, c.length);
          pos += skip;
          c = c.subarray(skip);
          if (c.length === 0) continue;
        }
        pos += c.length;
        this.deps.stats.bytes(c.length);
        const data = carry.length > 0 ? Buffer.concat([carry, c]) : c;
        const nextBase = base + data.length;
        carry = this.split(asm, data, data.length, base);
        base = nextBase - carry.length;
        await this.send(asm, ident);
      }
    } catch (e) {
      this.deps.onError(e);
    } finally {
      (src as NodeJS.ReadableStream & { destroy(): void }).destroy();
      file.destroy();
      await fh.close().catch(() => {});
    }
    if (this.stopping) return;
    if (carry.length > 0) asm.line(carry, 0, carry.length, base, base + carry.length);
    asm.flushAll();
    await this.send(asm, ident);
    this.finish(ident);
  }

  /** Opens a listed family member by its identity, following renames; undefined when it is gone. */
  private async openMember(m: Member): Promise<fs.FileHandle | undefined> {
    let p = m.path;
    for (let attempt = 0; attempt < 5; attempt++) {
      const r = await this.deps.files.open(p);
      if (r.ok) {
        if (r.stat.dev === m.dev && r.stat.ino === m.ino) return r.handle;
        await r.handle.close();
      }
      const again = (await listFamily(this.opts.live, this.deps.files)).find((x) => x.dev === m.dev && x.ino === m.ino);
      if (!again) return undefined;
      p = again.path;
    }
    return undefined;
  }

  /** Resumes the family from saved positions; returns where the live file starts (or undefined: decide by first sight). */
  private async recover(): Promise<number | undefined> {
    const saved = this.deps.checkpoints.all().filter((p) => p.live === this.opts.live);
    if (saved.length === 0) return undefined;
    const family = await listFamily(this.opts.live, this.deps.files);
    const matched = new Map<number, Position>();
    for (const p of saved) {
      const i = family.findIndex((m) => fpMatches(m.head, p.fp, p.fpLen) && (m.gz || (m.dev === p.dev && m.ino === p.ino) || p.fpLen === FP_LEN));
      if (i >= 0 && !matched.has(i)) matched.set(i, p);
      else {
        this.deps.stats.event('lost');
        this.deps.checkpoints.delete(positionKey(p.dev, p.ino));
      }
    }
    const newestSaved = Math.max(...saved.map((p) => p.updated));
    const k = matched.size > 0 ? Math.max(...matched.keys()) : -1;
    const liveIdx = family.findIndex((m) => m.path === this.opts.live);
    for (let i = 0; i < family.length; i++) {
      if (i === liveIdx || this.stopping) continue;
      const m = family[i]!;
      const p = matched.get(i);
      const newer = k >= 0 ? i > k : m.mtimeMs >= newestSaved;
      if (!p && !newer) continue;
      const ident: Ident = p
        ? { path: m.path, dev: p.dev, ino: p.ino, fp: p.fp, fpLen: p.fpLen }
        : { path: m.path, dev: m.dev, ino: m.ino, fp: m.head.toString('base64'), fpLen: m.head.length };
      if (p) {
        this.deps.stats.event('resume');
        if (p.dev !== m.dev || p.ino !== m.ino) this.deps.checkpoints.delete(positionKey(p.dev, p.ino));
      }
      if (!p || p.dev !== m.dev || p.ino !== m.ino) ident.dev = m.dev, (ident.ino = m.ino);
      await this.readStream(m, ident, p?.offset ?? 0);
    }
    const lp = liveIdx >= 0 ? matched.get(liveIdx) : undefined;
    if (lp) {
      this.deps.stats.event('resume');
      return lp.offset;
    }
    return 0; // the live file is new since the last run
  }

  /** A position handed over by the previous tailer of this file, when the file is still the same. */
  private async takeHandoff(): Promise<number | undefined> {
    const h = this.deps.checkpoints.handoffs.get(this.opts.live);
    if (!h) return undefined;
    this.deps.checkpoints.handoffs.delete(this.opts.live);
    const m = (await listFamily(this.opts.live, this.deps.files)).find((x) => x.path === this.opts.live);
    return m && m.dev === h.dev && m.ino === h.ino && fpMatches(m.head, h.fp, h.fpLen) ? h.offset : undefined;
  }

  /**
   * Files rotated after `prev` and before the file now open as the live one
   * (several rotations between two looks) are read from their start.
   * `fam` must be listed after the live file was opened.
   */
  private async readBetween(fam: Member[], after: number, open: { dev: number; ino: number }): Promise<void> {
    const fdIdx = fam.findIndex((m) => !m.gz && m.dev === open.dev && m.ino === open.ino);
    const end = fdIdx > after ? fdIdx : fam.length;
    for (const m of fam.slice(after + 1, end)) {
      if (m.path === this.opts.live || (m.dev === open.dev && m.ino === open.ino) || this.stopping) continue;
      this.deps.stats.event('rotation');
      await this.readStream(m, { path: m.path, dev: m.dev, ino: m.ino, fp: m.head.toString('base64'), fpLen: m.head.length }, 0);
    }
  }

  private static indexOf(fam: Member[], id: Ident): number {
    const i = fam.findIndex((m) => !m.gz && m.dev === id.dev && m.ino === id.ino && (id.fpLen === 0 || fpMatches(m.head, id.fp, id.fpLen)));
    return i >= 0 ? i : fam.findIndex((m) => m.gz && id.fpLen > 0 && fpMatches(m.head, id.fp, id.fpLen));
  }

  private async run(): Promise<void> {
    let handoff = await this.takeHandoff();
    let startAt = handoff ?? (await this.recover());
    let delay = POLL_MIN_MS;
    let firstOpen = true;
    /** The file followed before the last rename rotation. */
    let prev: Ident | undefined;
    while (!this.stopping) {
      // Opened through the roots check at every (re)open: after a rotation the new live file may be a symlink out.
      const opened = await this.deps.files.open(this.opts.live);
      if (!opened.ok) {
        if (this.draining) return;
        await this.sleep(POLL_MAX_MS);
        continue;
      }
      const fh = opened.handle;
      try {
        const st = opened.stat;
        let offset: number;
        if (startAt !== undefined) offset = Math.min(startAt, st.size);
        else if (!firstOpen) offset = 0;
        else if (this.opts.firstSight === 'beginning') offset = 0;
        else if (this.opts.firstSight === 'threshold' && st.size < this.opts.thresholdBytes) offset = 0;
        else offset = st.size;
        firstOpen = false;
        startAt = undefined;
        const head = Buffer.alloc(FP_LEN);
        const { bytesRead } = await fh.read(head, 0, FP_LEN, 0);
        const ident: Ident = { path: this.opts.live, dev: st.dev, ino: st.ino, fp: head.toString('base64', 0, bytesRead), fpLen: bytesRead };
        // Files rotated in between first: a crash while reading them resumes them, then the live file.
        if (prev) {
          const fam = await listFamily(this.opts.live, this.deps.files);
          const i = Tailer.indexOf(fam, prev);
          if (i >= 0) await this.readBetween(fam, i, st);
          prev = undefined;
        }
        const saved = this.deps.checkpoints.get(positionKey(st.dev, st.ino));
        // After a handoff the saved position stays behind until the previous tailer's batches are acknowledged.
        const handedOver = handoff !== undefined && offset === handoff && saved !== undefined;
        handoff = undefined;
        if (!handedOver && (!saved || saved.offset !== offset || saved.fp !== ident.fp)) this.deps.checkpoints.set(this.position(ident, offset));
        const r = await this.follow(fh, ident, offset, () => (delay = POLL_MIN_MS));
        if (r === 'gone') return;
        if (r === 'rotated') prev = { ...ident };
        delay = POLL_MIN_MS;
      } finally {
        await fh.close().catch(() => {});
      }
      if (this.stopping) return;
      await this.sleep(delay);
      delay = Math.min(delay * 2, POLL_MAX_MS);
    }
  }

  /** Follows one open file until it is rotated away ('rotated'), deleted for good ('gone') or the tailer stops. */
  private async follow(fh: fs.FileHandle, ident: Ident, offset: number, active: () => void): Promise<'rotated' | 'gone' | 'stopped'> {
    let asm = this.newAssembler(offset, ident.path);
    let carry: Buffer = Buffer.alloc(0);
    let readPos = offset;
    let lastData = Date.now();
    let delay = POLL_MIN_MS;
    const headBuf = Buffer.alloc(FP_LEN);
    const readMore = async (): Promise<number> => {
      const buf = await this.deps.pool.acquire();
      let n: number;
      try {
        carry.copy(buf, 0);
        const room = Math.min(buf.length - carry.length, this.deps.pool.readSize);
        ({ bytesRead: n } = await fh.read(buf, carry.length, room, readPos));
        if (n > 0 && ident.fpLen > 0) {
          // Still the same content? (copytruncate may have happened during the read.) Else discard the read.
          const { bytesRead } = await fh.read(headBuf, 0, ident.fpLen, 0);
          if (!fpMatches(headBuf.subarray(0, bytesRead), ident.fp, ident.fpLen)) n = -1;
        }
        if (n > 0) {
          const base = readPos - carry.length;
          readPos += n;
          carry = this.split(asm, buf, carry.length + n, base);
        }
      } finally {
        this.deps.pool.release(buf);
      }
      if (n > 0) {
        this.deps.stats.bytes(n);
        if (ident.fpLen < FP_LEN && readPos > ident.fpLen) {
          const { bytesRead } = await fh.read(headBuf, 0, FP_LEN, 0);
          if (bytesRead > ident.fpLen) Object.assign(ident, { fp: headBuf.toString('base64', 0, bytesRead), fpLen: bytesRead });
        }
        await this.send(asm, ident);
      }
      return n;
    };
    /** copytruncate: the file got shorter, or its first bytes changed. Reads what was left from the copy. */
    const checkTruncated = async (): Promise<void> => {
      const size = (await fh.stat()).size;
      let truncated = size < readPos;
      if (!truncated && ident.fpLen > 0) {
        // Same size or larger can still be a truncate followed by new writes: compare the first bytes.
        const { bytesRead } = await fh.read(headBuf, 0, ident.fpLen, 0);
        truncated = !fpMatches(headBuf.subarray(0, bytesRead), ident.fp, ident.fpLen);
      }
      if (!truncated) return;
      this.deps.stats.event('truncation');
      const from = readPos - carry.length;
      const fam = await listFamily(this.opts.live, this.deps.files);
      const copy = fam.filter((m) => m.path !== this.opts.live && fpMatches(m.head, ident.fp, ident.fpLen)).pop();
      if (copy) {
        await this.readStream(copy, { path: copy.path, dev: copy.dev, ino: copy.ino, fp: ident.fp, fpLen: ident.fpLen }, from);
      } else {
        if (carry.length > 0) asm.line(carry, 0, carry.length, from, readPos);
        asm.flushAll();
        await this.send(asm, ident);
      }
      // Copies made by later truncations (while we looked away) are read from their start.
      // The head is read before listing: the copy of any truncation it follows is then listed.
      let last = copy?.path;
      for (;;) {
        const { bytesRead } = await fh.read(headBuf, 0, FP_LEN, 0);
        Object.assign(ident, { fp: headBuf.toString('base64', 0, bytesRead), fpLen: bytesRead });
        if (!last || this.stopping) break;
        const now = await listFamily(this.opts.live, this.deps.files);
        const i = now.findIndex((m) => m.path === last);
        const newer = now.slice(i + 1).filter((m) => m.path !== this.opts.live && !(m.dev === ident.dev && m.ino === ident.ino));
        if (i < 0 || newer.length === 0) break;
        for (const m of newer) {
          this.deps.stats.event('truncation');
          await this.readStream(m, { path: m.path, dev: m.dev, ino: m.ino, fp: m.head.toString('base64'), fpLen: m.head.length }, 0);
          last = m.path;
        }
      }
      asm = this.newAssembler(0, ident.path);
      carry = Buffer.alloc(0);
      readPos = 0;
      this.deps.checkpoints.set(this.position(ident, 0));
    };
    let idle = false;
    while (!this.stopping) {
      // After a pause, make sure the file is still the one we were reading before reading on.
      if (idle) await checkTruncated();
      const got = await readMore();
      if (got < 0) {
        await checkTruncated();
        continue;
      }
      if (got > 0) {
        lastData = Date.now();
        delay = POLL_MIN_MS;
        idle = false;
        active();
        continue;
      }
      if (asm.hasPending() && Date.now() - lastData >= this.opts.multilineTimeoutMs) {
        asm.flushMultiline();
        await this.send(asm, ident);
      }
      // End of file: has the live path been rotated away?
      const st = await fs.stat(this.opts.live).catch(() => undefined);
      if (!st || st.ino !== ident.ino || st.dev !== ident.dev || this.draining) {
        while ((await readMore()) > 0 && !this.stopping);
        if (this.stopping) break;
        if (carry.length > 0) asm.line(carry, 0, carry.length, readPos - carry.length, readPos);
        asm.flushAll();
        await this.send(asm, ident);
        this.finish(ident);
        if (this.draining) return 'gone';
        if (st) this.deps.stats.event('rotation');
        return 'rotated';
      }
      idle = true;
      await checkTruncated();
      await this.sleep(delay);
      delay = Math.min(delay * 2, POLL_MAX_MS);
    }
    return 'stopped';
  }
}
