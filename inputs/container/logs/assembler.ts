/**
 * Turns the raw lines of one log file into log records: parses the line format
 * (CRI, docker json-file or raw text, detected per line), joins runtime-split
 * partial lines, applies the multiline pattern, and caps every record at
 * `maxBytes` (a longer record is force-emitted in pieces).
 *
 * It also knows the checkpoint-safe offset: the file offset before the first
 * raw line that is still held (partial or multiline), so a restart from there
 * re-reads only what was not emitted.
 */
import { isUtf8 } from 'node:buffer';
import { Utf8String } from '../../../agent/model/point.js';
import { parseCriHead, parseDockerJson, partsNs, stripAnsi, type RawEntry, type TimeParts } from './parse.js';

export interface LogRecord {
  time: bigint | undefined;
  stream: string;
  /**
   * The text; as UTF-8 bytes (a copy of the file's) when the record is one
   * whole CRI line that nothing rewrites (no joining, multiline or ANSI
   * stripping): it then goes to line protocol without a JS string.
   */
  message: string | Utf8String;
  /** Raw lines that went into this record. */
  lines: number;
}

export interface AssemblerOptions {
  /** Cap of one record's message (bytes, approximated by UTF-16 length). */
  maxBytes: number;
  /** A line matching this starts a new record; others are appended. */
  multiline?: RegExp | undefined;
  multilineMaxLines: number;
  /** Cap of a multiline record (bytes, approximated by UTF-16 length); defaults to maxBytes. */
  multilineMaxBytes?: number;
  /**
   * Without a multiline pattern: candidate patterns tried on the first
   * records; the first that matches one becomes the file's pattern.
   */
  autoMultiline?: readonly RegExp[] | undefined;
  removeAnsi: boolean;
  /** Lines are plain text (a file an application writes inside its container): no CRI or docker json parsing. */
  raw?: boolean;
}

/** Record-start patterns tried by automatic multiline detection. */
export const AUTO_MULTILINE_PATTERNS: readonly RegExp[] = [
  /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/, // 2024-05-01 10:20 / ISO 8601
  /^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}/, // 2024/05/01 10:20
  /^\[\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/, // [2024-05-01 10:20
  /^[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}/, // syslog: May  1 10:20:30
  /^\d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}/, // 01 May 2024 10:20
  /^[IWEF]\d{4} \d{2}:\d{2}:\d{2}/, // klog
];

/** Records looked at by automatic detection before it gives up. */
const AUTO_MULTILINE_WINDOW = 500;

/**
 * Where an assembler in direct mode writes its records as they are emitted,
 * in file order: whole lines straight from the read buffer, other records
 * from their text (inputs/container/logs/lines.ts LogLines).
 */
export interface RecordSink {
  /** A whole line whose message is `buf[start, end)` (valid UTF-8), used before `buf` is reused. */
  /** `time` is scratch: read it now, do not keep it. */
  line(buf: Buffer, start: number, end: number, time: TimeParts, stream: string): void;
  record(r: LogRecord): void;
}

/** A record's message as a JS string (only the paths that rewrite text need it). */
function text(m: string | Utf8String): string {
  return typeof m === 'string' ? m : m.toString();
}

interface Pending {
  time: bigint | undefined;
  stream: string;
  parts: string[];
  size: number;
  lines: number;
  /** File offset where the first raw line of this record starts. */
  startOffset: number;
}

export class Assembler {
  /** Partial (runtime-split) line being joined, per stream. */
  private readonly partial = new Map<string, Pending>();
  /** Multiline record being built, per stream. */
  private readonly multi = new Map<string, Pending>();
  /** Set while the rest of an oversized raw line (already cut) is still coming. */
  private oversized: { stream: string; time: bigint | undefined } | undefined;
  private out: LogRecord[] = [];
  private consumed = 0;
  /** Lines that did not parse as CRI or docker json (emitted as raw text). */
  parseErrors = 0;
  /** The time of the line being parsed (scratch, reused). */
  private readonly time: TimeParts = { sec: 0, ns: 0 };
  private multiline: RegExp | undefined;
  private autoLeft: number;

