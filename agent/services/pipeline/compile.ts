/**
 * Compiles a script's syntax tree into closures, once, when it is loaded:
 * every function name, argument count, key argument and grok pattern is
 * checked here, so a script that loads does not fail on its shape at run time.
 */
import type { Expr, Stmt } from './ast.js';
import { PipelineError } from './errors.js';
import { grokSite } from './functions/extract.js';
import { FUNCTIONS } from './functions/index.js';
import type { CompileCtx, Eval } from './functions/types.js';
import { builtinScope, type PatternScope } from './grok/compile.js';
import { KeyTable, MESSAGE } from './fields.js';
import { KnownKeys, type Run } from './runtime.js';
import { LOCAL, type Zone } from './timeparse.js';
import { equal, isNumber, toText, truthy, type Value } from './value.js';

/** 0: go on, 1: break, 2: continue. */
export type Exec = (r: Run) => 0 | 1 | 2;

export interface CompileOptions {
  /** Zone of time text without one (default: the process's local zone, as DataKit uses the host's). */
  timezone?: Zone;
}

function arith(op: string, a: Value, b: Value): Value {
  if (op === '+' && (typeof a === 'string' || typeof b === 'string')) {
    if (typeof a === 'string' && typeof b === 'string') return a + b;
    throw new Error(`cannot add ${typeof a === 'string' ? 'a string' : 'a number'} and ${typeof b === 'string' ? 'a string' : 'a number'}`);
  }
  if (!isNumber(a) || !isNumber(b)) throw new Error(`operator ${op} needs numbers`);
  if (typeof a === 'bigint' && typeof b === 'bigint') {
    switch (op) {
      case '+':
        return a + b;
      case '-':
        return a - b;
      case '*':
        return a * b;
      case '/':
        if (b === 0n) throw new Error('division by zero');
        return a / b;
      case '%':
        if (b === 0n) throw new Error('division by zero');
        return a % b;
    }
  }
  const x = Number(a);
  const y = Number(b);
  switch (op) {
    case '+':
      return x + y;
    case '-':
      return x - y;
    case '*':
      return x * y;
    case '/':
      return x / y;
    default:
      return x % y;
  }
}

function compare(op: string, a: Value, b: Value): boolean {
  switch (op) {
    case '==':
      return equal(a, b);
    case '!=':
      return !equal(a, b);
  }
  const ok = (isNumber(a) && isNumber(b)) || (typeof a === 'string' && typeof b === 'string');
  if (!ok) return false;
  const x = a as number | bigint | string;
  const y = b as number | bigint | string;
  switch (op) {
    case '<':
      return x < y;
    case '<=':
      return x <= y;
    case '>':
      return x > y;
    default:
      return x >= y;
  }
}

function contains(container: Value, item: Value): boolean {
  if (Array.isArray(container)) return container.some((x) => equal(x, item));
  if (typeof container === 'string') return typeof item === 'string' && container.includes(item);
  if (container !== null && typeof container === 'object') return typeof item === 'string' && Object.prototype.hasOwnProperty.call(container, item);
  return false;
}

function indexOf(obj: Value, i: Value): Value {
  if (Array.isArray(obj) && isNumber(i)) {
    const n = Number(i);
    return obj[n < 0 ? obj.length + n : n] ?? null;
  }
  if (obj !== null && typeof obj === 'object' && !Array.isArray(obj) && typeof i === 'string') return Object.prototype.hasOwnProperty.call(obj, i) ? obj[i]! : null;
  return null;
}

/** A statement that does nothing when run: add_pattern() acts when the script is compiled. */
function runsNothing(s: Stmt): boolean {
  return s.type === 'expr' && s.expr.type === 'call' && s.expr.name.toLowerCase() === 'add_pattern';
}

