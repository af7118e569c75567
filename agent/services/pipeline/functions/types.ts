/** The contract between the compiler and the built-in functions. */
import type { Expr } from '../ast.js';
import type { PatternScope } from '../grok/compile.js';
import type { KnownKeys, Run } from '../runtime.js';
import type { Zone } from '../timeparse.js';
import type { Value } from '../value.js';

export type Eval = (r: Run) => Value;

/** What a function sees of the compiler while it compiles a call. */
export interface CompileCtx {
  /** An argument evaluated at run time. */
  expr(e: Expr): Eval;
  /**
   * An argument that names a key of the point: `name`, `` `name` ``, `a.b`
   * (the key "a.b"), `_` (message), or a string literal where DataKit takes one.
   */
  key(e: Expr, what?: string): string;
  /** Keys the call site reads or writes by index (Run.getKnown/setKnown): each gets its slot in the script's KeyTable. */
  known(keys: readonly string[]): KnownKeys;
  /** A string literal's value, or undefined when the argument is not one. */
  literal(e: Expr): string | undefined;
  /** A load error at the argument. */
  fail(e: { line: number; col: number }, msg: string): never;
  /** The grok patterns visible here (add_pattern scopes over the built-in library). */
  readonly patterns: PatternScope;
  /** add_pattern(): adds to the current scope. */
  addPattern(name: string, pattern: string): void;
  /** Zone of time text without one (default_time without a timezone). */
  readonly defaultZone: Zone;
}

export interface FnSpec {
  /** Parameter names in order (for `name = value` arguments); `...` marks a variadic tail. */
  params: readonly string[];
  /** Required arguments. */
  min: number;
  /**
   * Compiles a call: `args[i]` is the argument for params[i] (undefined when
   * omitted), then the variadic ones. Validates what can be validated at load.
   */
  compile(args: (Expr | undefined)[], c: CompileCtx, call: Expr & { type: 'call' }): Eval;
}
