/** Functions that change, move, type or drop the keys of the point. */
import type { Run } from '../runtime.js';
import { equal, isNumber, toText, typeOf, type Value } from '../value.js';
import type { CompileCtx, FnSpec } from './types.js';
import type { Expr } from '../ast.js';

/** The value of a literal argument (a string, number, bool or nil, or a list of them), known at compile time. */
function constant(e: Expr): { v: Value } | undefined {
  switch (e.type) {
    case 'str':
    case 'int':
    case 'float':
    case 'bool':
      return { v: e.value };
    case 'nil':
      return { v: null };
    case 'list': {
      const items: Value[] = [];
      for (const x of e.items) {
        const c = constant(x);
        if (c === undefined) return undefined;
        items.push(c.v);
      }
      return { v: items };
    }
  }
  return undefined;
}

/** A key argument, or the key named by a string value (DataKit accepts both where a new key is written). */
function keyArg(c: CompileCtx, e: Expr): string {
  return c.key(e);
}

/**
 * `fn(key[, value])`: the key, and what the call writes under it: the value
 * expression when given, else a variable of that name, else the key's own
 * value (set_tag and add_key). `undefined` when none exists.
 */
function keyAndValue(args: readonly (Expr | undefined)[], c: CompileCtx): { key: string; valueOf: (r: Run) => Value | undefined } {
  const key = keyArg(c, args[0]!);
  const value = args[1] !== undefined ? c.expr(args[1]) : undefined;
  return { key, valueOf: value !== undefined ? value : (r: Run) => r.vars?.get(key) ?? r.get(key) };
}

/**
 * cast(…, "int") of a text of digits alone, the common case (a status code, a size), without
 * trim(), a RegExp and Number(): undefined for anything else, which castTo() takes.
 */
function digitsToInt(s: string): bigint | undefined {
  const n = s.length;
  // below 10^15 the value is exact as a double
  if (n === 0 || n > 15) return undefined;
  let x = 0;
  for (let i = 0; i < n; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return undefined;
    x = x * 10 + d;
  }
  return BigInt(x);
}

function castTo(v: Value, t: string): Value {
  switch (t) {
    case 'str':
    case 'string':
      return toText(v);
    case 'int': {
      if (typeof v === 'bigint') return v;
      if (typeof v === 'number') return Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
      if (typeof v === 'boolean') return v ? 1n : 0n;
      if (typeof v === 'string') {
        const s = v.trim();
        // below 10^15 the text is exact as a double: BigInt of a number is ~3x cheaper than of a text
        if (/^[+-]?\d+$/.test(s)) return s.length <= 15 ? BigInt(Number(s)) : BigInt(s);
        const n = Number(s);
        return Number.isFinite(n) ? BigInt(Math.trunc(n)) : 0n;
      }
      return 0n;
    }
    case 'float': {
      if (typeof v === 'number') return v;
      if (typeof v === 'bigint') return Number(v);
      if (typeof v === 'boolean') return v ? 1 : 0;
      if (typeof v === 'string') {
        const n = Number(v.trim());
        return Number.isFinite(n) ? n : 0;
      }
      return 0;
    }
    case 'bool':
      if (typeof v === 'boolean') return v;
      if (isNumber(v)) return Number(v) !== 0;
      if (typeof v === 'string') return /^(1|t|true)$/i.test(v.trim());
      return false;
  }
  return v;
}

export const cast: FnSpec = {
  params: ['key', 'type'],
  min: 2,
  compile(args, c) {
    const key = keyArg(c, args[0]!);
    const t = c.literal(args[1]!);
    if (t === undefined || !['str', 'string', 'int', 'float', 'bool'].includes(t)) return c.fail(args[1]!, 'cast type must be "str", "int", "float" or "bool"');
    const known = c.known([key]);
    if (t === 'int') {
      return (r: Run) => {
        const v = r.getKnown(known, 0);
        if (v === undefined || v === null) return null;
        r.setKnown(known, 0, (typeof v === 'string' ? digitsToInt(v) : undefined) ?? castTo(v, t));
        return null;
      };
    }
    return (r: Run) => {
      const v = r.getKnown(known, 0);
      if (v === undefined || v === null) return null;
      r.setKnown(known, 0, castTo(v, t));
      return null;
    };
  },
};

export const rename: FnSpec = {
  params: ['new_key', 'old_key'],
  min: 2,
  compile(args, c) {
    const to = keyArg(c, args[0]!);
    const from = keyArg(c, args[1]!);
    return (r: Run) => {
      if (!r.fields.has(from)) {
        // a tag (set by the script or the point's own) stays a tag under its new name
        const t = r.get(from);
        if (typeof t !== 'string') return null;
        r.delete(from);
        r.setTag(to, t);
        return null;
      }
      const v = r.fields.get(from)!;
      r.fields.delete(from);
      r.set(to, v);
      return null;
    };
  },
};

