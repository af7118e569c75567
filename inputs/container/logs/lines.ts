/**
 * Container log records written straight as line protocol (direct mode).
 */
import { nowNs } from '../../../agent/model/point.js';
import { quoteStr } from '../../../agent/model/lineproto.js';
import { LineBuf, lineHead } from '../../../agent/model/linebuf.js';
import type { RecordSink } from './assembler.js';
import { detectStatusRange } from './parse.js';

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

  constructor(
    private readonly source: string,
    private readonly tagsOf: (stream: string) => Readonly<Record<string, string>>,
    private readonly extra: Readonly<Record<string, string>>,
    private readonly withFilepath: boolean,
  ) {}

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
        const msg = typeof r.message === 'string' ? Buffer.from(r.message) : r.message.bytes;
        const b = this.write(r.stream, msg, 0, msg.length, r.lines, filepath);
        b.append(String(r.time ?? nowNs()));
        b.endLine();
      },
    };
  }
}
