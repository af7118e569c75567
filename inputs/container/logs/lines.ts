/**
 * Container log records written straight as line protocol (direct mode).
 */
import { nowNs } from '../../../agent/model/point.js';
import { quoteStr } from '../../../agent/model/lineproto.js';
import { LineBuf, lineHead } from '../../../agent/model/linebuf.js';
import type { Script } from '../../../agent/services/pipeline/script.js';
import type { RecordSink } from './assembler.js';
import { detectStatusRange } from './parse.js';
import { ScriptBatch, type LinesContext, type ScriptThreads } from './script-pool.js';
import { FAILED, ScriptedWriter, WRITTEN } from './scripted-lines.js';

const QUOTE = Buffer.from('"');

let nextCtxId = 1;
const NO_BATCHES: readonly ScriptBatch[] = [];

/** The script workers a LogLines batches its scripted records for. */
export interface LinesThreads {
  pool: ScriptThreads;
  /** A batch's records were sent as they were (its worker died, or the pool closed). */
  onRaw(records: number, reason: string): void;
}

/**
 * A container's records written straight as line protocol, without points:
 * the sink of an assembler in direct mode (inputs/container/logs/assembler.ts),
 * used when the core takes lines as they are (Accumulator.addLinesWait).
 * A whole line's message is escaped from the read buffer itself. The lines
 * are what the core would write for makePointBuilder's points, the core's
 * tags (`extra`) added where a point's own are absent.
 */
export class LogLines {
  readonly buf = new LineBuf(256 << 10);
  /** Records written since the last take. */
  records = 0;
  /** Raw lines read so far (DataKit's `log_read_lines`). */
  linesRead = 0;
  private readonly heads = new Map<string, Buffer>();
  /** `",status="<s>",log_read_lines=` per status, as bytes. */
  private readonly statusBytes = new Map<string, Buffer>();
  /** `i,filepath="..." ` per file (`i ` without the field), as bytes. */
  private readonly afterCount = new Map<string, Buffer>();
  private lastSec = -1;
  private lastSecBytes = Buffer.alloc(0);
  /** The source's Pipeline script as of the last refresh(); undefined: lines are written raw. */
  private script: Script | undefined;
  /** Writes scripted lines (and, for batches back from a dead worker, raw ones). */
  private readonly writer: ScriptedWriter;
  /** Records of the current script go to `batch` (script workers), not to `buf`. */
  private threaded = false;
  private batch: ScriptBatch | undefined;
  private readonly batches: ScriptBatch[] = [];
  /** Identifies this writer's stream context in the workers. */
  private readonly ctxId = nextCtxId++;
  /** Stream tags with the core's added, frozen, per stream (scripted lines are written as points). */
  private readonly pointTags = new Map<string, Readonly<Record<string, string>>>();

  constructor(
    private readonly source: string,
    private readonly tagsOf: (stream: string) => Readonly<Record<string, string>>,
    private readonly extra: Readonly<Record<string, string>>,
    private readonly withFilepath: boolean,
    /** The current script of the source (looked up again at each refresh: scripts reload). */
    private readonly scriptOf?: () => Script | undefined,
    /** Script worker threads: scripted records are batched for them instead of run here. */
    private readonly threads?: LinesThreads,
  ) {
    this.writer = new ScriptedWriter(source, (stream) => this.tagsFor(stream), withFilepath);
    this.refresh();
  }

  /**
   * Where the next `"` and `\` are in the buffer whole lines are read from,
   * at or after `scanFrom` (Infinity: none up to its end): one search per
   * kind runs over a read chunk, instead of two per line (see plain()).
   */
  private scanBuf: Buffer | undefined;
  private scanFrom = 0;
  private nextQuote = -1;
  private nextSlash = -1;

