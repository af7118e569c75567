/** Number parsing for the exposition parser: exact, in place, no slicing on the fast path. */

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/**
 * Parses `[-+]digits[.digits]` in place without slicing. Exact: with at most 15
 * significant digits the mantissa is an exact integer and dividing by an exact
 * power of ten rounds once, as strtod's fast path does. Returns NaN for anything
 * else (exponents, NaN/Inf words, long mantissas): the caller then uses Number().
 */
export function fastDecimal(s: string, start: number, end: number): number {
  let p = start;
  let neg = false;
  let c = s.charCodeAt(p);
  if (c === 45 || c === 43) {
    neg = c === 45;
    p++;
  }
  let m = 0;
  let nd = 0;
  let digits = 0;
  let frac = -1;
  for (; p < end; p++) {
    c = s.charCodeAt(p);
    if (c >= 48 && c <= 57) {
      m = m * 10 + (c - 48);
      nd++;
      if (m !== 0 || frac >= 0) digits++;
      if (frac >= 0) frac++;
    } else if (c === 46 && frac < 0) {
      frac = 0;
    } else if ((c === 101 || c === 69) && nd > 0) {
      // exponent (Go writes large values as 1.2345e+06): Clinger's fast path
      p++;
      let eneg = false;
      c = s.charCodeAt(p);
      if (c === 45 || c === 43) {
        eneg = c === 45;
        p++;
      }
      if (p >= end) return NaN;
      let e = 0;
      for (; p < end; p++) {
        c = s.charCodeAt(p);
        if (c < 48 || c > 57 || e > 1000) return NaN;
        e = e * 10 + (c - 48);
      }
      if (digits > 15) return NaN;
      const e10 = (eneg ? -e : e) - (frac > 0 ? frac : 0);
      if (e10 < -22 || e10 > 22) return NaN;
      const v = e10 < 0 ? m / POW10[-e10]! : m * POW10[e10]!;
      return neg ? -v : v;
    } else return NaN;
  }
  if (nd === 0 || digits > 15 || frac > 22) return NaN;
  const v = frac > 0 ? m / POW10[frac]! : m;
  return neg ? -v : v;
}

export function isNonFiniteWord(s: string): boolean {
  const t = s.toLowerCase();
  return t === 'nan' || t === 'inf' || t === '+inf' || t === '-inf' || t === '+nan' || t === '-nan';
}
