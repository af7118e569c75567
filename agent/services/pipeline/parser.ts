/**
 * A recursive-descent parser for DataKit's Pipeline language. No maintained
 * JavaScript library parses this grammar (DataKit's own is a Go yacc file), and
 * the language is small: statements (assignment, `if/elif/else`, `for … in`,
 * `break`, `continue`, calls), expressions with the usual precedence
 * (`||` < `&&` < `in` < comparisons < `+ -` < `* / %` < unary `! -` < calls,
 * `a.b`, `a[i]`), list and map literals, named arguments (`f(x, key = v)`).
 * Errors carry the line and column of the offending token.
 */
import type { Arg, Expr, Stmt } from './ast.js';
import { PipelineError } from './errors.js';
import { isKeyword, tokenize, type Token } from './lexer.js';

const CMP = new Set(['==', '!=', '<', '<=', '>', '>=']);
const ASSIGN = new Set(['=', '+=', '-=', '*=', '/=']);

class Parser {
  private i = 0;
  constructor(
    private readonly toks: Token[],
    private readonly file: string,
  ) {}

  private get t(): Token {
    return this.toks[this.i]!;
  }
  private peek(k = 1): Token {
    return this.toks[Math.min(this.i + k, this.toks.length - 1)]!;
  }
  private err(msg: string, t: Token = this.t): PipelineError {
    return new PipelineError(msg, this.file, t.line, t.col);
  }
  private isOp(s: string, t: Token = this.t): boolean {
    return t.kind === 'op' && t.text === s;
  }
  private isKw(s: string): boolean {
    return this.t.kind === 'ident' && this.t.text === s;
  }
  private expectOp(s: string): Token {
    if (!this.isOp(s)) throw this.err(`expected ${JSON.stringify(s)}, found ${describe(this.t)}`);
    return this.toks[this.i++]!;
  }

  program(): Stmt[] {
    const out: Stmt[] = [];
    while (this.t.kind !== 'eof') {
      if (this.isOp('}')) throw this.err('unexpected "}"');
      out.push(this.stmt());
    }
    return out;
  }

  private block(): Stmt[] {
    this.expectOp('{');
    const out: Stmt[] = [];
    while (!this.isOp('}')) {
      if (this.t.kind === 'eof') throw this.err('expected "}" before the end of the script');
      out.push(this.stmt());
    }
    this.i++;
    return out;
  }

  private stmt(): Stmt {
    const t = this.t;
    const pos = { line: t.line, col: t.col };
    while (this.isOp(';')) this.i++;
    let s: Stmt;
    if (this.isKw('if')) {
      this.i++;
      const branches = [{ cond: this.expr(), body: this.block() }];
      let orelse: Stmt[] | undefined;
      for (;;) {
        if (this.isKw('elif')) {
          this.i++;
          branches.push({ cond: this.expr(), body: this.block() });
        } else if (this.isKw('else')) {
          this.i++;
          if (this.isKw('if')) orelse = [this.stmt()];
          else orelse = this.block();
          break;
        } else break;
      }
      s = { type: 'if', branches, orelse, ...pos };
    } else if (this.isKw('for')) {
      this.i++;
      const v = this.t;
      if (v.kind !== 'ident' || isKeyword(v.text)) throw this.err(`expected a variable name after "for", found ${describe(v)}`);
      this.i++;
      if (!this.isKw('in')) throw this.err(`expected "in", found ${describe(this.t)}`);
      this.i++;
      s = { type: 'for', name: v.text, iter: this.expr(), body: this.block(), ...pos };
    } else if (this.isKw('break') || this.isKw('continue')) {
      this.i++;
      s = { type: t.text as 'break' | 'continue', ...pos };
    } else {
      const e = this.expr();
      if (this.t.kind === 'op' && ASSIGN.has(this.t.text)) {
        const op = this.t.text;
        if (e.type !== 'ident' && e.type !== 'index' && e.type !== 'attr') throw this.err(`cannot assign to this expression`, this.toks[this.i]!);
        this.i++;
        s = { type: 'assign', target: e, op, value: this.expr(), ...pos };
      } else s = { type: 'expr', expr: e, ...pos };
    }
    while (this.isOp(';')) this.i++;
    return s;
  }

  expr(): Expr {
    return this.or();
  }

