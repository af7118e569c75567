/**
 * A small declarative schema for input options: the single source of truth for
 * an option's type, default, validation and environment override.
 *
 *   export const schema = object({
 *     service_address: str(':8125'),
 *     percentiles: list(num(), [50, 90, 99]),
 *     interval: duration('10s'),
 *     tags: tags(),
 *   });
 *   export type StatsdConfig = Infer<typeof schema>;
 *
 * Validation does no I/O. It collects every problem (not only the first) with
 * the dotted key path; the loader adds file and line.
 */

export interface Issue {
  /** Dotted key path relative to the input table, e.g. `sampler.sampling_rate`. */
  key: string;
  message: string;
}

export interface Field<T> {
  readonly kind: string;
  /** Human description of the type for error messages and docs. */
  readonly type: string;
  readonly optional: boolean;
  /** Returns the default (a fresh copy) or undefined when the option is required and absent. */
  defaultValue(): T | undefined;
  /** Validates and converts a TOML value. Pushes issues and returns undefined on error. */
  parse(v: unknown, key: string, issues: Issue[]): T | undefined;
  /**
   * Turns an environment-variable string (ENV_INPUT_<NAME>_<OPTION>) into the
   * TOML value it stands for; parse() then validates it like a file value.
   */
  fromEnv(s: string, key: string, issues: Issue[]): unknown;
}

export type Infer<F> = F extends Field<infer T> ? T : never;

type Shape = Record<string, Field<any>>;
export type InferShape<S extends Shape> = { readonly [K in keyof S]: Infer<S[K]> };

function typeName(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  if (v instanceof Date) return 'datetime';
  return typeof v;
}

/** A failed conversion, returned by a leaf's converter. */
class Fail {
  constructor(readonly message: string) {}
}
const fail = (message: string) => new Fail(message);

function leaf<T>(
  kind: string,
  type: string,
  def: T | undefined,
  parse: (v: unknown) => T | Fail,
  fromEnv: (s: string) => unknown = (s) => s,
): Field<T> {
  const f: Field<T> = {
    kind,
    type,
    optional: def !== undefined,
    defaultValue: () => (def === undefined ? undefined : structuredClone(def)),
    parse(v, key, issues) {
      const r = parse(v);
      if (r instanceof Fail) {
        issues.push({ key, message: r.message });
        return undefined;
      }
      return r;
    },
    fromEnv: (s) => fromEnv(s),
  };
  return f;
}

export function str(def?: string): Field<string> {
  return leaf<string>('string', 'string', def, (v) =>
    typeof v === 'string' ? v : fail(`expected a string, got ${typeName(v)}`),
  );
}

/** A string restricted to a set of values. */
export function oneOf<const T extends string>(values: readonly T[], def?: T): Field<T> {
  return leaf<T>('enum', values.map((v) => JSON.stringify(v)).join(' | '), def, (v) =>
    typeof v === 'string' && (values as readonly string[]).includes(v)
      ? (v as T)
      : fail(`expected one of ${values.join(', ')}, got ${JSON.stringify(v)}`),
  );
}

