/**
 * Grok → one JavaScript RegExp, compiled once when a script is loaded.
 *
 * `%{NAME}` expands the named pattern, `%{NAME:key}` captures it as `key`,
 * `%{NAME:key:type}` also converts it (`int`, `float`, `str`/`string`, `bool`).
 * Patterns are written in Go's (RE2) syntax, as DataKit's are; the few Go-only
 * forms are translated: `(?P<name>…)` captures, a leading `(?i)`, `(?s)`
 * (dot matches newline, as in GREEDYLINES), `\z`/`\A`, POSIX classes and a
 * leading `]` in a class. Captures become numbered groups mapped to their keys,
 * not JavaScript named groups: grok lets one key appear twice (in two branches
 * of an alternation), which JavaScript named groups do not.
 *
 * Matching is unanchored, like Go's FindStringSubmatch in DataKit.
 */
import { BUILTIN_PATTERNS } from './patterns.js';

export type GrokType = 'str' | 'int' | 'float' | 'bool';

export interface GrokCapture {
  key: string;
  type: GrokType;
}

export interface CompiledGrok {
  re: RegExp;
  flags: string;
  /** captures[i] is the key of group i+1 (undefined for unnamed groups). */
  captures: (GrokCapture | undefined)[];
  source: string;
}

export class GrokError extends Error {}

/** Patterns visible to a grok call: the script's add_pattern() scopes over the built-in library. */
export interface PatternScope {
  lookup(name: string): string | undefined;
}

export const builtinScope: PatternScope = { lookup: (n) => BUILTIN_PATTERNS[n] };

const REF = /%\{([A-Za-z0-9_.\-@]+)(?::([^:}]*))?(?::([A-Za-z]+))?\}/g;
const OPEN = '\u0001';
const SEP = '\u0002';
const CLOSE = '\u0003';

function normType(t: string | undefined): GrokType {
  switch ((t ?? '').toLowerCase()) {
    case '':
    case 'str':
    case 'string':
      return 'str';
    case 'int':
      return 'int';
    case 'float':
      return 'float';
    case 'bool':
      return 'bool';
    default:
      throw new GrokError(`unknown grok type ${JSON.stringify(t)} (int, float, str, bool)`);
  }
}

function expand(pattern: string, scope: PatternScope, stack: string[]): string {
  return pattern.replace(REF, (_m, name: string, key: string | undefined, type: string | undefined) => {
    const def = scope.lookup(name);
    if (def === undefined) throw new GrokError(`no pattern found for %{${name}}`);
    if (stack.includes(name)) throw new GrokError(`grok pattern %{${name}} refers to itself (${[...stack, name].join(' → ')})`);
    const body = expand(def, scope, [...stack, name]);
    if (key) return `${OPEN}${key}${SEP}${normType(type)}${CLOSE}(${body})`;
    return `(?:${body})`;
  });
}

const POSIX: Record<string, string> = {
  alpha: 'A-Za-z',
  digit: '0-9',
  alnum: 'A-Za-z0-9',
  upper: 'A-Z',
  lower: 'a-z',
  space: '\\s',
  punct: '!-\\/:-@\\[-`{-~',
  xdigit: '0-9A-Fa-f',
  word: '\\w',
  blank: ' \\t',
  cntrl: '\\x00-\\x1f\\x7f',
  print: '\\x20-\\x7e',
  graph: '\\x21-\\x7e',
};

