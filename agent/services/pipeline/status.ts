/**
 * DataKit's log levels: a script's `status` is normalised to one of them
 * (`f`/`emerg` → emerg, `a`/`alert` → alert, `c`/`critical` → critical,
 * `e`/`error` → error, `w`/`warn`/`warning` → warning, `n`/`notice` → notice,
 * `i`/`info` → info, `d`/`debug`/`trace`/`verbose` → debug, `o`/`s`/`OK` → OK),
 * case-insensitively; anything else becomes `unknown`.
 */
const LEVELS: Record<string, string> = {
  f: 'emerg',
  emerg: 'emerg',
  a: 'alert',
  alert: 'alert',
  c: 'critical',
  critical: 'critical',
  e: 'error',
  error: 'error',
  w: 'warning',
  warn: 'warning',
  warning: 'warning',
  n: 'notice',
  notice: 'notice',
  i: 'info',
  info: 'info',
  d: 'debug',
  debug: 'debug',
  trace: 'debug',
  verbose: 'debug',
  o: 'OK',
  s: 'OK',
  ok: 'OK',
};

export function normalizeStatus(s: string): string {
  return LEVELS[s] ?? LEVELS[s.toLowerCase()] ?? 'unknown';
}
