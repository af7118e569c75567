import { describe, expect, it } from 'vitest';
import { decodeLines } from '../../../agent/model/lineproto.js';
import { LogLines } from './lines.js';

/** The messages LogLines wrote, decoded back. */
function messages(lines: LogLines): unknown[] {
  const b = lines.buf;
  return decodeLines(b.data.toString('utf8', 0, b.off)).map((p) => p.fields.message);
}

/** `text` as one read buffer, and the [start, end) of each `|`-separated piece. */
function chunk(buf: Buffer, text: string): [number, number][] {
  buf.fill(0x20);
  buf.write(text);
  const out: [number, number][] = [];
  let s = 0;
  for (const piece of text.split('|')) {
    out.push([s, s + Buffer.byteLength(piece)]);
    s += Buffer.byteLength(piece) + 1;
  }
  return out;
}

describe('LogLines, whole lines from the read buffer', () => {
  it('escapes exactly the lines with a quote or a backslash, across chunks refilled into the same buffer and lines out of order', () => {
    const lines = new LogLines('app', () => ({ s: 'x' }), {}, false);
    const sink = lines.sinkFor('/var/log/pods/a/0.log');
    const time = { sec: 1714557600, ns: 5 };
    const buf = Buffer.alloc(256);
    const want: string[] = [];
    const feed = (text: string, order?: number[]) => {
      const pieces = text.split('|');
      const spans = chunk(buf, text);
      for (const i of order ?? pieces.map((_, k) => k)) {
        sink.line(buf, spans[i]![0], spans[i]![1], time, 'stdout');
        want.push(pieces[i]!);
      }
    };
    // one chunk: plain lines around quoted and backslashed ones
    lines.refresh();
    feed('plain a|has "q" here|plain b|back\\slash|plain c|"|\\|end');
    // the next chunk in the same buffer (as the read pool reuses it): quotes where the last chunk had none,
    // none where it had them — what was found in the last chunk must not be used
    lines.refresh();
    feed('x "moved" quote|plain plain plain|tail \\ here|ok');
    // a chunk of one plain line, then one whose first line (at the same offset) has a quote
    lines.refresh();
    feed('only plain');
    lines.refresh();
    feed('"at" the start|and \\ more');
    // without a refresh, a line before the last one of the buffer (and one after)
    feed('first "q"|second|third \\', [2, 0, 1]);
    expect(messages(lines)).toEqual(want);
  });
});