/** Go → JavaScript, and the capture map. */
function translate(src: string, keyedOnly = false): { source: string; flags: string; captures: (GrokCapture | undefined)[] } {
  let out = '';
  let flags = '';
  let dotAll = false;
  const captures: (GrokCapture | undefined)[] = [];
  let pendingKey: GrokCapture | undefined;
  let i = 0;
  const n = src.length;
  while (i < n) {
    const c = src[i]!;
    if (c === OPEN) {
      const sep = src.indexOf(SEP, i);
      const close = src.indexOf(CLOSE, sep);
      pendingKey = { key: src.slice(i + 1, sep), type: src.slice(sep + 1, close) as GrokType };
      i = close + 1;
      continue;
    }
    if (c === '\\') {
      const d = src[i + 1];
      if (d === undefined) throw new GrokError('pattern ends with a lone backslash');
      if (d === 'z') out += '$';
      else if (d === 'A') out += '^';
      else if (d === 'Q') {
        const end = src.indexOf('\\E', i + 2);
        const lit = src.slice(i + 2, end < 0 ? n : end);
        out += lit.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
        i = end < 0 ? n : end + 2;
        continue;
      } else out += c + d;
      i += 2;
      continue;
    }
    if (c === '[') {
      // a character class, copied with Go's forms translated
      let j = i + 1;
      let cls = '[';
      if (src[j] === '^') (cls += '^'), j++;
      if (src[j] === ']') (cls += '\\]'), j++;
      for (;;) {
        if (j >= n) throw new GrokError('missing closing ]');
        const d = src[j]!;
        if (d === ']') break;
        if (d === '\\') {
          cls += src.slice(j, j + 2);
          j += 2;
          continue;
        }
        if (d === '[' && src[j + 1] === ':') {
          const end = src.indexOf(':]', j + 2);
          const cname = end > 0 ? src.slice(j + 2, end) : '';
          const neg = cname.startsWith('^');
          const set = POSIX[neg ? cname.slice(1) : cname];
          if (set === undefined || neg) throw new GrokError(`unsupported character class [:${cname}:]`);
          cls += set;
          j = end + 2;
          continue;
        }
        if (d === '[') {
          cls += '\\[';
          j++;
          continue;
        }
        cls += d;
        j++;
      }
      out += cls + ']';
      i = j + 1;
      continue;
    }
    if (c === '(') {
      if (src[i + 1] === '?') {
        const named = /^\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(src.slice(i, i + 80));
        if (named) {
          captures.push({ key: named[1]!, type: 'str' });
          out += '(';
          i += named[0].length;
          pendingKey = undefined;
          continue;
        }
        const fl = /^\(\?([imsU]+)\)/.exec(src.slice(i, i + 10));
        if (fl) {
          for (const f of fl[1]!) {
            if (f === 'i') {
              if (out !== '') throw new GrokError('(?i) is only supported at the start of a pattern');
              flags += 'i';
            } else if (f === 's') dotAll = true;
            else if (f !== 'm') throw new GrokError(`unsupported flag (?${f})`);
          }
          i += fl[0].length;
          continue;
        }
        if (/^\(\?[imsU-]+:/.test(src.slice(i, i + 10))) throw new GrokError('inline flag groups (?flags:…) are not supported');
        out += '(?';
        i += 2;
        continue;
      }
      if (pendingKey === undefined && keyedOnly) {
        // a group that sets no key only groups: V8 then makes no substring for it per match
        out += '(?:';
        i++;
        continue;
      }
      captures.push(pendingKey);
      pendingKey = undefined;
      out += '(';
      i++;
      continue;
    }
    if (c === '.' && dotAll) {
      out += '[\\s\\S]';
      i++;
      continue;
    }
    out += c;
    i++;
  }
  return { source: out, flags, captures };
}

/** Compiles a grok expression against the visible patterns; throws GrokError (unknown pattern, bad regex). */
export function compileGrok(pattern: string, scope: PatternScope = builtinScope): CompiledGrok {
  const expanded = expand(pattern, scope, []);
  // Go's regexp has no backreferences, so grok's unnamed groups only group (the built-in
  // patterns have dozens: YEAR's `(\d\d){1,2}` …) and compile as non-capturing; a pattern
  // that spells `\1` keeps them all (JavaScript would read it as a backreference).
  const { source, flags, captures } = translate(expanded, !/\\[1-9]/.test(expanded));
  let re: RegExp;
  try {
    re = new RegExp(source, flags);
  } catch (e) {
    throw new GrokError(`invalid grok pattern: ${(e as Error).message.replace(/^Invalid regular expression: /, '')}`);
  }
  return { re, flags, captures, source };
}

/**
 * A plain Go regular expression (replace(), match()) as a JavaScript one,
 * every group capturing; throws GrokError when it does not compile.
 */
export function compileGoRegexp(src: string, global = false, capturing = true): { re: RegExp; names: Map<string, number> } {
  const { source, flags, captures } = translate(src, !capturing);
  // `(?P<name>…)` is a plain group here: its name maps to its number
  const names = new Map<string, number>();
  captures.forEach((c, i) => {
    if (c !== undefined && !names.has(c.key)) names.set(c.key, i + 1);
  });
  try {
    return { re: new RegExp(source, flags + (global ? 'g' : '')), names };
  } catch (e) {
    throw new GrokError(`invalid regular expression: ${(e as Error).message.replace(/^Invalid regular expression: /, '')}`);
  }
}

/** Checks that a pattern body (add_pattern) is well formed, resolving references lazily at use. */
export function checkPatternSyntax(pattern: string): void {
  const literal = pattern.replace(REF, '(?:)');
  try {
    new RegExp(translate(literal).source);
  } catch (e) {
    if (e instanceof GrokError) throw e;
    throw new GrokError(`invalid pattern: ${(e as Error).message.replace(/^Invalid regular expression: /, '')}`);
  }
}

const META = new Set(['.', '[', ']', '(', ')', '{', '}', '|', '?', '*', '+', '^', '$', '\\']);

/**
 * Literal pieces every match of a grok pattern must contain: the text at the
 * top level of the pattern between `%{…}` references (outside groups and
 * classes, without a quantifier after it), when the pattern has no top-level
 * alternation. A line lacking one cannot match, so grok() skips the regular
 * expression (an unanchored search over a line the pattern does not fit, such
 * as an access-log pattern over an error line, costs the most).
 */
export function requiredLiterals(pattern: string): string[] {
  const out: string[] = [];
  let run = '';
  let depth = 0;
  const cut = () => {
    if (run.length >= 2) out.push(run);
    run = '';
  };
  for (let i = 0; i < pattern.length; ) {
    const c = pattern[i]!;
    if (c === '%' && pattern[i + 1] === '{') {
      const end = pattern.indexOf('}', i);
      if (end < 0) return [];
      cut();
      i = end + 1;
      continue;
    }
    if (c === '\\') {
      const d = pattern[i + 1];
      if (d === undefined) return [];
      if (depth === 0 && /[^A-Za-z0-9]/.test(d)) run += d;
      else cut(); // \d, \s, \b …: not literal
      i += 2;
    } else if (c === '(') {
      depth++;
      if (depth === 1) cut();
      i++;
    } else if (c === ')') {
      depth--;
      i++;
    } else if (c === '[') {
      cut();
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) return [];
      i = end + 1;
    } else if (c === '|') {
      if (depth === 0) return [];
      i++;
    } else if (c === '?' || c === '*' || c === '{') {
      // the char (or group) before is optional or repeated: drop it from the run
      if (depth === 0) {
        run = run.slice(0, -1);
        cut();
      }
      i++;
    } else {
      if (depth === 0 && !META.has(c)) run += c;
      else if (depth === 0) cut();
      i++;
    }
  }
  cut();
  return out.sort((a, b) => b.length - a.length).slice(0, 4);
}

