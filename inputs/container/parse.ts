/**
 * Line formats of container log files: CRI (`<RFC3339Nano> <stream> <P|F> <msg>`)
 * and docker json-file (`{"log":"...","stream":"stdout","time":"..."}`), plus
 * level detection and ANSI stripping. Pure functions, no I/O.
 */

export interface RawEntry {
  /** Nanoseconds since the epoch; undefined when the line carried none. */
  time: bigint | undefined;
  stream: string;
  /** True when the runtime split the line and more of it follows (CRI `P`, docker without trailing `\n`). */
  partial: boolean;
  message: string;
}

const SP = 0x20;

let cachedSecPrefix = '';
let cachedSecNs = 0n;

/**
 * Parses RFC3339 / RFC3339Nano (`2024-05-01T10:20:30.123456789Z`, `+08:00`
 * offsets) into epoch nanoseconds; undefined when malformed. The seconds part
 * is cached because consecutive lines share it.
 */
export function parseRfc3339Nano(s: string): bigint | undefined {
  if (s.length < 20 || s.charCodeAt(10) !== 0x54 /* T */) return undefined;
  const secPrefix = s.slice(0, 19);
  let secNs: bigint;
  if (secPrefix === cachedSecPrefix) {
    secNs = cachedSecNs;
  } else {
    const ms = Date.UTC(+s.slice(0, 4), +s.slice(5, 7) - 1, +s.slice(8, 10), +s.slice(11, 13), +s.slice(14, 16), +s.slice(17, 19));
    if (!Number.isFinite(ms) || s[4] !== '-' || s[13] !== ':') return undefined;
    secNs = BigInt(ms) * 1_000_000n;
    cachedSecPrefix = secPrefix;
    cachedSecNs = secNs;
  }
  let i = 19;
  let frac = 0n;
  if (s[i] === '.') {
    let j = i + 1;
    while (j < s.length && s.charCodeAt(j) >= 0x30 && s.charCodeAt(j) <= 0x39) j++;
    const digits = s.slice(i + 1, Math.min(j, i + 10)).padEnd(9, '0');
    frac = BigInt(digits);
    i = j;
  }
  let offsetNs = 0n;
  const z = s[i];
  if (z === 'Z' || z === 'z') {
    i++;
  } else if (z === '+' || z === '-') {
    const h = +s.slice(i + 1, i + 3);
    const m = +s.slice(i + 4, i + 6);
    if (!Number.isFinite(h) || !Number.isFinite(m)) return undefined;
    offsetNs = BigInt((h * 60 + m) * 60) * 1_000_000_000n * (z === '+' ? 1n : -1n);
    i += 6;
  } else {
    return undefined;
  }
  if (i !== s.length) return undefined;
  return secNs + frac - offsetNs;
}

/**
 * Parses one CRI line (without its `\n`) from `buf[start, end)`. Returns
 * undefined when the line is not CRI-shaped.
 */
export function parseCri(buf: Buffer, start: number, end: number): RawEntry | undefined {
  const s1 = buf.indexOf(SP, start);
  if (s1 < 0 || s1 >= end) return undefined;
  const s2 = buf.indexOf(SP, s1 + 1);
  if (s2 < 0 || s2 >= end) return undefined;
  const time = parseRfc3339Nano(buf.toString('latin1', start, s1));
  if (time === undefined) return undefined;
  const stream = buf.toString('latin1', s1 + 1, s2);
  // The tag field: `P`, `F`, or a `:`-separated list whose first item is P/F.
  let s3 = buf.indexOf(SP, s2 + 1);
  if (s3 < 0 || s3 > end) s3 = end;
  const tag = buf[s2 + 1];
  if (tag !== 0x50 /* P */ && tag !== 0x46 /* F */) return undefined;
  const msgStart = s3 < end ? s3 + 1 : end;
  return { time, stream, partial: tag === 0x50, message: buf.toString('utf8', msgStart, end) };
}

/** Parses one docker json-file line; undefined when it is not such a line. */
export function parseDockerJson(line: string): RawEntry | undefined {
  if (line.charCodeAt(0) !== 0x7b /* { */) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as { log?: unknown; stream?: unknown; time?: unknown };
  if (typeof o.log !== 'string') return undefined;
  let message = o.log;
  let partial = true;
  if (message.endsWith('\n')) {
    message = message.slice(0, message.endsWith('\r\n') ? -2 : -1);
    partial = false;
  }
  return {
    time: typeof o.time === 'string' ? parseRfc3339Nano(o.time) : undefined,
    stream: typeof o.stream === 'string' ? o.stream : '',
    partial,
    message,
  };
}

// ECMA-48 CSI / OSC / two-byte escape sequences.
// eslint-disable-next-line no-control-regex
const ANSI_RE = /[\u001b\u009b](?:\[[0-?]*[ -/]*[@-~]|\][^\u0007\u001b]*(?:\u0007|\u001b\\)|[@-Z\\-_])/g;

export function stripAnsi(s: string): string {
  return s.indexOf('\u001b') < 0 && s.indexOf('\u009b') < 0 ? s : s.replace(ANSI_RE, '');
}

/** DataKit's log levels. */
export type Status = 'alert' | 'critical' | 'error' | 'warning' | 'notice' | 'info' | 'debug' | 'OK' | 'unknown';

const LEVELS: Record<string, Status> = {
  emerg: 'critical',
  emergency: 'critical',
  fatal: 'critical',
  panic: 'critical',
  alert: 'alert',
  crit: 'critical',
  critical: 'critical',
  err: 'error',
  eror: 'error',
  error: 'error',
  warn: 'warning',
  warning: 'warning',
  notice: 'notice',
  info: 'info',
  information: 'info',
  debug: 'debug',
  dbug: 'debug',
  trace: 'debug',
  verbose: 'debug',
};

const KLOG: Record<number, Status> = { 0x49: 'info', 0x57: 'warning', 0x45: 'error', 0x46: 'critical' };

// A level word near the start: optionally after a timestamp-ish prefix, in
// brackets, or as level=/"level":.
const LEVEL_RE = /(?:^|[\s[("'=:|])(emerg(?:ency)?|fatal|panic|alert|crit(?:ical)?|err(?:or)?|eror|warn(?:ing)?|notice|info(?:rmation)?|debug|dbug|trace|verbose)(?=$|[\s\])"':|,])/i;

/**
 * The status of a log line from its leading level keyword (looked for in the
 * first 64 characters), `unknown` when there is none.
 */
export function detectStatus(message: string): Status {
  // klog (Kubernetes components): `I0501 10:20:30.123456 ...`
  const k = KLOG[message.charCodeAt(0)];
  if (k && /^.\d{4} \d\d:/.test(message.slice(0, 9))) return k;
  const head = message.length > 64 ? message.slice(0, 64) : message;
  const m = LEVEL_RE.exec(head);
  if (!m) return 'unknown';
  return LEVELS[m[1]!.toLowerCase()] ?? 'unknown';
}