/** A string that must compile as a regular expression (kept as its source). */
export function regex(def?: string): Field<string> {
  return leaf<string>('regex', 'regex', def, (v) => {
    if (typeof v !== 'string') return fail(`expected a regex string, got ${typeName(v)}`);
    try {
      new RegExp(v);
      return v;
    } catch (e) {
      return fail(`invalid regex ${JSON.stringify(v)}: ${(e as Error).message}`);
    }
  });
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

/**
 * A boolean. In env, DataKit's rule holds: any non-empty value is on, except
 * the explicit words false/0/no/off.
 */
export function bool(def?: boolean): Field<boolean> {
  return leaf<boolean>(
    'bool',
    'boolean',
    def,
    (v) => (typeof v === 'boolean' ? v : fail(`expected a boolean, got ${typeName(v)}`)),
    (s) => (FALSE.has(s.trim().toLowerCase()) ? false : TRUE.has(s.trim().toLowerCase()) || s.trim() !== ''),
  );
}

export interface NumOpts {
  min?: number;
  max?: number;
  integer?: boolean;
}

export function num(def?: number, opts: NumOpts = {}): Field<number> {
  return leaf<number>(
    opts.integer ? 'int' : 'number',
    opts.integer ? 'integer' : 'number',
    def,
    (v) => {
      if (typeof v !== 'number' || Number.isNaN(v)) return fail(`expected a number, got ${typeName(v)}`);
      if (opts.integer && !Number.isInteger(v)) return fail(`expected an integer, got ${v}`);
      if (opts.min !== undefined && v < opts.min) return fail(`must be >= ${opts.min}, got ${v}`);
      if (opts.max !== undefined && v > opts.max) return fail(`must be <= ${opts.max}, got ${v}`);
      return v;
    },
    (s) => (s.trim() === '' ? NaN : Number(s)),
  );
}

export function int(def?: number, opts: Omit<NumOpts, 'integer'> = {}): Field<number> {
  return num(def, { ...opts, integer: true });
}

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a Go-style duration ("10s", "1m30s", "500ms") into milliseconds. */
export function parseDuration(s: string): number | undefined {
  const t = s.trim();
  if (t === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(t)) !== null) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    matched = re.lastIndex;
  }
  return matched === t.length && matched > 0 ? total : undefined;
}

/**
 * A duration: a Go-style string ("10s") or a number of seconds. The value is
 * milliseconds.
 */
export function duration(def?: string, opts: { min?: string } = {}): Field<number> {
  const min = opts.min === undefined ? undefined : parseDuration(opts.min);
  const conv = (v: unknown): number | Fail => {
    const ms = typeof v === 'number' ? v * 1000 : typeof v === 'string' ? parseDuration(v) : undefined;
    if (ms === undefined || Number.isNaN(ms)) return fail(`expected a duration such as "10s" or "1m", got ${JSON.stringify(v)}`);
    if (min !== undefined && ms < min) return fail(`must be at least ${opts.min}, got ${JSON.stringify(v)}`);
    return ms;
  };
  const f = leaf<number>('duration', 'duration', def === undefined ? undefined : (conv(def) as number), conv);
  return f;
}

/**
 * A list. In env: a JSON array, or comma-separated items.
 */
export function list<T>(item: Field<T>, def?: T[]): Field<T[]> {
  const f: Field<T[]> = {
    kind: 'list',
    type: `list of ${item.type}`,
    optional: def !== undefined,
    defaultValue: () => (def === undefined ? undefined : structuredClone(def)),
    parse(v, key, issues) {
      if (!Array.isArray(v)) {
        issues.push({ key, message: `expected a list, got ${typeName(v)}` });
        return undefined;
      }
      const out: T[] = [];
      let ok = true;
      v.forEach((x, i) => {
        const r = item.parse(x, `${key}[${i}]`, issues);
        if (r === undefined) ok = false;
        else out.push(r);
      });
      return ok ? out : undefined;
    },
    fromEnv(s, key, issues) {
      const t = s.trim();
      if (t.startsWith('[')) {
        try {
          return JSON.parse(t) as unknown;
        } catch {
          issues.push({ key, message: `invalid JSON list ${JSON.stringify(s)}` });
          return undefined;
        }
      }
      const parts = t === '' ? [] : t.split(',').map((p) => p.trim());
      return parts.map((p, i) => item.fromEnv(p, `${key}[${i}]`, issues));
    },
  };
  return f;
}

/**
 * A table of string values (`[inputs.x.tags]`). In env: `k=v,k2=v2` or a JSON object.
 */
export function tags(def: Record<string, string> = {}): Field<Record<string, string>> {
  return record(str(), def);
}

