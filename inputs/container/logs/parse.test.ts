import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Utf8String } from '../../../agent/model/point.js';
import { detectStatus, parseCriHead, parseDockerJson, parseRfc3339Nano, parseRfc3339Parts, partsNs, stripAnsi, type TimeParts } from './parse.js';

/** A CRI line as an entry: its head, the time in ns and the message decoded. */
const cri = (s: string) => {
  const b = Buffer.from(s);
  const t: TimeParts = { sec: 0, ns: 0 };
  const h = parseCriHead(b, 0, b.length, t);
  return h && { time: partsNs(t), stream: h.stream, partial: h.partial, message: b.toString('utf8', h.msgStart) };
};

describe('parseRfc3339Nano', () => {
  it('keeps nanoseconds and honours offsets', () => {
    expect(parseRfc3339Nano('2024-05-01T10:20:30.123456789Z')).toBe(1714558830123456789n);
    expect(parseRfc3339Nano('2024-05-01T10:20:30Z')).toBe(1714558830000000000n);
    expect(parseRfc3339Nano('2024-05-01T10:20:30.5Z')).toBe(1714558830500000000n);
    expect(parseRfc3339Nano('2024-05-01T18:20:30.000000001+08:00')).toBe(1714558830000000001n);
    expect(parseRfc3339Nano('2024-05-01T05:20:30-05:00')).toBe(1714558830000000000n);
  });
  it('has a bytes version that agrees', () => {
    for (const s of ['2024-05-01T10:20:30.123456789Z', '2024-05-01T10:20:30Z', '2024-05-01T10:20:30.5Z', '2024-05-01T18:20:30.000000001+08:00', '2024-05-01T05:20:30-05:00', '2024-05-01T10:20:30.1234567891Z', '2024-05-01T10:20:31.999999999Z', 'x024-05-01T10:20:30Z', '2024-05-01T10:20:30', '2024-05-01T10:20:30Zjunk', 'hello world this is text']) {
      const b = Buffer.from(`ab${s}cd`);
      const t: TimeParts = { sec: 0, ns: 0 };
      expect(parseRfc3339Parts(b, 2, b.length - 2, t) ? partsNs(t) : undefined, s).toBe(parseRfc3339Nano(s));
    }
  });
  it('rejects what is not a timestamp', () => {
    for (const s of ['', 'hello world this is text', '2024-05-01 10:20:30Z', '2024-05-01T10:20:30', '2024-05-01T10:20:30Zjunk']) expect(parseRfc3339Nano(s)).toBeUndefined();
  });
});

describe('parseCriHead', () => {
  it('parses full and partial lines, and empty messages', () => {
    expect(cri('2024-05-01T10:20:30.1Z stdout F hello world')).toEqual({ time: 1714558830100000000n, stream: 'stdout', partial: false, message: 'hello world' });
    expect(cri('2024-05-01T10:20:30.1Z stderr P part ')).toMatchObject({ stream: 'stderr', partial: true, message: 'part ' });
    expect(cri('2024-05-01T10:20:30.1Z stdout F')).toMatchObject({ message: '' });
    expect(cri('2024-05-01T10:20:30.1Z stdout F:x tagged')).toMatchObject({ partial: false, message: 'tagged' });
  });
  it('rejects non-CRI lines', () => {
    for (const s of ['plain text line', '2024-05-01T10:20:30.1Z stdout X msg', '{"log":"x"}', '', 'a b']) expect(cri(s)).toBeUndefined();
  });
});

describe('parseDockerJson', () => {
  it('parses lines, marks split pieces as partial', () => {
    expect(parseDockerJson('{"log":"hi\\n","stream":"stderr","time":"2024-05-01T10:20:30.000000001Z"}')).toEqual({ time: 1714558830000000001n, stream: 'stderr', partial: false, message: 'hi' });
    expect(parseDockerJson('{"log":"piece","stream":"stdout","time":"2024-05-01T10:20:30Z"}')).toMatchObject({ partial: true, message: 'piece' });
    expect(parseDockerJson('{"log":"crlf\\r\\n"}')).toMatchObject({ message: 'crlf', stream: '' });
  });
  it('rejects bad json', () => {
    for (const s of ['{', '{"log":1}', '[]', 'x', '{"msg":"x"}']) expect(parseDockerJson(s)).toBeUndefined();
  });
});

describe('stripAnsi', () => {
  it('removes colour, cursor and OSC sequences', () => {
    expect(stripAnsi('\u001b[1;31mred\u001b[0m \u001b[2Kline \u001b]0;title\u0007done')).toBe('red line done');
    expect(stripAnsi('plain')).toBe('plain');
  });
});

describe('detectStatus', () => {
  it.each([
    ['ERROR failed to connect', 'error'],
    ['[WARN] disk almost full', 'warning'],
    ['2024-05-01 10:20:30.123 INFO  started', 'info'],
    ['level=debug msg="x"', 'debug'],
    ['{"level":"error","msg":"x"}', 'error'],
    ['E0501 10:20:30.123456 1 reflector.go:1] failed', 'error'],
    ['I0501 10:20:30.123456 1 main.go:1] error count 0', 'info'],
    ['W0501 10:20:30.123456 1 main.go:1] x', 'warning'],
    ['FATAL: out of memory', 'critical'],
    ['panic: runtime error', 'critical'],
    ['NOTICE: maintenance', 'notice'],
    ['hello world', 'unknown'],
    ['GET /errors 200', 'unknown'],
    ['trace_id=abc ok', 'unknown'],
    ['constructor toString hasOwnProperty', 'unknown'],
    ['warn', 'warning'],
    ['x'.repeat(100) + ' ERROR', 'unknown'],
  ])('%s → %s', (line, status) => {
    expect(detectStatus(line)).toBe(status);
    expect(detectStatus(new Utf8String(Buffer.from(line)))).toBe(status);
  });

  it('decides the same from UTF-8 bytes as from the string (property)', () => {
    const word = fc.constantFrom('ERROR', 'warn', 'Info', 'debug', 'fatal', 'x', 'ü', '✓', '[', ']', ' ', '=', 'level=', '"', 'I0501 10:20:30.1 ', 'informational', 'a'.repeat(60));
    fc.assert(
      fc.property(fc.array(word, { maxLength: 30 }).map((w) => w.join('')), (line) => {
        expect(detectStatus(new Utf8String(Buffer.from(line)))).toBe(detectStatus(line));
      }),
      { numRuns: 2000, seed: 3 },
    );
  });
});
