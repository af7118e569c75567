/** replace() and match(): Go regular expressions over a key's text (translated once per call site). */
import { compileGoRegexp, GrokError } from '../grok/compile.js';
import type { Run } from '../runtime.js';
import type { Expr } from '../ast.js';
import type { CompileCtx, FnSpec } from './types.js';

/** The regular expression of a string literal argument, compiled at load; a bad one is a load error. */
function literalRegexp(c: CompileCtx, e: Expr, global: boolean): { re: RegExp; names: Map<string, number> } {
  const src = c.literal(e);
  if (src === undefined) return c.fail(e, 'the regular expression must be a string literal');
  try {
    return compileGoRegexp(src, global);
  } catch (err) {
    if (err instanceof GrokError) c.fail(e, err.message);
    throw err;
  }
}

/**
 * Go's Regexp.Expand template as a replacer: `$1`, `${1}`, `$name`, `${name}`
 * (the longest run of letters, digits and `_` after `$` is the name, so
 * `$1x` is the group named `1x`, empty), `$$` for `$`.
 */
export function goTemplate(tpl: string, names: ReadonlyMap<string, number>): (m: readonly string[]) => string {
  const parts: (string | { ref: string })[] = [];
  let lit = '';
  for (let i = 0; i < tpl.length; i++) {
    const ch = tpl[i]!;
    if (ch !== '$' || i + 1 >= tpl.length) {
      lit += ch;
      continue;
    }
    if (tpl[i + 1] === '$') {
      lit += '$';
      i++;
      continue;
    }
    let name: string | undefined;
    let end = i + 1;
    if (tpl[i + 1] === '{') {
      const close = tpl.indexOf('}', i + 2);
      const n = close < 0 ? '' : tpl.slice(i + 2, close);
      if (close > 0 && /^[A-Za-z0-9_]+$/.test(n)) (name = n), (end = close + 1);
    } else {
      const m = /^[A-Za-z0-9_]+/.exec(tpl.slice(i + 1));
      if (m) (name = m[0]), (end = i + 1 + m[0].length);
    }
    if (name === undefined) {
      lit += ch; // a `$` that starts no reference stays as it is
      continue;
    }
    if (lit) parts.push(lit);
    lit = '';
    parts.push({ ref: name });
    i = end - 1;
  }
  if (lit) parts.push(lit);
  // each reference as a group number (-1: no such group, empty)
  const refs = parts.map((p) => (typeof p === 'string' ? p : /^\d+$/.test(p.ref) ? Number(p.ref) : (names.get(p.ref) ?? -1)));
  return (m) => {
    let s = '';
    for (const p of refs) s += typeof p === 'string' ? p : p < 0 ? '' : (m[p] ?? '');
    return s;
  };
}

export const replace: FnSpec = {
  params: ['key', 'regex', 'replace_str'],
  min: 3,
  compile(args, c) {
    const key = c.key(args[0]!);
    const { re, names } = literalRegexp(c, args[1]!, true);
    const tplText = c.literal(args[2]!);
    if (tplText === undefined) return c.fail(args[2]!, 'the replacement must be a string literal');
    const expand = goTemplate(tplText, names);
    return (r: Run) => {
      const v = r.get(key);
      if (typeof v !== 'string') return null;
      if (v.length > 4096) r.checkDeadline();
      r.set(
        key,
        // (match, g1 … gn, offset, input): no named groups in the translated expression
        v.replace(re, (...a: unknown[]) => expand(a.slice(0, a.length - 2).map((x) => (x === undefined ? '' : String(x))))),
      );
      return null;
    };
  },
};

export const match: FnSpec = {
  params: ['pattern', 's'],
  min: 2,
  compile(args, c) {
    const { re } = literalRegexp(c, args[0]!, false);
    const s = c.expr(args[1]!);
    return (r: Run) => {
      const v = s(r);
      if (typeof v !== 'string') return false;
      if (v.length > 4096) r.checkDeadline();
      return re.test(v);
    };
  },
};
