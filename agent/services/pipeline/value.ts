/**
 * Run-time values of the language: `str` (string), `int` (bigint), `float`
 * (number), `bool`, `nil` (null), `list` (array) and `map` (plain object).
 */
export type Value = string | bigint | number | boolean | null | Value[] | { [k: string]: Value };

export function typeOf(v: Value): 'str' | 'int' | 'float' | 'bool' | 'nil' | 'list' | 'map' {
  switch (typeof v) {
    case 'string':
      return 'str';
    case 'bigint':
      return 'int';
    case 'number':
      return 'float';
    case 'boolean':
      return 'bool';
  }
  if (v === null) return 'nil';
  return Array.isArray(v) ? 'list' : 'map';
}

export function truthy(v: Value): boolean {
  switch (typeof v) {
    case 'string':
      return v !== '';
    case 'bigint':
      return v !== 0n;
    case 'number':
      return v !== 0 && !Number.isNaN(v);
    case 'boolean':
      return v;
  }
  if (v === null) return false;
  return Array.isArray(v) ? v.length > 0 : Object.keys(v).length > 0;
}

/** JSON text of a value (lists and maps stored as fields are JSON strings, as in DataKit). */
export function toJson(v: Value): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? Number(x) : x));
}

/** A value as text (Go's %v, roughly). */
export function toText(v: Value): string {
  switch (typeof v) {
    case 'string':
      return v;
    case 'bigint':
      return v.toString();
    case 'number':
      return formatFloat(v);
    case 'boolean':
      return v ? 'true' : 'false';
  }
  if (v === null) return '';
  return toJson(v);
}

/** Go's strconv.FormatFloat(f, 'f', -1, 64)-like: no exponent for usual magnitudes, shortest digits. */
export function formatFloat(f: number): string {
  if (Number.isInteger(f) && Math.abs(f) < 1e21) return f.toFixed(0);
  return String(f);
}

export function equal(a: Value, b: Value): boolean {
  if (a === b) return true;
  if ((typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number')) return Number(a) === Number(b);
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  return toJson(a) === toJson(b);
}

export function isNumber(v: Value): v is bigint | number {
  return typeof v === 'bigint' || typeof v === 'number';
}

/** JSON → Value: integers stay floats (JSON numbers are float64 in DataKit's json()). */
export function fromJson(x: unknown): Value {
  if (x === null || x === undefined) return null;
  if (typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean') return x;
  if (Array.isArray(x)) return x.map(fromJson);
  if (typeof x === 'object') {
    const o: { [k: string]: Value } = {};
    for (const [k, y] of Object.entries(x as Record<string, unknown>)) o[k] = fromJson(y);
    return o;
  }
  return null;
}
