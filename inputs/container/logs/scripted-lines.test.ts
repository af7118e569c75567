/**
 * ScriptedWriter writes a scripted line piece by piece into the LineBuf: its
 * bytes must be those of the line built as one string (the fields walked in
 * order, each key escaped, each value as fieldText()/quoteStr() gives it), for
 * every kind of value, key and message.
 */
import { describe, expect, it } from 'vitest';
import { LineBuf, lineHead } from '../../../agent/model/linebuf.js';
import { escapeKey, fieldText, quoteStr } from '../../../agent/model/lineproto.js';
import { Script } from '../../../agent/services/pipeline/script.js';
import { toJson } from '../../../agent/services/pipeline/value.js';
import { detectStatus } from './parse.js';
import { FAILED, ScriptedWriter } from './scripted-lines.js';

const TAGS = Object.freeze({ host: 'h', service: 'web', stream_tag: 'x' });

/** The line as one string, as the writer wrote it before it wrote piecewise (no own tags, no measurement). */
function oracle(script: Script, msg: string, linesRead: number, filepath: string | undefined, sec: number, ns: number): string | undefined {
  const r = script.run(msg, TAGS);
  if (!r.ok || r.out.dropped) return undefined;
  const o = r.out;
  const own = o.tags;
  let head = lineHead('src', TAGS).toString();
  if ((o.tags !== undefined && o.tags.size > 0) || o.droppedTags !== undefined || o.measurement !== undefined) {
    const t: Record<string, string> = { ...TAGS };
    for (const k of o.droppedTags ?? []) delete t[k];
    for (const [k, v] of o.tags ?? []) t[k] = v;
    head = lineHead(o.measurement ?? 'src', t).toString();
  }
  const m = o.fields.get('message');
  let s = ' ';
  for (const [k, v] of o.fields) {
    if (v === null || k === '' || k === 'log_read_lines' || k === 'filepath' || own?.has(k)) continue;
    const t = typeof v === 'object' ? quoteStr(toJson(v)) : fieldText(v);
    if (t === undefined) continue;
    s += escapeKey(k) + '=' + t + ',';
  }
  s += 'status=' + quoteStr(o.status ?? detectStatus(typeof m === 'string' ? m : msg)) + ',log_read_lines=' + linesRead + 'i';
  if (filepath !== undefined) s += ',filepath=' + quoteStr(filepath);
  return head + s + ' ' + (o.time ?? BigInt(sec) * 1_000_000_000n + BigInt(ns)) + '\n';
}

const SCRIPT = `
grok(_, "%{WORD:w} %{GREEDYDATA:rest}")
add_key(quote, "say \\"hi\\" \\\\ there")
add_key(uni, "ünï ✓")
add_key(bs, "back\\\\slash")
add_key(long, "${'y'.repeat(100)}")
add_key(longq, "${'q'.repeat(80)}\\"")
add_key(f, 1.5)
add_key(whole, 3.0)
add_key(i, 42)
add_key(b, true)
add_key(nada, nil)
add_key(list, [1, "a"])
add_key(\`k e,y=\`, "odd key")
add_key(log_read_lines, "never")
add_key(filepath, "never")
if w == "TAG" { set_tag(tg, "t1") }
if w == "RETAG" { add_key(stream_tag, "now a field?") }
if w == "DEL" { drop_key(i)
  add_key(i, 7) }
if w == "MSG" { add_key(message, "rewritten \\"m\\"") }
if w == "NOMSG" { drop_origin_data() }
if w == "UA" { user_agent(rest, "p_") }
if w == "MEAS" { set_measurement("other") }
cast(f, "float")
z = 0.0
add_key(nan, z / z)
`;

describe('ScriptedWriter', () => {
  const script = Script.compile('t.p', 't.p', SCRIPT, {});
  const msgs = [
    'PLAIN some text',
    'TAG tagged',
    'RETAG x',
    'DEL again',
    'MSG was "quoted" \\',
    'NOMSG gone',
    'UA Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
    'MEAS m',
    'ünï message ✓ with "quotes"',
    'nomatch',
  ];
  for (const withFilepath of [false, true]) {
    it(`writes the bytes of the line built as one string (filepath ${withFilepath})`, () => {
      const w = new ScriptedWriter('src', () => TAGS, withFilepath);
      let n = 0;
      for (const msg of msgs) {
        const b = new LineBuf(64);
        const bytes = Buffer.from('xx' + msg + 'yy');
        const got = w.scripted(b, script, msg, bytes, 2, bytes.length - 2, undefined, 1714557600 + n, 5, 'stdout', ++n, '/a b/"c".log');
        expect(got).not.toBe(FAILED);
        expect(b.data.toString('utf8', 0, b.off)).toBe(oracle(script, msg, n, withFilepath ? '/a b/"c".log' : undefined, 1714557600 + n - 1, 5));
      }
    });
  }
});