/**
 * Two grok() statements over the same input where the second's keys start
 * with every key of the first, in its order (DataKit's nginx.p: the access
 * pattern, then the same pattern with referrer and agent), run as one: the
 * second's pattern first, and when it matched with each of the first's keys
 * taking part, the first is skipped — everything it would have written is
 * overwritten, and new keys land in the same order whether it matched or not:
 * the point ends up with the same keys, values, tags and order as running
 * both. Otherwise the first runs, then the second's match (already made) is
 * written: the script's order.
 * Sound because the first cannot change the input (it writes no key the input
 * is read from) and a grok's match depends on its input alone.
 */
function fuseGroks(stmts: Stmt[], evals: (Eval | undefined)[], execs: (Exec | undefined)[]): void {
  for (let i = 0; i < stmts.length; i++) {
    const a = evals[i] !== undefined ? grokSite(evals[i]!) : undefined;
    if (a === undefined || a.inputKey === undefined) continue;
    let j = i + 1;
    while (j < stmts.length && runsNothing(stmts[j]!)) j++;
    const b = j < stmts.length && evals[j] !== undefined ? grokSite(evals[j]!) : undefined;
    if (b === undefined || b.inputKey !== a.inputKey || b.inputIsMessage !== a.inputIsMessage) continue;
    if (new Set(a.keys).size !== a.keys.length || new Set(b.keys).size !== b.keys.length) continue;
    if (a.keys.includes(a.inputKey)) continue;
    // the second's keys start with the first's, in its order: whether the first matched or not, new keys
    // land in the same order
    if (!a.keys.every((k, x) => b.keys[x] === k)) continue;
    const inB = a.keys.map((_k, x) => x);
    const { input } = b;
    execs[i] = (r) => {
      const s = input(r);
      if (typeof s !== 'string') return 0;
      const m = b.match(r, s);
      if (m !== null) {
        let all = true;
        for (let k = 0; k < inB.length; k++) if (!b.took(m, inB[k]!)) all = false;
        if (all) {
          b.apply(r, m);
          return 0;
        }
      }
      a.run(r);
      if (m !== null) b.apply(r, m);
      return 0;
    };
    execs[j] = undefined;
    i = j;
  }
}

export class Compiler implements CompileCtx {
  private scopes: Map<string, string>[] = [new Map()];
  readonly defaultZone: Zone;
  readonly patterns: PatternScope;
  /** The slots of the keys the script names (fields.ts). */
  readonly table = new KeyTable();

  constructor(
    private readonly file: string,
    opts: CompileOptions = {},
    base: PatternScope = builtinScope,
  ) {
    this.defaultZone = opts.timezone ?? LOCAL;
    this.patterns = {
      lookup: (name) => {
        for (let i = this.scopes.length - 1; i >= 0; i--) {
          const p = this.scopes[i]!.get(name);
          if (p !== undefined) return p;
        }
        return base.lookup(name);
      },
    };
  }

  fail(at: { line: number; col: number }, msg: string): never {
    throw new PipelineError(msg, this.file, at.line, at.col);
  }

  addPattern(name: string, pattern: string): void {
    // A pattern of this scope or an outer one is not overwritten (DataKit's rule); built-ins are.
    for (const s of this.scopes) if (s.has(name)) return;
    this.scopes[this.scopes.length - 1]!.set(name, pattern);
  }

  known(keys: readonly string[]): KnownKeys {
    return new KnownKeys(keys, this.table);
  }

  literal(e: Expr): string | undefined {
    return e.type === 'str' ? e.value : undefined;
  }

  key(e: Expr, what = 'a key'): string {
    const k = this.keyText(e, what);
    // every key the script names has its slot: only keys made at run time are looked up per run
    this.table.slot(k);
    return k;
  }

  private keyText(e: Expr, what: string): string {
    switch (e.type) {
      case 'ident':
        return e.name === '_' && !e.quoted ? 'message' : e.name;
      case 'str':
        return e.value;
      case 'attr':
        return `${this.keyText(e.obj, what)}.${e.name}`;
    }
    return this.fail(e, `expected ${what} (a name such as status_code or \`my key\`)`);
  }

