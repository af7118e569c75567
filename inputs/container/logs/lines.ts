/**
 * Container log records written straight as line protocol (direct mode).
 */
import { nowNs } from '../../../agent/model/point.js';
import { escapeKey, fieldText, quoteStr } from '../../../agent/model/lineproto.js';
import { LineBuf, lineHead } from '../../../agent/model/linebuf.js';
import type { Script } from '../../../agent/services/pipeline/script.js';
import { toJson } from '../../../agent/services/pipeline/value.js';
import type { RecordSink } from './assembler.js';
import { detectStatus, detectStatusRange } from './parse.js';

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

  /** `source,tags` of a stream's scripted lines (the script kept the measurement and tags). */
  private readonly scriptHeads = new Map<string, Buffer>();
  /** The last scripted line's time and its text (with the space before it). */
  private lastTime: bigint | undefined;
  private lastTimeText = '';
  /** Escaped field keys of scripted lines, with their `=`. */
  private readonly keyTexts = new Map<string, string>();

  private keyText(k: string): string {
    let t = this.keyTexts.get(k);
    if (t === undefined) {
      if (this.keyTexts.size > 1024) this.keyTexts.clear();
      this.keyTexts.set(k, (t = escapeKey(k) + '='));
    }
    return t;
  }

  /**
   * A record through the script, written as the line its point would be
   * (scripted.ts runScript, the points path): the message from the read
   * buffer's bytes when the script left it as it was, the other fields from
   * the script's map. False when the script failed on it (the caller writes it
   * raw). Dropped records count as read, not as written.
   */
  private scripted(script: Script, msg: string, bytes: Buffer | undefined, start: number, end: number, time: bigint | undefined, sec: number, ns: number, stream: string, lines: number, filepath: string): boolean {
    const base = this.tagsFor(stream);
    const r = script.run(msg, base);
    if (!r.ok) return false;
    this.linesRead += lines;
    const o = r.out;
    if (o.dropped) return true;
    const b = this.buf;
    let own: Map<string, string> | undefined;
    if ((o.tags === undefined || o.tags.size === 0) && o.droppedTags === undefined && o.measurement === undefined) {
      let h = this.scriptHeads.get(stream);
      if (h === undefined) this.scriptHeads.set(stream, (h = lineHead(this.source, base)));
      b.appendBytes(h);
    } else {
      const t: Record<string, string> = { ...base };
      for (const k of o.droppedTags ?? []) delete t[k];
      for (const [k, v] of o.tags ?? []) t[k] = v;
      own = o.tags;
      b.appendBytes(lineHead(o.measurement ?? this.source, t));
    }
    const m = o.fields.get('message');
    const rawMessage = m === msg && bytes !== undefined;
    let s = ' ';
    if (rawMessage) {
      b.append(' message="');
      b.appendEscaped(bytes, start, end);
      s = '",';
    }
    for (const [k, v] of o.fields) {
      if (v === null || k === '' || (rawMessage && k === 'message') || k === 'log_read_lines' || k === 'filepath' || own?.has(k)) continue;
      const t = typeof v === 'object' ? quoteStr(toJson(v)) : fieldText(v);
      if (t === undefined) continue;
      s += this.keyText(k) + t + ',';
    }
    s += 'status=' + quoteStr(o.status ?? detectStatus(typeof m === 'string' ? m : msg)) + ',log_read_lines=' + this.linesRead + 'i';
    if (this.withFilepath) s += ',filepath=' + quoteStr(filepath);
    // the record's own time only when the script set none (scripts such as nginx.p do): no BigInt per line
    const t = o.time ?? time ?? BigInt(sec) * 1_000_000_000n + BigInt(ns);
    if (t !== this.lastTime) {
      // lines of one second share default_time()'s answer: its digits too
      this.lastTime = t;
      this.lastTimeText = ' ' + t;
    }
    b.append(s + this.lastTimeText);
    b.endLine();
    this.records++;
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
        if (script !== undefined && this.scripted(script, buf.toString('utf8', start, end), buf, start, end, undefined, time.sec, time.ns, stream, 1, filepath)) return;
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
        if (script !== undefined && this.scripted(script, typeof r.message === 'string' ? r.message : r.message.toString(), typeof r.message === 'string' ? undefined : r.message.bytes, 0, typeof r.message === 'string' ? 0 : r.message.bytes.length, r.time ?? nowNs(), 0, 0, r.stream, r.lines, filepath)) return;
        const msg = typeof r.message === 'string' ? Buffer.from(r.message) : r.message.bytes;
        const b = this.write(r.stream, msg, 0, msg.length, r.lines, filepath);
        b.append(String(r.time ?? nowNs()));
        b.endLine();
      },
    };
  }
}
