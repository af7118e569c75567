/** grok(), add_pattern() and json(): the functions that cut a text into keys. */
import type { Expr } from '../ast.js';
import { backtrackGuard, checkPatternSyntax, compileGrok, GrokError, requiredLiterals, type GrokType } from '../grok/compile.js';
import type { Run } from '../runtime.js';
import { fromJson, toJson, type Value } from '../value.js';
import type { CompileCtx, FnSpec } from './types.js';

/** Long inputs check the line's time bound before a match. */
const LONG_INPUT = 4096;

function convert(s: string, t: GrokType): Value {
  switch (t) {
    case 'str':
      return s;
    case 'int': {
      const n = Number(s.trim());
      return Number.isFinite(n) ? BigInt(Math.trunc(n)) : 0n;
    }
    case 'float': {
      const n = Number(s.trim());
      return Number.isFinite(n) ? n : 0;
    }
    case 'bool':
      return /^(1|t|true)$/i.test(s.trim());
  }
}

function constBool(c: CompileCtx, e: Expr | undefined, dflt: boolean): boolean {
  if (e === undefined) return dflt;
  if (e.type === 'bool') return e.value;
  return c.fail(e, 'expected true or false');
}

/**
 * A compiled grok() call site, for the compiler's fusion of two calls over the
 * same input (compile.ts fuseGroks): its keys, its match and how it writes one.
 */
export interface GrokSite {
  /** The key the input is read from (`message` for `_`), when it is an identifier. */
  inputKey: string | undefined;
  /** Whether the input is `_` (the message as it is now), not a variable or key of that name. */
  inputIsMessage: boolean;
  input: (r: Run) => Value;
  /** Keys in group order (a key may repeat when it is in two alternatives). */
  keys: readonly string[];
  /** The literal pre-check and the regular expression over `s`; null when it does not match. */
  match(r: Run, s: string): RegExpExecArray | null;
  /** Writes a match's keys. */
  apply(r: Run, m: RegExpExecArray): void;
  /** Whether key i took part in the match. */
  took(m: RegExpExecArray, i: number): boolean;
  /** The call as the script runs it. */
  run: (r: Run) => Value;
}

const sites = new WeakMap<(r: Run) => Value, GrokSite>();

/** The grok() call site an argument's compiled form is, if it is one. */
export function grokSite(e: (r: Run) => Value): GrokSite | undefined {
  return sites.get(e);
}

export const grok: FnSpec = {
  params: ['input', 'pattern', 'trim_space'],
  min: 2,
  compile(args, c) {
    const input = c.expr(args[0]!);
    const pat = c.literal(args[1]!);
    if (pat === undefined) return c.fail(args[1]!, 'the grok pattern must be a string literal');
    const trim = constBool(c, args[2], true);
    let g;
    try {
      g = compileGrok(pat, c.patterns);
    } catch (e) {
      if (e instanceof GrokError) c.fail(args[1]!, e.message);
      throw e;
    }
    const { re } = g;
    // only the groups that carry a key, in group order
    const groups: number[] = [];
    const keys: string[] = [];
    const types: GrokType[] = [];
    g.captures.forEach((c, i) => {
      if (c === undefined) return;
      groups.push(i + 1);
      keys.push(c.key);
      types.push(c.type);
    });
    const n = groups.length;
    const known = c.known(keys);
    const lits = g.flags.includes('i') ? [] : requiredLiterals(pat);
    // a pattern whose failing search backtracks a lot is tried on its tail first, while the last
    // search here failed (a call site that matches pays nothing for it)
    const guard = backtrackGuard(g.source, g.flags);
    let lastFailed = false;
    const match = (r: Run, s: string): RegExpExecArray | null => {
      for (let i = 0; i < lits.length; i++) if (s.indexOf(lits[i]!) < 0) return null;
      if (s.length > LONG_INPUT) r.checkDeadline();
      if (lastFailed && guard !== undefined && !guard.test(s)) return null;
      const m = re.exec(s);
      lastFailed = m === null;
      return m;
    };
    const apply = (r: Run, m: RegExpExecArray): void => {
      for (let i = 0; i < n; i++) {
        const key = keys[i]!;
        let v = m[groups[i]!];
        // a key seen in two branches: the one that took part wins
        if (v === undefined) {
          if (!r.has(key)) r.set(key, '');
          continue;
        }
        if (trim && v.length > 0 && (v.charCodeAt(0) <= 32 || v.charCodeAt(v.length - 1) <= 32)) v = v.trim();
        const t = types[i]!;
        r.setKnown(known, i, t === 'str' ? v : convert(v, t));
      }
    };
    const run = (r: Run): Value => {
      const s = input(r);
      if (typeof s !== 'string') return false;
      const m = match(r, s);
      if (m === null) return false;
      apply(r, m);
      return true;
    };
    const a0 = args[0]!;
    sites.set(run, {
      inputKey: a0.type === 'ident' ? (a0.name === '_' && !a0.quoted ? 'message' : a0.name) : undefined,
      inputIsMessage: a0.type === 'ident' && a0.name === '_' && !a0.quoted,
      input,
      keys,
      match,
      apply,
      took: (m, i) => m[groups[i]!] !== undefined,
      run,
    });
    return run;
  },
};