  /**
   * Whether `msg[start, end)` holds neither `"` nor `\`. Whole lines of a
   * chunk come in file order; a buffer refilled with a new chunk is a new
   * scan (refresh()), and so is a different buffer or a line before the last.
   */
  private plain(msg: Buffer, start: number, end: number): boolean {
    if (msg !== this.scanBuf || start < this.scanFrom) {
      this.scanBuf = msg;
      this.nextQuote = this.nextSlash = -1;
    }
    this.scanFrom = start;
    if (this.nextQuote < start) {
      const i = msg.indexOf(34, start);
      this.nextQuote = i < 0 ? Infinity : i;
    }
    if (this.nextSlash < start) {
      const i = msg.indexOf(92, start);
      this.nextSlash = i < 0 ? Infinity : i;
    }
    return this.nextQuote >= end && this.nextSlash >= end;
  }

  /** Picks up the source's current script; called once per read chunk, never per line. */
  refresh(): void {
    // the read buffer holds a new chunk: what was found in it is stale
    this.scanBuf = undefined;
    if (this.scriptOf !== undefined) {
      this.script = this.scriptOf();
      // a script that cannot be compiled from its text alone runs here
      this.threaded = this.threads !== undefined && this.script !== undefined && this.script.recipe() !== undefined;
    }
  }

  private tagsFor(stream: string): Readonly<Record<string, string>> {
    let t = this.pointTags.get(stream);
    if (t === undefined) {
      const tags: Record<string, string> = { ...this.tagsOf(stream) };
      for (const k in this.extra) if (tags[k] === undefined) tags[k] = this.extra[k]!;
      this.pointTags.set(stream, (t = Object.freeze(tags)));
    }
    return t;
  }

  /**
   * A record through the script, written as the line its point would be
   * (scripted-lines.ts). False when the script failed on it (the caller
   * writes it raw). Dropped records count as read, not as written.
   */
  private scripted(script: Script, msg: string, bytes: Buffer | undefined, start: number, end: number, time: bigint | undefined, sec: number, ns: number, stream: string, lines: number, filepath: string): boolean {
    const read = this.linesRead + lines;
    const r = this.writer.scripted(this.buf, script, msg, bytes, start, end, time, sec, ns, stream, read, filepath);
    if (r === FAILED) return false;
    this.linesRead = read;
    if (r === WRITTEN) this.records++;
    return true;
  }

  /**
   * A record for the script workers: copied into the batch of this read,
   * with its `log_read_lines`. Lines come back from runBatch().
   */
  private batched(script: Script, buf: Buffer, start: number, end: number, sec: number, ns: number, stream: string, lines: number, filepath: string): void {
    let b = this.batch;
    if (b === undefined || b.script !== script) {
      // a batch has one script: records after a reload start a new one (sent after this one)
      if (b !== undefined) this.batches.push(b);
      this.batch = b = new ScriptBatch(script);
    }
    this.linesRead += lines;
    b.add(buf, start, end, sec, ns, stream, this.linesRead, filepath);
  }

  /** The batches of records waiting for a script worker, in order (empty when none). */
  takeBatches(): readonly ScriptBatch[] {
    if (this.batch === undefined) return NO_BATCHES;
    this.batches.push(this.batch);
    this.batch = undefined;
    return this.batches.splice(0);
  }

  /**
   * A batch's lines: from a worker, or, when the worker died or the pool is
   * closed, the records as they were (counted by `onRaw`).
   */
  async runBatch(batch: ScriptBatch): Promise<{ data: Uint8Array; ends: ArrayLike<number>; written: number; recycle?: () => void }> {
    const t = this.threads!;
    const streams: LinesContext['tags'] = {};
    for (const s of batch.streams) streams[s] = this.tagsFor(s);
    const r = await t.pool.run(batch, batch.script.recipe()!, { id: this.ctxId, source: this.source, withFilepath: this.withFilepath, tags: streams });
    if (r.ok) {
      batch.script.addStats(r.stats);
      return { data: r.data, ends: r.ends, written: r.written, recycle: () => t.pool.recycle(r.data) };
    }
    const out = new LineBuf(Math.max(64 << 10, batch.bytes * 2));
    for (let i = 0; i < batch.size; i++) {
      const m = batch.message(i);
      this.writer.raw(out, m.data, m.start, m.end, batch.sec[i]!, batch.ns[i]!, batch.streams[batch.stream[i]!]!, batch.reads[i]!, batch.files[batch.file[i]!]!);
    }
    t.onRaw(batch.size, r.reason);
    return { data: out.data, ends: out.ends, written: batch.size };
  }