  constructor(
    private readonly opts: AssemblerOptions,
    startOffset: number,
    /** Direct mode: records go here as they are emitted, and take() stays empty. */
    private readonly sink?: RecordSink,
  ) {
    this.consumed = startOffset;
    this.multiline = opts.multiline;
    this.autoLeft = opts.multiline || !opts.autoMultiline?.length ? 0 : AUTO_MULTILINE_WINDOW;
  }

  /** The multiline pattern in use (configured or detected). */
  get pattern(): RegExp | undefined {
    return this.multiline;
  }

  /**
   * Feeds one raw line `buf[start, end)` (without `\n`) that ends at file offset
   * `endOffset` (after its `\n`). `cut` marks a piece of an oversized line whose
   * end has not been read yet.
   */
  line(buf: Buffer, start: number, end: number, lineStart: number, endOffset: number, cut = false, bytes?: Buffer): void {
    if (this.oversized) {
      // Continuation of a raw line that was too long: its bytes are message text.
      const o = this.oversized;
      if (!cut) this.oversized = undefined;
      this.entry({ time: o.time, stream: o.stream, partial: cut, message: buf.toString('utf8', start, end) }, lineStart, endOffset);
      return;
    }
    if (end > start && buf[end - 1] === 0x0d) end--; // CRLF
    const t = this.time;
    const h = this.opts.raw ? undefined : parseCriHead(buf, start, end, t);
    let e: RawEntry | undefined;
    if (this.opts.raw) {
      e = { time: undefined, stream: '', partial: false, message: buf.toString('utf8', start, end) };
    } else if (h) {
      if (bytes !== undefined && !cut && !h.partial && end - h.msgStart <= this.opts.maxBytes && this.takesBytes(h.stream)) {
        // A whole line that nothing rewrites: its bytes (valid UTF-8, checked per chunk) are the message.
        if (this.sink) this.sink.line(buf, h.msgStart, end, t, h.stream);
        else this.emit({ time: partsNs(t), stream: h.stream, message: new Utf8String(bytes.subarray(h.msgStart, end)), lines: 1 });
        this.advance(endOffset);
        return;
      }
      e = { time: partsNs(t), stream: h.stream, partial: h.partial, message: buf.toString('utf8', h.msgStart, end) };
    } else {
      if (buf[start] === 0x7b) e = parseDockerJson(buf.toString('utf8', start, end));
      if (!e) {
        this.parseErrors++;
        e = { time: undefined, stream: '', partial: false, message: buf.toString('utf8', start, end) };
      }
    }
    if (cut) {
      this.oversized = { stream: e.stream, time: e.time };
      e.partial = true;
    }
    this.entry(e, lineStart, endOffset);
  }

  /** Whether a whole line of `stream` can go out as it is: nothing held to join it to, no multiline, no ANSI stripping. */
  private takesBytes(stream: string): boolean {
    return this.multiline === undefined && this.autoLeft === 0 && !this.opts.removeAnsi && (this.partial.size === 0 || !this.partial.has(stream));
  }

  private entry(e: RawEntry, lineStart: number, endOffset: number): void {
    const max = this.opts.maxBytes;
    let p = this.partial.get(e.stream);
    if (e.partial || p) {
      if (!p) {
        p = { time: e.time, stream: e.stream, parts: [], size: 0, lines: 0, startOffset: lineStart };
        this.partial.set(e.stream, p);
      }
      p.parts.push(e.message);
      p.size += e.message.length;
      p.lines++;
      if (e.partial && p.size < max) {
        this.advance(endOffset);
        return;
      }
      this.partial.delete(e.stream);
      let msg = p.parts.join('');
      while (msg.length > max) {
        // Over the cap: force-emit full-size pieces.
        this.record({ time: p.time, stream: p.stream, message: msg.slice(0, max), lines: 0 }, p.startOffset);
        msg = msg.slice(max);
      }
      if (e.partial) {
        // The remainder stays pending and keeps joining the following pieces.
        this.partial.set(e.stream, { ...p, parts: [msg], size: msg.length, lines: p.lines });
        this.advance(endOffset);
        return;
      }
      this.record({ time: p.time, stream: p.stream, message: msg, lines: p.lines }, p.startOffset);
    } else {
      this.record({ time: e.time, stream: e.stream, message: e.message, lines: 1 }, lineStart);
    }
    this.advance(endOffset);
  }