  block(stmts: Stmt[]): Exec {
    // compiled in order (add_pattern() scopes the grok calls after it)
    const evals = stmts.map((s) => (s.type === 'expr' ? this.expr(s.expr) : undefined));
    const execs: (Exec | undefined)[] = stmts.map((s, i) => {
      const e = evals[i];
      return e !== undefined ? (r: Run) => (e(r), 0) : this.stmt(s);
    });
    fuseGroks(stmts, evals, execs);
    return this.sequence(execs.filter((x): x is Exec => x !== undefined));
  }

  private sequence(execs: Exec[]): Exec {
    if (execs.length === 1) {
      const only = execs[0]!;
      return (r) => only(r);
    }
    return (r) => {
      for (let i = 0; i < execs.length; i++) {
        const sig = execs[i]!(r);
        if (sig !== 0) return sig;
        if (r.exited) return 0;
      }
      return 0;
    };
  }

  private scoped(stmts: Stmt[]): Exec {
    this.scopes.push(new Map());
    try {
      return this.block(stmts);
    } finally {
      this.scopes.pop();
    }
  }

  private stmt(s: Stmt): Exec {
    switch (s.type) {
      case 'expr': {
        const e = this.expr(s.expr);
        return (r) => (e(r), 0);
      }
      case 'assign':
        return this.assign(s);
      case 'if': {
        const conds = s.branches.map((b) => this.expr(b.cond));
        const bodies = s.branches.map((b) => this.scoped(b.body));
        const orelse = s.orelse ? this.scoped(s.orelse) : undefined;
        return (r) => {
          for (let i = 0; i < conds.length; i++) if (truthy(conds[i]!(r))) return bodies[i]!(r);
          return orelse ? orelse(r) : 0;
        };
      }
      case 'for': {
        const iter = this.expr(s.iter);
        const body = this.scoped(s.body);
        const name = s.name;
        return (r) => {
          const v = iter(r);
          const items: Value[] = Array.isArray(v) ? [...v] : v !== null && typeof v === 'object' ? Object.keys(v) : typeof v === 'string' ? [...v] : [];
          for (const x of items) {
            r.checkDeadline();
            (r.vars ??= new Map()).set(name, x);
            const sig = body(r);
            if (sig === 1 || r.exited) break;
          }
          return 0;
        };
      }
      case 'break':
        return () => 1;
      case 'continue':
        return () => 2;
    }
  }

  private assign(s: Stmt & { type: 'assign' }): Exec {
    const value = this.expr(s.value);
    const op = s.op === '=' ? undefined : s.op[0]!;
    const t = s.target;
    if (t.type === 'ident') {
      const name = t.name;
      const read = this.expr(t);
      return (r) => {
        const v = value(r);
        (r.vars ??= new Map()).set(name, op ? arith(op, read(r), v) : v);
        return 0;
      };
    }
    if (t.type === 'index' && t.obj !== undefined) {
      const obj = this.expr(t.obj);
      const idx = this.expr(t.index);
      return (r) => {
        const o = obj(r);
        const i = idx(r);
        const v = value(r);
        if (Array.isArray(o) && isNumber(i)) {
          const n = Number(i);
          const k = n < 0 ? o.length + n : n;
          if (k >= 0 && k < o.length) o[k] = op ? arith(op, o[k]!, v) : v;
        } else if (o !== null && typeof o === 'object' && !Array.isArray(o) && typeof i === 'string') o[i] = op ? arith(op, o[i] ?? null, v) : v;
        return 0;
      };
    }
    return this.fail(t, 'cannot assign to this expression');
  }