  private binary(next: () => Expr, ops: (t: Token) => boolean): Expr {
    let left = next();
    while (ops(this.t)) {
      const t = this.toks[this.i++]!;
      left = { type: 'binary', op: t.text, left, right: next(), line: t.line, col: t.col };
    }
    return left;
  }
  private or(): Expr {
    return this.binary(() => this.and(), (t) => t.kind === 'op' && t.text === '||');
  }
  private and(): Expr {
    return this.binary(() => this.inExpr(), (t) => t.kind === 'op' && t.text === '&&');
  }
  private inExpr(): Expr {
    return this.binary(() => this.cmp(), (t) => t.kind === 'ident' && t.text === 'in');
  }
  private cmp(): Expr {
    return this.binary(() => this.add(), (t) => t.kind === 'op' && CMP.has(t.text));
  }
  private add(): Expr {
    return this.binary(() => this.mul(), (t) => t.kind === 'op' && (t.text === '+' || t.text === '-'));
  }
  private mul(): Expr {
    return this.binary(() => this.unary(), (t) => t.kind === 'op' && (t.text === '*' || t.text === '/' || t.text === '%'));
  }
  private unary(): Expr {
    const t = this.t;
    if (this.isOp('!') || this.isOp('-') || this.isOp('+')) {
      this.i++;
      const arg = this.unary();
      if (t.text === '+') return arg;
      if (t.text === '-' && arg.type === 'int') return { ...arg, value: -arg.value };
      if (t.text === '-' && arg.type === 'float') return { ...arg, value: -arg.value };
      return { type: 'unary', op: t.text, arg, line: t.line, col: t.col };
    }
    return this.postfix(this.primary());
  }

  private postfix(e: Expr): Expr {
    for (;;) {
      const t = this.t;
      if (this.isOp('.') && (this.peek().kind === 'ident' || this.peek().kind === 'qident')) {
        this.i++;
        const name = this.toks[this.i++]!.text;
        e = { type: 'attr', obj: e, name, line: t.line, col: t.col };
      } else if (this.isOp('[')) {
        this.i++;
        const index = this.expr();
        this.expectOp(']');
        e = { type: 'index', obj: e, index, line: t.line, col: t.col };
      } else return e;
    }
  }

  private args(): Arg[] {
    this.expectOp('(');
    const out: Arg[] = [];
    while (!this.isOp(')')) {
      if (this.t.kind === 'eof') throw this.err('expected ")" before the end of the script');
      let name: string | undefined;
      if (this.t.kind === 'ident' && !isKeyword(this.t.text) && this.isOp('=', this.peek())) {
        name = this.t.text;
        this.i += 2;
      }
      out.push({ name, value: this.expr() });
      if (this.isOp(',')) this.i++;
      else if (!this.isOp(')')) throw this.err(`expected "," or ")", found ${describe(this.t)}`);
    }
    this.i++;
    return out;
  }

  private primary(): Expr {
    const t = this.t;
    const pos = { line: t.line, col: t.col };
    switch (t.kind) {
      case 'str':
        this.i++;
        return { type: 'str', value: t.text, ...pos };
      case 'int':
        this.i++;
        return { type: 'int', value: BigInt(t.text), ...pos };
      case 'float':
        this.i++;
        return { type: 'float', value: Number(t.text), ...pos };
      case 'qident':
        this.i++;
        return { type: 'ident', name: t.text, quoted: true, ...pos };
      case 'ident': {
        this.i++;
        switch (t.text) {
          case 'true':
          case 'false':
            return { type: 'bool', value: t.text === 'true', ...pos };
          case 'nil':
          case 'null':
            return { type: 'nil', ...pos };
        }
        if (isKeyword(t.text)) throw this.err(`unexpected keyword "${t.text}"`, t);
        if (this.isOp('(')) return { type: 'call', name: t.text, args: this.args(), ...pos };
        return { type: 'ident', name: t.text, quoted: false, ...pos };
      }
      case 'op':
        if (t.text === '(') {
          this.i++;
          const e = this.expr();
          this.expectOp(')');
          return e;
        }
        if (t.text === '[') {
          this.i++;
          const items: Expr[] = [];
          while (!this.isOp(']')) {
            if (this.t.kind === 'eof') throw this.err('expected "]" before the end of the script');
            items.push(this.expr());
            if (this.isOp(',')) this.i++;
            else if (!this.isOp(']')) throw this.err(`expected "," or "]", found ${describe(this.t)}`);
          }
          this.i++;
          return { type: 'list', items, ...pos };
        }
        if (t.text === '{') {
          this.i++;
          const entries: [Expr, Expr][] = [];
          while (!this.isOp('}')) {
            if (this.t.kind === 'eof') throw this.err('expected "}" before the end of the script');
            const k = this.expr();
            this.expectOp(':');
            entries.push([k, this.expr()]);
            if (this.isOp(',')) this.i++;
            else if (!this.isOp('}')) throw this.err(`expected "," or "}", found ${describe(this.t)}`);
          }
          this.i++;
          return { type: 'map', entries, ...pos };
        }
        if (t.text === '.' && this.isOp('[', this.peek())) {
          // a JSON path from the document's root: json(_, .[0].name)
          this.i += 2;
          const index = this.expr();
          this.expectOp(']');
          return { type: 'index', obj: undefined, index, ...pos };
        }
    }
    throw this.err(`unexpected ${describe(t)}`);
  }
}

function describe(t: Token): string {
  if (t.kind === 'eof') return 'the end of the script';
  if (t.kind === 'str') return 'a string';
  return JSON.stringify(t.text);
}

/** Parses a script; throws PipelineError with the file, line and column. */
export function parse(src: string, file: string): Stmt[] {
  return new Parser(tokenize(src, file), file).program();
}
