import { describe, expect, it } from 'vitest';
import { AUTO_MULTILINE_PATTERNS, Assembler, splitLines, type AssemblerOptions } from './assembler.js';
import { Utf8String } from '../../../agent/model/point.js';

const opts = (o: Partial<AssemblerOptions> = {}): AssemblerOptions => ({ maxBytes: 1024, multilineMaxLines: 1000, removeAnsi: false, ...o });

/** Feeds whole lines; returns the assembler. */
function feed(a: Assembler, lines: string[], start = 0): number {
  let off = start;
  for (const l of lines) {
    const b = Buffer.from(l);
    a.line(b, 0, b.length, off, off + b.length + 1);
    off += b.length + 1;
  }
  return off;
}

const T = '2024-05-01T10:20:30.1Z';

describe('Assembler', () => {
  it('joins partial lines per stream and keeps the safe offset before held lines', () => {
    const a = new Assembler(opts(), 0);
    const first = `${T} stdout P hel`;
    feed(a, [first, `${T} stderr F other`]);
    expect(a.take().map((r) => r.message)).toEqual(['other']);
    expect(a.safeOffset()).toBe(0);
    const end = feed(a, [`${T} stdout F lo`], Buffer.byteLength(first) + 1 + Buffer.byteLength(`${T} stderr F other`) + 1);
    expect(a.take()).toEqual([{ time: 1714558830100000000n, stream: 'stdout', message: 'hello', lines: 2 }]);
    expect(a.safeOffset()).toBe(end);
  });

  it('force-emits partial lines at the cap', () => {
    const a = new Assembler(opts({ maxBytes: 10 }), 0);
    feed(a, [`${T} stdout P 123456`, `${T} stdout P 789012`, `${T} stdout F 345`]);
    expect(a.take().map((r) => r.message)).toEqual(['1234567890', '12345']);
  });

  it('cuts raw lines that have no newline yet and treats the rest as message text', () => {
    const a = new Assembler(opts({ maxBytes: 1024 }), 0);
    const b = Buffer.from(`${T} stdout F abcdef`);
    a.line(b, 0, b.length, 0, b.length, true);
    const c = Buffer.from('ghi');
    a.line(c, 0, c.length, b.length, b.length + 4);
    expect(a.take().map((r) => [r.message, r.stream])).toEqual([['abcdefghi', 'stdout']]);
  });

  it('groups multiline records by pattern, with a line cap, and flushes on demand', () => {
    const a = new Assembler(opts({ multiline: /^\d{4}-/, multilineMaxLines: 3 }), 0);
    feed(a, ['2024-01-01 start', '  at a', '  at b', '2024-01-01 next', 'x1', 'x2', 'x3', 'x4'].map((m) => `${T} stdout F ${m}`));
    expect(a.take().map((r) => r.message)).toEqual(['2024-01-01 start\n  at a\n  at b', '2024-01-01 next\nx1\nx2']);
    expect(a.hasPending()).toBe(true);
    a.flushMultiline();
    expect(a.take().map((r) => r.message)).toEqual(['x3\nx4']);
  });

  it('sends non-CRI lines as raw text and counts them', () => {
    const a = new Assembler(opts({ removeAnsi: true }), 0);
    feed(a, ['\u001b[31mplain\u001b[0m text', '{"log":"docker\\n","stream":"stderr"}']);
    expect(a.take().map((r) => [r.message, r.stream])).toEqual([
      ['plain text', ''],
      ['docker', 'stderr'],
    ]);
    expect(a.parseErrors).toBe(1);
  });

  it('detects a multiline pattern automatically from the first records, and caps records by bytes', () => {
    const a = new Assembler(opts({ autoMultiline: AUTO_MULTILINE_PATTERNS, multilineMaxBytes: 80 }), 0);
    feed(a, ['plain first', '2024-05-01 10:20:30 ERROR boom', 'java.lang.Exception: x', '\tat A.b(A.java:1)', '2024-05-01 10:20:31 INFO next', 'x'.repeat(60)].map((m) => `${T} stdout F ${m}`));
    a.flushMultiline();
    expect(a.pattern?.source).toBe(AUTO_MULTILINE_PATTERNS[0]!.source);
    expect(a.take().map((r) => r.message)).toEqual(['plain first', '2024-05-01 10:20:30 ERROR boom\njava.lang.Exception: x\n\tat A.b(A.java:1)', '2024-05-01 10:20:31 INFO next', 'x'.repeat(60)]);
  });

  it('leaves lines alone when no pattern matches', () => {
    const a = new Assembler(opts({ autoMultiline: AUTO_MULTILINE_PATTERNS }), 0);
    feed(a, ['a', ' b', 'c'].map((m) => `${T} stdout F ${m}`));
    expect(a.take().map((r) => r.message)).toEqual(['a', ' b', 'c']);
    expect(a.hasPending()).toBe(false);
  });

  it('keeps whole CRI lines as bytes, copied out of the read buffer, and rewritten records as strings', () => {
    const a = new Assembler(opts(), 0);
    const data = Buffer.from(`${T} stdout F whole "line" é\n${T} stderr P par\n${T} stderr F t\n${T} stdout F next\n`);
    splitLines(a, data, data.length, 0, 4096);
    data.fill(0x78); // the read buffer is reused: records must not see it change
    const recs = a.take();
    expect(recs.map((r) => [String(r.message), r.message instanceof Utf8String])).toEqual([
      ['whole "line" é', true],
      ['part', false],
      ['next', true],
    ]);
  });

  it('takes the string path for a chunk that is not valid UTF-8 (replacement characters, as before)', () => {
    const a = new Assembler(opts(), 0);
    const data = Buffer.concat([Buffer.from(`${T} stdout F bad `), Buffer.from([0xff, 0xfe]), Buffer.from('\n')]);
    splitLines(a, data, data.length, 0, 4096);
    const [r] = a.take();
    expect(typeof r!.message).toBe('string');
    expect(r!.message).toBe('bad \ufffd\ufffd');
  });

  it('keeps strings while multiline or ANSI stripping may rewrite the text', () => {
    for (const o of [opts({ removeAnsi: true }), opts({ multiline: /^\d/ }), opts({ autoMultiline: AUTO_MULTILINE_PATTERNS })]) {
      const a = new Assembler(o, 0);
      const data = Buffer.from(`${T} stdout F 1 \u001b[1mx\u001b[0m\n`);
      splitLines(a, data, data.length, 0, 4096);
      a.flushAll();
      expect(a.take().every((r) => typeof r.message === 'string')).toBe(true);
    }
  });
});