export const add_pattern: FnSpec = {
  params: ['name', 'pattern'],
  min: 2,
  compile(args, c) {
    const name = c.literal(args[0]!);
    const pat = c.literal(args[1]!);
    if (name === undefined) return c.fail(args[0]!, 'the pattern name must be a string literal');
    if (pat === undefined) return c.fail(args[1]!, 'the pattern must be a string literal');
    try {
      checkPatternSyntax(pat);
    } catch (e) {
      if (e instanceof GrokError) c.fail(args[1]!, e.message);
      throw e;
    }
    c.addPattern(name, pat);
    return () => null;
  },
};

type PathStep = string | number;

/** `a.b[0]` → ['a', 'b', 0]; `.[0].x` → [0, 'x']. */
function jsonPath(c: CompileCtx, e: Expr): PathStep[] {
  switch (e.type) {
    case 'ident':
      return [e.name];
    case 'str':
      return e.value.split('.');
    case 'attr':
      return [...jsonPath(c, e.obj), e.name];
    case 'index': {
      const base = e.obj === undefined ? [] : jsonPath(c, e.obj);
      if (e.index.type === 'int') return [...base, Number(e.index.value)];
      if (e.index.type === 'str') return [...base, e.index.value];
      return c.fail(e.index, 'a JSON path index must be a number or a string');
    }
  }
  return c.fail(e, 'expected a JSON path (a.b, a[0])');
}

function pathText(p: PathStep[]): string {
  let s = '';
  for (const x of p) s += typeof x === 'number' ? `[${x}]` : s === '' ? x : '.' + x;
  return s;
}

function walk(doc: unknown, path: PathStep[]): { parent: unknown; key: PathStep; value: unknown } | undefined {
  let cur: unknown = doc;
  let parent: unknown;
  let key: PathStep = '';
  for (const step of path) {
    parent = cur;
    key = step;
    if (typeof step === 'number') {
      if (!Array.isArray(cur)) return undefined;
      cur = cur[step < 0 ? cur.length + step : step];
    } else {
      if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
      if (!Object.prototype.hasOwnProperty.call(cur, step)) return undefined;
      cur = (cur as Record<string, unknown>)[step];
    }
    if (cur === undefined) return undefined;
  }
  return { parent, key, value: cur };
}

export const json: FnSpec = {
  params: ['input', 'json_path', 'newkey', 'trim_space', 'delete_after_extract'],
  min: 2,
  compile(args, c) {
    const input = c.expr(args[0]!);
    const inputKey = args[0]!.type === 'ident' ? c.key(args[0]!) : undefined;
    const path = jsonPath(c, args[1]!);
    const newKey = args[2] !== undefined ? c.key(args[2], 'the new key') : pathText(path);
    const trim = constBool(c, args[3], true);
    const del = constBool(c, args[4], false);
    if (del && path.some((p) => typeof p === 'number')) c.fail(args[1]!, 'does not support deleting elements in the list');
    return (r: Run) => {
      const s = input(r);
      if (typeof s !== 'string') return false;
      let doc: unknown;
      if (r.jsonText === s) doc = r.jsonDoc;
      else {
        if (s.length > LONG_INPUT) r.checkDeadline();
        try {
          doc = JSON.parse(s);
        } catch {
          return false;
        }
        r.jsonText = s;
        r.jsonDoc = doc;
      }
      const hit = walk(doc, path);
      if (hit === undefined) return false;
      const v = fromJson(hit.value);
      let out: Value;
      if (typeof v === 'string') out = trim ? v.trim() : v;
      else if (v !== null && typeof v === 'object') out = toJson(v);
      else out = v;
      if (del && typeof hit.key === 'string' && hit.parent !== null && typeof hit.parent === 'object') {
        delete (hit.parent as Record<string, unknown>)[hit.key];
        if (inputKey !== undefined) {
          const text = JSON.stringify(doc);
          r.set(inputKey, text);
          r.jsonText = text;
        }
      }
      r.set(newKey, out);
      return true;
    };
  },
};