/** A table whose values all have one type. In env: JSON object or `k=v,k2=v2`. */
export function record<T>(value: Field<T>, def: Record<string, T> = {}): Field<Record<string, T>> {
  const f: Field<Record<string, T>> = {
    kind: 'record',
    type: `table of ${value.type}`,
    optional: true,
    defaultValue: () => structuredClone(def),
    parse(v, key, issues) {
      if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Date) {
        issues.push({ key, message: `expected a table, got ${typeName(v)}` });
        return undefined;
      }
      const out: Record<string, T> = {};
      let ok = true;
      for (const [k, x] of Object.entries(v)) {
        const r = value.parse(x, `${key}.${k}`, issues);
        if (r === undefined) ok = false;
        else out[k] = r;
      }
      return ok ? out : undefined;
    },
    fromEnv(s, key, issues) {
      const t = s.trim();
      if (t.startsWith('{')) {
        try {
          return JSON.parse(t) as unknown;
        } catch {
          issues.push({ key, message: `invalid JSON object ${JSON.stringify(s)}` });
          return undefined;
        }
      }
      const out: Record<string, unknown> = {};
      for (const kv of t.split(',')) {
        if (kv.trim() === '') continue;
        const i = kv.indexOf('=');
        if (i <= 0) {
          issues.push({ key, message: `expected k=v pairs, got ${JSON.stringify(kv)}` });
          return undefined;
        }
        out[kv.slice(0, i).trim()] = value.fromEnv(kv.slice(i + 1).trim(), `${key}.${kv.slice(0, i).trim()}`, issues);
      }
      return out;
    },
  };
  return f;
}

/** Accepts any TOML value unchecked (use sparingly, e.g. options accepted for compatibility only). */
export function any(def?: unknown): Field<unknown> {
  return leaf<unknown>('any', 'any', def, (v) => v);
}

/** Makes a field optional with no default: the value may be undefined. */
export function optional<T>(f: Field<T>): Field<T | undefined> {
  return { ...f, optional: true, defaultValue: () => undefined } as Field<T | undefined>;
}

export interface ObjectField<S extends Shape> extends Field<InferShape<S>> {
  readonly shape: S;
  /** When true, unknown keys are kept silently instead of reported. */
  readonly loose: boolean;
}

/**
 * A table with known keys. Unknown keys are reported (`unknown option`) unless
 * `loose` is set. Absent keys take their defaults; required keys without a
 * default are reported when absent.
 */
export function object<S extends Shape>(shape: S, opts: { loose?: boolean } = {}): ObjectField<S> {
  const f: ObjectField<S> = {
    kind: 'object',
    type: 'table',
    shape,
    loose: opts.loose ?? false,
    optional: Object.values(shape).every((x) => x.optional),
    defaultValue() {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(shape)) {
        const d = x.defaultValue();
        if (d !== undefined) out[k] = d;
      }
      return out as InferShape<S>;
    },
    parse(v, key, issues) {
      if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Date) {
        issues.push({ key, message: `expected a table, got ${typeName(v)}` });
        return undefined;
      }
      const before = issues.length;
      const out: Record<string, unknown> = {};
      const src = v as Record<string, unknown>;
      const join = (k: string) => (key === '' ? k : `${key}.${k}`);
      for (const k of Object.keys(src)) {
        if (!(k in shape) && !f.loose) issues.push({ key: join(k), message: 'unknown option' });
      }
      for (const [k, x] of Object.entries(shape)) {
        if (src[k] === undefined) {
          const d = x.defaultValue();
          if (d === undefined && !x.optional) issues.push({ key: join(k), message: `required option (${x.type}) is missing` });
          else if (d !== undefined) out[k] = d;
        } else {
          const r = x.parse(src[k], join(k), issues);
          if (r !== undefined) out[k] = r;
        }
      }
      if (f.loose) for (const k of Object.keys(src)) if (!(k in shape)) out[k] = src[k];
      return issues.length === before ? (out as InferShape<S>) : undefined;
    },
    fromEnv(s, key, issues) {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        issues.push({ key, message: `expected a JSON object, got ${JSON.stringify(s)}` });
        return undefined;
      }
    },
  };
  return f;
}

export type Schema<C> = Field<C> & { readonly shape?: Shape; readonly loose?: boolean };

/** Validates a whole input table; returns the frozen config or the issues. */
export function validate<C>(schema: Schema<C>, raw: unknown): { ok: true; value: C } | { ok: false; issues: Issue[] } {
  const issues: Issue[] = [];
  const value = schema.parse(raw ?? {}, '', issues);
  if (issues.length > 0 || value === undefined) return { ok: false, issues };
  return { ok: true, value: deepFreeze(value) };
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
