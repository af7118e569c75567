/** The syntax tree of a Pipeline script. Every node carries the position of its first token. */
import type { Pos } from './errors.js';

export type Expr =
  | ({ type: 'ident'; name: string; quoted: boolean } & Pos)
  | ({ type: 'str'; value: string } & Pos)
  | ({ type: 'int'; value: bigint } & Pos)
  | ({ type: 'float'; value: number } & Pos)
  | ({ type: 'bool'; value: boolean } & Pos)
  | ({ type: 'nil' } & Pos)
  | ({ type: 'list'; items: Expr[] } & Pos)
  | ({ type: 'map'; entries: [Expr, Expr][] } & Pos)
  | ({ type: 'attr'; obj: Expr; name: string } & Pos)
  | ({ type: 'index'; obj: Expr | undefined; index: Expr } & Pos)
  | ({ type: 'unary'; op: string; arg: Expr } & Pos)
  | ({ type: 'binary'; op: string; left: Expr; right: Expr } & Pos)
  | ({ type: 'call'; name: string; args: Arg[] } & Pos);

export interface Arg {
  /** Set for `name = value` arguments. */
  name: string | undefined;
  value: Expr;
}

export type Stmt =
  | ({ type: 'expr'; expr: Expr } & Pos)
  | ({ type: 'assign'; target: Expr; op: string; value: Expr } & Pos)
  | ({ type: 'if'; branches: { cond: Expr; body: Stmt[] }[]; orelse: Stmt[] | undefined } & Pos)
  | ({ type: 'for'; name: string; iter: Expr; body: Stmt[] } & Pos)
  | ({ type: 'break' } & Pos)
  | ({ type: 'continue' } & Pos);