  /** `source,tags message=` of a stream, as bytes. */
  private head(stream: string): Buffer {
    let h = this.heads.get(stream);
    if (h === undefined) {
      const tags: Record<string, string> = { ...this.tagsOf(stream) };
      for (const k in this.extra) if (tags[k] === undefined) tags[k] = this.extra[k]!;
      h = Buffer.concat([lineHead(this.source, tags), Buffer.from(' message=')]);
      this.heads.set(stream, h);
    }
    return h;
  }

  private statusPart(s: string): Buffer {
    let b = this.statusBytes.get(s);
    if (b === undefined) this.statusBytes.set(s, (b = Buffer.from(`",status="${s}",log_read_lines=`)));
    return b;
  }

  private countPart(filepath: string): Buffer {
    let b = this.afterCount.get(filepath);
    if (b === undefined) {
      if (this.afterCount.size > 64) this.afterCount.clear();
      this.afterCount.set(filepath, (b = Buffer.from(`i${this.withFilepath ? ',filepath=' + quoteStr(filepath) : ''} `)));
    }
    return b;
  }

  /**
   * One record: the message's UTF-8 `msg[start, end)`, escaped, then status,
   * count, file and time. Every piece but the message is cached bytes or
   * digits: nothing is allocated for a whole line.
   */
  private write(stream: string, msg: Buffer, start: number, end: number, lines: number, filepath: string, scan = false): LineBuf {
    const b = this.buf;
    this.records++;
    this.linesRead += lines;
    b.appendBytes(this.head(stream));
    b.appendBytes(QUOTE);
    // scan: a whole line in the read buffer (see plain())
    if (scan) b.appendEscapedKnown(msg, start, end, this.plain(msg, start, end));
    else b.appendEscaped(msg, start, end);
    b.appendBytes(this.statusPart(detectStatusRange(msg, start, end)));
    b.appendUint(this.linesRead);
    b.appendBytes(this.countPart(filepath));
    return b;
  }

  /** The record sink of an assembler reading `filepath`. */
  sinkFor(filepath: string): RecordSink {
    return {
      line: (buf, start, end, time, stream) => {
        const script = this.script;
        if (script !== undefined) {
          if (this.threaded) return this.batched(script, buf, start, end, time.sec, time.ns, stream, 1, filepath);
          if (this.scripted(script, buf.toString('utf8', start, end), buf, start, end, undefined, time.sec, time.ns, stream, 1, filepath)) return;
        }
        const b = this.write(stream, buf, start, end, 1, filepath, true);
        if (time.sec >= 0) {
          if (time.sec !== this.lastSec) {
            // lines of the same second share the digits of their seconds
            this.lastSec = time.sec;
            this.lastSecBytes = Buffer.from(String(time.sec));
          }
          b.appendBytes(this.lastSecBytes);
          b.appendUint(time.ns, 9);
        } else b.append(String(BigInt(time.sec) * 1_000_000_000n + BigInt(time.ns)));
        b.endLine();
      },
      record: (r) => {
        const script = this.script;
        if (script !== undefined && this.threaded) {
          const bytes = typeof r.message === 'string' ? Buffer.from(r.message) : r.message.bytes;
          const t = r.time ?? nowNs();
          return this.batched(script, bytes, 0, bytes.length, Number(t / 1_000_000_000n), Number(t % 1_000_000_000n), r.stream, r.lines, filepath);
        }
        if (script !== undefined && this.scripted(script, typeof r.message === 'string' ? r.message : r.message.toString(), typeof r.message === 'string' ? undefined : r.message.bytes, 0, typeof r.message === 'string' ? 0 : r.message.bytes.length, r.time ?? nowNs(), 0, 0, r.stream, r.lines, filepath)) return;
        const msg = typeof r.message === 'string' ? Buffer.from(r.message) : r.message.bytes;
        const b = this.write(r.stream, msg, 0, msg.length, r.lines, filepath);
        b.append(String(r.time ?? nowNs()));
        b.endLine();
      },
    };
  }
}
