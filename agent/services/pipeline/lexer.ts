/**
 * Tokens of DataKit's Pipeline language (PPL), with their line and column.
 *
 * Comments run from `#` to the end of the line; newlines are whitespace (a
 * statement ends where its expression ends, as in DataKit's own scripts that
 * put two calls on one line). Strings: '…', "…", '''…''', """…""" (the
 * triple-quoted ones are raw); identifiers may be quoted with backticks.
 */
import { PipelineError } from './errors.js';

export type TokKind = 'ident' | 'qident' | 'str' | 'int' | 'float' | 'op' | 'eof';

export interface Token {
  kind: TokKind;
  /** Identifier name, string value, number text or operator. */
  text: string;
  line: number;
  col: number;
}

const KEYWORDS = new Set(['if', 'elif', 'else', 'for', 'in', 'break', 'continue', 'true', 'false', 'nil', 'null']);
export const isKeyword = (s: string): boolean => KEYWORDS.has(s);

const OPS3: readonly string[] = [];
const OPS2 = ['==', '!=', '<=', '>=', '&&', '||', '+=', '-=', '*=', '/='];
const OPS1 = '+-*/%<>=!()[]{},:;.';

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'", '0': '\0', b: '\b', f: '\f', v: '\v', a: '\x07' };

export function tokenize(src: string, file: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const n = src.length;
  const err = (msg: string, at = i): PipelineError => new PipelineError(msg, file, line, at - lineStart + 1);
  while (i < n) {
    const c = src[i]!;
    if (c === '\n') {
      i++;
      line++;
      lineStart = i;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v' || c === '\ufeff') {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < n && src[i] !== '\n') i++;
      continue;
    }
    const startLine = line;
    const col = i - lineStart + 1;
    const push = (kind: TokKind, text: string) => out.push({ kind, text, line: startLine, col });
    if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < n && /[A-Za-z0-9_]/.test(src[j]!)) j++;
      push('ident', src.slice(i, j));
      i = j;
      continue;
    }
    if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j < 0 || src.slice(i + 1, j).includes('\n')) throw err('unterminated `identifier`');
      push('qident', src.slice(i + 1, j));
      i = j + 1;
      continue;
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] ?? ''))) {
      const m = /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?/.exec(src.slice(i, i + 64))!;
      const text = m[0];
      push(/[.eE]/.test(text) ? 'float' : 'int', text);
      i += text.length;
      continue;
    }
    if (c === '"' || c === "'") {
      if (src.startsWith(c.repeat(3), i)) {
        const end = src.indexOf(c.repeat(3), i + 3);
        if (end < 0) throw err('unterminated string');
        const body = src.slice(i + 3, end);
        push('str', body);
        for (let k = 0; k < body.length; k++) if (body[k] === '\n') (line++, (lineStart = i + 3 + k + 1));
        i = end + 3;
        continue;
      }
      let j = i + 1;
      let s = '';
      for (;;) {
        if (j >= n || src[j] === '\n') throw err('unterminated string');
        const d = src[j]!;
        if (d === c) break;
        if (d === '\\') {
          const e = src[j + 1];
          if (e === undefined) throw err('unterminated string');
          if (e === 'x' && /^[0-9a-fA-F]{2}$/.test(src.slice(j + 2, j + 4))) {
            s += String.fromCharCode(parseInt(src.slice(j + 2, j + 4), 16));
            j += 4;
            continue;
          }
          if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(src.slice(j + 2, j + 6))) {
            s += String.fromCharCode(parseInt(src.slice(j + 2, j + 6), 16));
            j += 6;
            continue;
          }
          // An unknown escape keeps its backslash (regular expressions in strings, `"\d"`).
          s += ESCAPES[e] ?? '\\' + e;
          j += 2;
          continue;
        }
        s += d;
        j++;
      }
      push('str', s);
      i = j + 1;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (OPS3.includes(src.slice(i, i + 3))) {
      push('op', src.slice(i, i + 3));
      i += 3;
      continue;
    }
    if (OPS2.includes(two)) {
      push('op', two);
      i += 2;
      continue;
    }
    if (OPS1.includes(c)) {
      push('op', c);
      i++;
      continue;
    }
    throw err(`unexpected character ${JSON.stringify(c)}`);
  }
  out.push({ kind: 'eof', text: '', line, col: i - lineStart + 1 });
  return out;
}
