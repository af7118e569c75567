/**
 * Small helpers to build JSON text for span messages without a generic
 * JSON.stringify over the whole span (the hot path of every tracing input).
 */

// Characters JSON must escape, and surrogates (JSON.stringify escapes lone ones).
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A JSON string literal for `s`. */
export function jsonStr(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : '"' + s + '"';
}

/** A JSON number literal, or `null` for non-finite numbers (as JSON.stringify does). */
export function jsonNum(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null';
}

/** A JSON object of string values. */
export function jsonStrMap(m: Record<string, unknown> | undefined): string {
  if (!m) return '{}';
  let s = '{';
  let first = true;
  for (const k in m) {
    const v = m[k];
    if (typeof v !== 'string') continue;
    s += (first ? '' : ',') + jsonStr(k) + ':' + jsonStr(v);
    first = false;
  }
  return s + '}';
}

/** A JSON object of number values. */
export function jsonNumMap(m: Record<string, unknown> | undefined): string {
  if (!m) return '{}';
  let s = '{';
  let first = true;
  for (const k in m) {
    const v = m[k];
    if (typeof v !== 'number') continue;
    s += (first ? '' : ',') + jsonStr(k) + ':' + jsonNum(v);
    first = false;
  }
  return s + '}';
}
