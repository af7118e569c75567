/**
 * Points: the one data model every input produces and every sink consumes.
 *
 * Field typing follows line protocol: a JS `number` is a float, a `bigint` is a
 * signed 64-bit integer (`i`), a {@link UInt} is unsigned (`u`), strings and
 * booleans are themselves. Time is nanoseconds since the epoch as a bigint; a
 * point without time is stamped when the core accepts it.
 */

export const CATEGORIES = [
  'metric',
  'network',
  'keyevent',
  'object',
  'custom_object',
  'logging',
  'tracing',
  'rum',
  'security',
  'profiling',
] as const;

export type Category = (typeof CATEGORIES)[number];

export function isCategory(s: string): s is Category {
  return (CATEGORIES as readonly string[]).includes(s);
}

/** An unsigned 64-bit integer field (`u` in line protocol). */
export class UInt {
  constructor(readonly value: bigint) {}
}

/**
 * A string field value held as UTF-8 bytes (a view, not a copy), for values
 * that arrive as bytes and are kilobytes long (a span's JSON `message`): the
 * line-protocol writer escapes the bytes straight into the body, instead of
 * decoding them to a JS string and escaping and encoding that again. Every
 * other consumer reads `toString()`. The bytes must be valid UTF-8.
 */
export class Utf8String {
  constructor(readonly bytes: Buffer) {}
  toString(): string {
    return this.bytes.toString('utf8');
  }
  toJSON(): string {
    return this.toString();
  }
}

export type FieldValue = number | bigint | string | boolean | UInt | Utf8String;

export interface Point {
  category: Category;
  /** Measurement name. */
  name: string;
  tags: Record<string, string>;
  fields: Record<string, FieldValue>;
  /** Nanoseconds since the epoch. */
  time?: bigint;
}

/** An integer field value (line protocol `i`). */
export function int(n: number): bigint {
  return BigInt(Math.trunc(n));
}

/** Current time in nanoseconds. */
export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/** Milliseconds (possibly fractional, as from Date or performance) to nanoseconds. */
export function msToNs(ms: number): bigint {
  return BigInt(Math.round(ms * 1000)) * 1000n;
}

/** Microseconds to nanoseconds. */
export function usToNs(us: number): bigint {
  return BigInt(Math.round(us)) * 1000n;
}