  expr(e: Expr): Eval {
    switch (e.type) {
      case 'str':
      case 'float':
      case 'int':
      case 'bool': {
        const v = e.value;
        return () => v;
      }
      case 'nil':
        return () => null;
      case 'ident': {
        if (e.name === '_' && !e.quoted) return (r) => r.fields.getSlot(MESSAGE) ?? null;
        const name = e.name;
        return (r) => {
          const v = r.vars?.get(name);
          if (v !== undefined) return v;
          return r.get(name) ?? null;
        };
      }
      case 'list': {
        const items = e.items.map((x) => this.expr(x));
        return (r) => items.map((x) => x(r));
      }
      case 'map': {
        const entries = e.entries.map(([k, v]) => [this.expr(k), this.expr(v)] as const);
        return (r) => {
          const o: { [k: string]: Value } = {};
          for (const [k, v] of entries) o[toText(k(r))] = v(r);
          return o;
        };
      }
      case 'attr': {
        const obj = this.expr(e.obj);
        const name = e.name;
        const flat = this.key(e);
        return (r) => {
          const o = obj(r);
          if (o !== null && typeof o === 'object' && !Array.isArray(o)) return o[name] ?? null;
          return r.vars?.get(flat) ?? r.get(flat) ?? null;
        };
      }
      case 'index': {
        if (e.obj === undefined) return this.fail(e, 'a JSON path is only valid as an argument of json()');
        const obj = this.expr(e.obj);
        const idx = this.expr(e.index);
        return (r) => indexOf(obj(r), idx(r));
      }
      case 'unary': {
        const arg = this.expr(e.arg);
        if (e.op === '!') return (r) => !truthy(arg(r));
        return (r) => {
          const v = arg(r);
          if (typeof v === 'bigint') return -v;
          if (typeof v === 'number') return -v;
          throw new Error('unary - needs a number');
        };
      }
      case 'binary': {
        const a = this.expr(e.left);
        const b = this.expr(e.right);
        const op = e.op;
        switch (op) {
          case '&&':
            return (r) => truthy(a(r)) && truthy(b(r));
          case '||':
            return (r) => truthy(a(r)) || truthy(b(r));
          case 'in':
            return (r) => {
              const item = a(r);
              return contains(b(r), item);
            };
          case '==':
          case '!=':
          case '<':
          case '<=':
          case '>':
          case '>=':
            return (r) => compare(op, a(r), b(r));
          default:
            return (r) => arith(op, a(r), b(r));
        }
      }
      case 'call':
        return this.call(e);
    }
  }

  private call(e: Expr & { type: 'call' }): Eval {
    const spec = FUNCTIONS.get(e.name) ?? FUNCTIONS.get(e.name.toLowerCase());
    if (spec === undefined) return this.fail(e, `unknown function ${e.name}()`);
    const variadic = spec.params[spec.params.length - 1] === '...';
    const fixed = variadic ? spec.params.length - 1 : spec.params.length;
    const args: (Expr | undefined)[] = [];
    const extra: Expr[] = [];
    let named = false;
    for (const a of e.args) {
      if (a.name !== undefined) {
        named = true;
        const i = spec.params.indexOf(a.name);
        if (i < 0 || i >= fixed) this.fail(a.value, `${e.name}() has no parameter ${a.name}`);
        if (args[i] !== undefined) this.fail(a.value, `${e.name}(): ${a.name} given twice`);
        args[i] = a.value;
        continue;
      }
      if (named) this.fail(a.value, `${e.name}(): a positional argument after a named one`);
      if (args.length < fixed) args.push(a.value);
      else if (variadic) extra.push(a.value);
      else this.fail(a.value, `${e.name}() takes at most ${fixed} argument${fixed === 1 ? '' : 's'}`);
    }
    for (let i = 0; i < spec.min; i++) if (args[i] === undefined) this.fail(e, `${e.name}() needs its ${spec.params[i]} argument`);
    while (args.length < fixed) args.push(undefined);
    return spec.compile([...args, ...extra], this, e);
  }
}
