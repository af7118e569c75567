/**
 * A container log record through its Pipeline script, written as line
 * protocol: the line its point would be (scripted.ts runScript, the points
 * path). Shared by the direct path on the main thread (lines.ts LogLines) and
 * the script worker threads (script-worker.ts), so both write the same bytes.
 */
import { escapeKey, fieldText, quoteStr } from '../../../agent/model/lineproto.js';
import { lineHead, type LineBuf } from '../../../agent/model/linebuf.js';
import { MESSAGE, type KeyTable } from '../../../agent/services/pipeline/fields.js';
import type { Script } from '../../../agent/services/pipeline/script.js';
import { toJson } from '../../../agent/services/pipeline/value.js';
import { detectStatus, detectStatusRange } from './parse.js';

/** What happened to a record: the script failed on it (write it raw), dropped it, or it was written. */
export const FAILED = 0;
export const DROPPED = 1;
export const WRITTEN = 2;
export type ScriptedOutcome = typeof FAILED | typeof DROPPED | typeof WRITTEN;

/** The key bytes of a key that is never written as a field of a scripted line (see neverField). */
const SKIP = Buffer.alloc(0);

/** Keys the writer adds itself (`log_read_lines`, `filepath`) or cannot write (''): never taken from the script's fields. */
function neverField(k: string): boolean {
  return k === '' || k === 'log_read_lines' || k === 'filepath';
}
const MESSAGE_HEAD = Buffer.from(' message="');
const QUOTE_COMMA = Buffer.from('",');
const SPACE = Buffer.from(' ');
const COMMA = Buffer.from(',');
const INT_SUFFIX = Buffer.from('i');
const STATUS_KEY = Buffer.from('status=');
const READ_LINES_KEY = Buffer.from(',log_read_lines=');

export class ScriptedWriter {
  /** `source,tags` of a stream's scripted lines (the script kept the measurement and tags). */
  private readonly scriptHeads = new Map<string, Buffer>();
  /** `source,tags message="` of a stream's raw lines. */
  private readonly rawHeads = new Map<string, Buffer>();
  /** The last scripted line's time and its text (with the space before it). */
  private lastTime: bigint | undefined;
  private lastTimeText: Buffer = Buffer.alloc(0);
  /** Escaped field keys of scripted lines made at run time, with their `=`, as UTF-8. */
  private readonly keyTexts = new Map<string, Buffer>();
  /** The same for the keys of the last script's KeyTable, by slot (SKIP: a key never written). */
  private table: KeyTable | undefined;
  private tableKeys: Buffer[] = [];

  constructor(
    private readonly source: string,
    /** A stream's tags with the core's added, frozen (the same object for every line of the stream). */
    private readonly tagsFor: (stream: string) => Readonly<Record<string, string>>,
    private readonly withFilepath: boolean,
  ) {}

  private keyBytes(k: string): Buffer {
    let t = this.keyTexts.get(k);
    if (t === undefined) {
      if (this.keyTexts.size > 1024) this.keyTexts.clear();
      this.keyTexts.set(k, (t = Buffer.from(escapeKey(k) + '=')));
    }
    return t;
  }

  /** The key bytes of a table's slots (SKIP for keys a scripted line never carries as fields). */
  private keysOf(table: KeyTable): Buffer[] {
    if (table === this.table) return this.tableKeys;
    this.table = table;
    return (this.tableKeys = table.keys.map((k) => (neverField(k) ? SKIP : Buffer.from(escapeKey(k) + '='))));
  }

  /**
   * Runs `script` over `msg` and writes its line into `b`: the message from
   * the read buffer's bytes when the script left it as it was, the other
   * fields from the script's map. `linesRead` is DataKit's `log_read_lines`
   * with this record counted; the time is the script's, else `time`, else
   * `sec`/`ns`.
   */
  scripted(b: LineBuf, script: Script, msg: string, bytes: Buffer | undefined, start: number, end: number, time: bigint | undefined, sec: number, ns: number, stream: string, linesRead: number, filepath: string): ScriptedOutcome {
    const base = this.tagsFor(stream);
    const r = script.run(msg, base);
    if (!r.ok) return FAILED;
    const o = r.out;
    if (o.dropped) return DROPPED;
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
    const f = o.fields;
    const m = f.getSlot(MESSAGE);
    const rawMessage = m === msg && bytes !== undefined;
    if (rawMessage) {
      b.appendSmall(MESSAGE_HEAD);
      b.appendEscaped(bytes, start, end);
      b.appendSmall(QUOTE_COMMA);
    } else b.appendSmall(SPACE);
    const keys = this.keysOf(f.table);
    const { order, vals } = f;
    for (let j = 0; j < order.length; j++) {
      const slot = order[j]!;
      const v = vals[slot];
      if (v === undefined || v === null || !f.live(j) || (rawMessage && slot === MESSAGE)) continue;
      let key = slot < keys.length ? keys[slot]! : undefined;
      if (key === SKIP) continue;
      if (own !== undefined && own.has(f.keyOf(slot))) continue;
      if (typeof v === 'number' && !Number.isFinite(v)) continue;
      if (key === undefined) {
        const k = f.keyOf(slot);
        if (neverField(k)) continue;
        key = this.keyBytes(k);
      }
      b.appendSmall(key);
      switch (typeof v) {
        case 'string':
          b.appendQuoted(v);
          break;
        case 'bigint':
          b.appendAscii(v.toString());
          b.appendSmall(INT_SUFFIX);
          break;
        case 'number':
        case 'boolean':
          b.appendAscii(fieldText(v)!);
          break;
        default:
          b.appendQuoted(toJson(v));
      }
      b.appendSmall(COMMA);
    }
    b.appendSmall(STATUS_KEY);
    b.appendQuoted(o.status ?? detectStatus(typeof m === 'string' ? m : msg));
    b.appendSmall(READ_LINES_KEY);
    b.appendUint(linesRead);
    b.appendSmall(INT_SUFFIX);
    if (this.withFilepath) b.append(',filepath=' + quoteStr(filepath));
    // the record's own time only when the script set none (scripts such as nginx.p do): no BigInt per line
    const t = o.time ?? time ?? BigInt(sec) * 1_000_000_000n + BigInt(ns);
    if (t !== this.lastTime) {
      // lines of one second share default_time()'s answer: its digits too
      this.lastTime = t;
      this.lastTimeText = Buffer.from(' ' + t);
    }
    b.appendSmall(this.lastTimeText);
    b.endLine();
    return WRITTEN;
  }

  /** A record as it was (the script failed on it): the line LogLines writes for a source without a script. */
  raw(b: LineBuf, msg: Buffer, start: number, end: number, sec: number, ns: number, stream: string, linesRead: number, filepath: string): void {
    let h = this.rawHeads.get(stream);
    if (h === undefined) this.rawHeads.set(stream, (h = Buffer.concat([lineHead(this.source, this.tagsFor(stream)), Buffer.from(' message="')])));
    b.appendBytes(h);
    b.appendEscaped(msg, start, end);
    b.append(`",status="${detectStatusRange(msg, start, end)}",log_read_lines=`);
    b.appendUint(linesRead);
    b.append(`i${this.withFilepath ? ',filepath=' + quoteStr(filepath) : ''} `);
    if (sec >= 0) {
      b.append(String(sec));
      b.appendUint(ns, 9);
    } else b.append(String(BigInt(sec) * 1_000_000_000n + BigInt(ns)));
    b.endLine();
  }
}