/** An unbounded any-character run: `.*`, `.+`, `[\s\S]*` (GREEDYDATA, DATA), lazy or not. */
const WILDCARD = /(?:\.|\[\\s\\S\])[*+]/;

/**
 * Splits a translated pattern's top level into items (a character, an escape,
 * a class or a group, each with its quantifier); undefined when it has a
 * top-level alternation or is not well formed.
 */
function topLevelItems(src: string): string[] | undefined {
  const items: string[] = [];
  let i = 0;
  const n = src.length;
  const skipClass = (j: number): number => {
    j++;
    if (src[j] === '^') j++;
    if (src[j] === ']') j++;
    while (j < n && src[j] !== ']') j += src[j] === '\\' ? 2 : 1;
    return j + 1;
  };
  while (i < n) {
    const start = i;
    const c = src[i]!;
    if (c === '|') return undefined;
    if (c === '\\') i += 2;
    else if (c === '[') i = skipClass(i);
    else if (c === '(') {
      let depth = 0;
      while (i < n) {
        const d = src[i]!;
        if (d === '\\') i += 2;
        else if (d === '[') i = skipClass(i);
        else {
          if (d === '(') depth++;
          else if (d === ')') depth--;
          i++;
          if (depth === 0) break;
        }
      }
      if (depth !== 0) return undefined;
    } else i++;
    if (i > n) return undefined;
    // its quantifier, and a lazy one's `?`
    let quantified = false;
    if (src[i] === '{') {
      const q = /^\{\d*(?:,\d*)?\}/.exec(src.slice(i, i + 24));
      if (q) (i += q[0].length), (quantified = true);
    } else if (src[i] === '*' || src[i] === '+' || src[i] === '?') i++, (quantified = true);
    if (quantified && src[i] === '?') i++;
    items.push(src.slice(start, i));
  }
  return items;
}

/**
 * A cheaper test every match of a pattern must pass, for patterns where V8's
 * backtracking makes a failing search costly: two or more unbounded runs
 * (`%{DATA} %{GREEDYDATA} HTTP/%{NUMBER}", host: …` over a line that has the
 * literals but not in that shape backtracks over every split of the text
 * between them). The pattern's top level is cut at every item holding such a
 * run; what follows the last one (`HTTP/%{NUMBER}", host: "%{NOTSPACE}"`) must
 * match somewhere in the line for the whole to match, and has no unbounded run
 * to backtrack over. Undefined when there is no such part (one run, an
 * alternation at the top, a backreference).
 */
export function backtrackGuard(source: string, flags: string): RegExp | undefined {
  if (/\\[1-9]/.test(source)) return undefined;
  const items = topLevelItems(source);
  if (items === undefined) return undefined;
  let runs = 0;
  let last = -1;
  items.forEach((it, i) => {
    if (WILDCARD.test(it)) {
      runs++;
      last = i;
    }
  });
  if (runs < 2) return undefined;
  const tail = items.slice(last + 1).join('');
  // a literal of a few characters is already in requiredLiterals()
  if (tail.length < 8) return undefined;
  try {
    return new RegExp(tail, flags);
  } catch {
    return undefined;
  }
}
