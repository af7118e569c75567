/**
 * Finds the text of each element of a top-level JSON array without parsing
 * it, so a span's `message` can be the sender's own bytes instead of a
 * re-serialisation. Strings are skipped with indexOf; only structure
 * characters outside strings are looked at one by one.
 */

const WS = new Set([0x20, 0x0a, 0x0d, 0x09]);

function skipWs(t: string, i: number): number {
  while (i < t.length && WS.has(t.charCodeAt(i))) i++;
  return i;
}

/** Index just past the string starting at `i` (a quote), or -1. */
function skipString(t: string, i: number): number {
  let j = i + 1;
  for (;;) {
    const q = t.indexOf('"', j);
    if (q < 0) return -1;
    let b = q - 1;
    while (t.charCodeAt(b) === 0x5c) b--;
    if ((q - 1 - b) % 2 === 0) return q + 1;
    j = q + 1;
  }
}

/**
 * Where each element of the array in `t` starts and ends: element k is
 * `t.slice(r[2k], r[2k + 1])`. Undefined when `t` is not a well-formed array
 * at this level (the caller's JSON.parse then reports the error).
 */
export function splitJsonArrayRanges(t: string): number[] | undefined {
  let i = skipWs(t, 0);
  if (t.charCodeAt(i) !== 0x5b) return undefined;
  i = skipWs(t, i + 1);
  const out: number[] = [];
  if (t.charCodeAt(i) === 0x5d) return out;
  for (;;) {
    const start = i;
    let depth = 0;
    for (; i < t.length; i++) {
      const c = t.charCodeAt(i);
      if (c === 0x22) {
        i = skipString(t, i);
        if (i < 0) return undefined;
        i--;
      } else if (c === 0x7b || c === 0x5b) depth++;
      else if (c === 0x7d || c === 0x5d) {
        if (depth === 0) break;
        depth--;
      } else if (c === 0x2c && depth === 0) break;
    }
    if (i >= t.length) return undefined;
    let end = i;
    while (end > start && WS.has(t.charCodeAt(end - 1))) end--;
    out.push(start, end);
    const c = t.charCodeAt(i);
    i = skipWs(t, i + 1);
    if (c === 0x5d) return i === t.length ? out : undefined;
  }
}
