/** replace() and match(): Go regular expressions over a key's text (translated once per call site). */
import { compileGoRegexp, GrokError } from '../grok/compile.js';
import type { Run } from '../runtime.js';
import type { Expr } from '../ast.js';
import type { CompileCtx, FnSpec } from './types.js';

/** The regular expression of a string literal argument, compiled at load; a bad one is a load error. */
function literalRegexp(c: CompileCtx, e: Expr, global: boolean, capturing = true): { re: RegExp; names: Map<string, number> } {
  const src = c.literal(e);
  if (src === undefined) return c.fail(e, 'the regular expression must be a string literal');
  try {
    return compileGoRegexp(src, global, capturing);
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

/** Go's strings.Trim with a cutset ('' trims nothing). */
function trimSet(s: string, set: ReadonlySet<string>): string {
  if (set.size === 0) return s;
  let a = 0;
  let b = s.length;
  while (a < b && set.has(s[a]!)) a++;
  while (b > a && set.has(s[b - 1]!)) b--;
  return s.slice(a, b);
}

function literalOr(c: CompileCtx, e: Expr | undefined, dflt: string, what: string): string {
  if (e === undefined) return dflt;
  const v = c.literal(e);
  if (v === undefined) return c.fail(e, `${what} must be a string literal`);
  return v;
}

/**
 * kv_split(key, field_split_pattern = " ", value_split_pattern = "=", trim_key = "", trim_value = "",
 * include_keys = [], prefix = ""): the key's text split into fields by one regular expression, each
 * field into key and value by the other (at its first match), keys and values trimmed of the given
 * characters; only keys in include_keys are set (none when it is empty), as strings, under `prefix`.
 * True when a key was set.
 */
export const kv_split: FnSpec = {
  params: ['key', 'field_split_pattern', 'value_split_pattern', 'trim_key', 'trim_value', 'include_keys', 'prefix'],
  min: 1,
  compile(args, c) {
    const key = c.key(args[0]!);
    // groups do not capture: String.split() would put their text among the fields (Go's Split does not)
    const fieldRe = args[1] === undefined ? { re: / /g } : literalRegexp(c, args[1], true, false);
    const valueRe = args[2] === undefined ? { re: /=/ } : literalRegexp(c, args[2], false);
    const trimKey = new Set(literalOr(c, args[3], '', 'trim_key'));
    const trimValue = new Set(literalOr(c, args[4], '', 'trim_value'));
    const include = args[5] === undefined ? undefined : c.expr(args[5]);
    const prefix = literalOr(c, args[6], '', 'the prefix');
    return (r: Run) => {
      const v = r.get(key);
      const keys = include?.(r);
      if (typeof v !== 'string' || !Array.isArray(keys) || keys.length === 0) return false;
      const wanted = new Set(keys.filter((k): k is string => typeof k === 'string'));
      if (v.length > 4096) r.checkDeadline();
      let any = false;
      for (const field of v.split(fieldRe.re)) {
        if (field === '') continue;
        const m = valueRe.re.exec(field);
        if (m === null) continue;
        const k = trimSet(field.slice(0, m.index), trimKey);
        if (k === '' || !wanted.has(k)) continue;
        r.set(prefix + k, trimSet(field.slice(m.index + m[0].length), trimValue));
        any = true;
      }
      return any;
    };
  },
};