export const set_tag: FnSpec = {
  params: ['key', 'value'],
  min: 1,
  compile(args, c) {
    const { key, valueOf } = keyAndValue(args, c);
    return (r: Run) => {
      const v = valueOf(r);
      if (v === undefined || v === null) return null;
      r.setTag(key, toText(v));
      return null;
    };
  },
};

export const set_measurement: FnSpec = {
  params: ['name', 'delete_key'],
  min: 1,
  compile(args, c) {
    const name = c.expr(args[0]!);
    const delKey = args[0]!.type === 'ident' ? c.key(args[0]!) : undefined;
    const del = args[1]?.type === 'bool' ? args[1].value : false;
    return (r: Run) => {
      const v = name(r);
      if (v === null) return null;
      r.measurement = toText(v);
      if (del && delKey !== undefined) r.delete(delKey);
      return null;
    };
  },
};

export const drop_key: FnSpec = {
  params: ['key'],
  min: 1,
  compile(args, c) {
    const key = keyArg(c, args[0]!);
    return (r: Run) => (r.delete(key), null);
  },
};

export const drop_origin_data: FnSpec = {
  params: [],
  min: 0,
  compile: () => (r: Run) => (r.fields.delete('message'), null),
};

export const drop: FnSpec = {
  params: [],
  min: 0,
  compile: () => (r: Run) => ((r.dropped = true), null),
};

export const exit: FnSpec = {
  params: [],
  min: 0,
  compile: () => (r: Run) => ((r.exited = true), null),
};

export const nullif: FnSpec = {
  params: ['key', 'value'],
  min: 2,
  compile(args, c) {
    const key = keyArg(c, args[0]!);
    const value = c.expr(args[1]!);
    const known = c.known([key]);
    const k = constant(args[1]!);
    if (k !== undefined) {
      const x = k.v;
      return (r: Run) => {
        const v = r.getKnown(known, 0);
        if (v !== undefined && equal(v, x)) r.deleteKnown(known, 0);
        return null;
      };
    }
    return (r: Run) => {
      const v = r.getKnown(known, 0);
      if (v !== undefined && equal(v, value(r))) r.deleteKnown(known, 0);
      return null;
    };
  },
};

export const group_in: FnSpec = {
  params: ['key', 'range', 'new_value', 'new_key'],
  min: 3,
  compile(args, c) {
    const key = keyArg(c, args[0]!);
    const list = c.expr(args[1]!);
    const value = c.expr(args[2]!);
    const target = args[3] !== undefined ? keyArg(c, args[3]) : key;
    const known = c.known([key, target]);
    // a list written out in the script (["warn", "notice"]) is made once, not per line
    const k = constant(args[1]!);
    if (k !== undefined && Array.isArray(k.v)) {
      const l = k.v;
      return (r: Run) => {
        const v = r.getKnown(known, 0);
        if (v === undefined) return null;
        for (let i = 0; i < l.length; i++) {
          if (equal(v, l[i]!)) {
            r.setKnown(known, 1, value(r));
            break;
          }
        }
        return null;
      };
    }
    return (r: Run) => {
      const v = r.getKnown(known, 0);
      if (v === undefined) return null;
      const l = list(r);
      if (!Array.isArray(l)) return null;
      for (const x of l) {
        if (equal(v, x)) {
          r.setKnown(known, 1, value(r));
          break;
        }
      }
      return null;
    };
  },
};

export const group_between: FnSpec = {
  params: ['key', 'between', 'new_value', 'new_key'],
  min: 3,
  compile(args, c) {
    const key = keyArg(c, args[0]!);
    const range = args[1]!;
    if (range.type !== 'list' || range.items.length !== 2) return c.fail(range, 'the range must be a list of two numbers, [low, high]');
    const lo = c.expr(range.items[0]!);
    const hi = c.expr(range.items[1]!);
    const value = c.expr(args[2]!);
    const target = args[3] !== undefined ? keyArg(c, args[3]) : key;
    const known = c.known([key, target]);
    const klo = constant(range.items[0]!);
    const khi = constant(range.items[1]!);
    if (klo !== undefined && khi !== undefined && isNumber(klo.v) && isNumber(khi.v)) {
      const a = klo.v;
      const b = khi.v;
      return (r: Run) => {
        const v = r.getKnown(known, 0);
        if (v === undefined || !isNumber(v)) return null;
        if (v >= a && v <= b) r.setKnown(known, 1, value(r));
        return null;
      };
    }
    return (r: Run) => {
      const v = r.getKnown(known, 0);
      if (v === undefined || !isNumber(v)) return null;
      const a = lo(r);
      const b = hi(r);
      if (!isNumber(a) || !isNumber(b)) return null;
      if (v >= a && v <= b) r.setKnown(known, 1, value(r));
      return null;
    };
  },
};

