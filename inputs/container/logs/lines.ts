/**
 * Container log records written straight as line protocol (direct mode).
 */
import { nowNs } from '../../../agent/model/point.js';
import { quoteStr } from '../../../agent/model/lineproto.js';
import { LineBuf, lineHead } from '../../../agent/model/linebuf.js';
import type { Script } from '../../../agent/services/pipeline/script.js';
import type { RecordSink } from './assembler.js';
import { detectStatusRange } from './parse.js';
import { runScript } from './scripted.js';

const QUOTE = Buffer.from('"');

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
  /** Stream tags with the core's added, frozen, per stream (scripted lines are written as points). */
  private readonly pointTags = new Map<string, Readonly<Record<string, string>>>();

  constructor(
    private readonly source: string,
    private readonly tagsOf: (stream: string) => Readonly<Record<string, string>>,
    private readonly extra: Readonly<Record<string, string>>,
    private readonly withFilepath: boolean,
    /** The current script of the source (looked up again at each refresh: scripts reload). */
    private readonly scriptOf?: () => Script | undefined,
  ) {
    this.refresh();
  }

  /** Picks up the source's current script; called once per read chunk, never per line. */
  refresh(): void {
    if (this.scriptOf !== undefined) this.script = this.scriptOf();
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
   * A record through the script; false when the script failed on it (the
   * caller writes it raw). Dropped records count as read, not as written.
   */
  private scripted(script: Script, msg: string, time: bigint, stream: string, lines: number, filepath: string): boolean {
    const r = runScript(script, msg, this.source, this.tagsFor(stream), time);
    if (r.kind === 'failed') return false;
    this.linesRead += lines;
    if (r.kind === 'dropped') return true;
    const p = r.point;
    p.fields.log_read_lines = BigInt(this.linesRead);
    if (this.withFilepath) p.fields.filepath = filepath;
    if (this.buf.point(p, time)) this.records++;
    return true;
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
  private write(stream: string, msg: Buffer, start: number, end: number, lines: number, filepath: string): LineBuf {
    const b = this.buf;
    this.records++;
    this.linesRead += lines;
    b.appendBytes(this.head(stream));
    b.appendBytes(QUOTE);
    b.appendEscaped(msg, start, end);
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
        if (script !== undefined && this.scripted(script, buf.toString('utf8', start, end), BigInt(time.sec) * 1_000_000_000n + BigInt(time.ns), stream, 1, filepath)) return;
        const b = this.write(stream, buf, start, end, 1, filepath);
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
        if (script !== undefined && this.scripted(script, typeof r.message === 'string' ? r.message : r.message.toString(), r.time ?? nowNs(), r.stream, r.lines, filepath)) return;
        const msg = typeof r.message === 'string' ? Buffer.from(r.message) : r.message.bytes;
        const b = this.write(r.stream, msg, 0, msg.length, r.lines, filepath);
        b.append(String(r.time ?? nowNs()));
        b.endLine();
      },
    };
  }
}