  /** A complete (joined) line enters multiline handling. */
  private record(r: LogRecord, startOffset: number): void {
    if (this.autoLeft > 0) {
      this.autoLeft--;
      const t = text(r.message);
      this.multiline = this.opts.autoMultiline!.find((p) => p.test(t));
      if (this.multiline) this.autoLeft = 0;
    }
    const re = this.multiline;
    if (!re) {
      this.emit(r);
      return;
    }
    const m = this.multi.get(r.stream);
    const t = text(r.message);
    if (m && !re.test(t) && m.lines < this.opts.multilineMaxLines && m.size + t.length + 1 <= (this.opts.multilineMaxBytes ?? this.opts.maxBytes)) {
      m.parts.push(t);
      m.size += t.length + 1;
      m.lines += r.lines;
      return;
    }
    if (m) this.flushMulti(m);
    this.multi.set(r.stream, { time: r.time, stream: r.stream, parts: [t], size: t.length, lines: r.lines, startOffset });
  }

  private flushMulti(m: Pending): void {
    this.multi.delete(m.stream);
    this.emit({ time: m.time, stream: m.stream, message: m.parts.join('\n'), lines: m.lines });
  }

  private emit(r: LogRecord): void {
    if (this.opts.removeAnsi) r.message = stripAnsi(text(r.message));
    if (this.sink) this.sink.record(r);
    else this.out.push(r);
  }

  /** Whether whole lines go to the record sink as bytes (it then needs no copy of the read buffer). */
  get direct(): boolean {
    return this.sink !== undefined;
  }

  private advance(endOffset: number): void {
    this.consumed = endOffset;
  }

  /** Emits every multiline record still held (timeout or end of file). Partial runtime lines stay. */
  flushMultiline(): void {
    for (const m of [...this.multi.values()]) this.flushMulti(m);
  }

  /** Emits everything held, partial lines included (the file is finished). */
  flushAll(): void {
    for (const p of [...this.partial.values()]) {
      this.partial.delete(p.stream);
      this.record({ time: p.time, stream: p.stream, message: p.parts.join(''), lines: p.lines }, p.startOffset);
    }
    this.oversized = undefined;
    this.flushMultiline();
  }

  hasPending(): boolean {
    return this.multi.size > 0 || this.partial.size > 0;
  }

  /** Takes the records emitted so far. */
  take(): LogRecord[] {
    const o = this.out;
    this.out = [];
    return o;
  }

  /** The offset a restart may resume from without losing held lines. */
  safeOffset(): number {
    let min = this.consumed;
    for (const p of this.partial.values()) min = Math.min(min, p.startOffset);
    for (const m of this.multi.values()) min = Math.min(min, m.startOffset);
    return min;
  }
}

/**
 * Feeds the complete lines of `data[0,len)` (whose first byte is at file offset
 * `base`) to the assembler, cuts what has no newline within `cut` bytes, and
 * returns a copy of the bytes left over (the start of the next line).
 */
export function splitLines(asm: Assembler, data: Buffer, len: number, base: number, cut: number): Buffer {
  let pos = 0;
  // The complete lines, copied once when they are valid UTF-8 (`data` is a reused read buffer):
  // whole lines then keep their message as bytes, views of this copy.
  // (In direct mode the sink writes each line before `data` is reused: no copy.)
  const last = data.lastIndexOf(10, len - 1);
  const valid = last > 0 && isUtf8(data.subarray(0, last + 1));
  const bytes = !valid ? undefined : asm.direct ? data : Buffer.from(data.subarray(0, last + 1));
  for (;;) {
    const nl = data.indexOf(10, pos);
    if (nl < 0 || nl >= len) break;
    asm.line(data, pos, nl, base + pos, base + nl + 1, false, bytes);
    pos = nl + 1;
  }
  while (len - pos >= cut) {
    asm.line(data, pos, pos + cut, base + pos, base + pos + cut, true);
    pos += cut;
  }
  return Buffer.from(data.subarray(pos, len));
}