export const add_key: FnSpec = {
  params: ['key', 'value'],
  min: 1,
  compile(args, c) {
    const { key, valueOf } = keyAndValue(args, c);
    return (r: Run) => {
      r.set(key, valueOf(r) ?? null);
      return null;
    };
  },
};

export const get_key: FnSpec = {
  params: ['key'],
  min: 1,
  compile(args, c) {
    const key = keyArg(c, args[0]!);
    return (r: Run) => r.get(key) ?? null;
  },
};

function textFn(f: (s: string) => string): FnSpec {
  return {
    params: ['key'],
    min: 1,
    compile(args, c) {
      const key = keyArg(c, args[0]!);
      return (r: Run) => {
        const v = r.get(key);
        if (typeof v === 'string') r.set(key, f(v));
        return null;
      };
    },
  };
}

export const lowercase = textFn((s) => s.toLowerCase());
export const uppercase = textFn((s) => s.toUpperCase());
export const url_decode = textFn((s) => {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    // Go's url.QueryUnescape fails on a bad escape and leaves the value as it was
    return s;
  }
});

/** Go's fmt verbs used in strfmt(): %v %s %d %f %.Nf %q %t %%. */
function goFormat(fmt: string, vals: Value[]): string {
  let i = 0;
  return fmt.replace(/%([-+ 0#]*)(\d+)?(?:\.(\d+))?([vsdfqtxXeg%])/g, (m, _flags: string, _w: string | undefined, prec: string | undefined, verb: string) => {
    if (verb === '%') return '%';
    if (i >= vals.length) return `%!${verb}(MISSING)`;
    const v = vals[i++]!;
    switch (verb) {
      case 'd':
        return isNumber(v) ? String(typeof v === 'number' ? Math.trunc(v) : v) : `%!d(${typeOf(v)}=${toText(v)})`;
      case 'f':
        return isNumber(v) ? Number(v).toFixed(prec !== undefined ? Number(prec) : 6) : `%!f(${typeOf(v)}=${toText(v)})`;
      case 'q':
        return JSON.stringify(toText(v));
      case 'x':
        return isNumber(v) ? BigInt(Math.trunc(Number(v))).toString(16) : Buffer.from(toText(v)).toString('hex');
      case 'X':
        return isNumber(v) ? BigInt(Math.trunc(Number(v))).toString(16).toUpperCase() : Buffer.from(toText(v)).toString('hex').toUpperCase();
      default:
        return v === null ? '<nil>' : toText(v);
    }
  });
}

export const strfmt: FnSpec = {
  params: ['key', 'fmt', '...'],
  min: 2,
  compile(args, c) {
    const key = keyArg(c, args[0]!);
    const fmt = c.expr(args[1]!);
    const rest = args.slice(2).map((a) => c.expr(a!));
    return (r: Run) => {
      const f = fmt(r);
      if (typeof f !== 'string') return null;
      r.set(key, goFormat(f, rest.map((e) => e(r))));
      return null;
    };
  },
};

export const len: FnSpec = {
  params: ['val'],
  min: 1,
  compile(args, c) {
    const v = c.expr(args[0]!);
    return (r: Run) => {
      const x = v(r);
      if (typeof x === 'string') return BigInt(Buffer.byteLength(x));
      if (Array.isArray(x)) return BigInt(x.length);
      if (x !== null && typeof x === 'object') return BigInt(Object.keys(x).length);
      return 0n;
    };
  },
};

export const trim: FnSpec = {
  params: ['key', 'cutset'],
  min: 1,
  compile(args, c) {
    const key = keyArg(c, args[0]!);
    const cut = args[1] !== undefined ? c.literal(args[1]) : '';
    if (cut === undefined) return c.fail(args[1]!, 'the cutset must be a string literal');
    const set = new Set(cut);
    return (r: Run) => {
      const v = r.get(key);
      if (typeof v !== 'string') return null;
      if (cut === '') r.set(key, v.trim());
      else {
        let a = 0;
        let b = v.length;
        while (a < b && set.has(v[a]!)) a++;
        while (b > a && set.has(v[b - 1]!)) b--;
        r.set(key, v.slice(a, b));
      }
      return null;
    };
  },
};
