/**
 * Line formats of container log files: CRI (`<RFC3339Nano> <stream> <P|F> <msg>`)
 * and docker json-file (`{"log":"...","stream":"stdout","time":"..."}`), plus
 * level detection and ANSI stripping. Pure functions, no I/O.
 */

import type { Utf8String } from '../../../agent/model/point.js';

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

const cachedPrefix = Buffer.alloc(19);
let cachedPrefixMs = -1;

const digit = (b: number | undefined): number => (b !== undefined && b >= 0x30 && b <= 0x39 ? b - 0x30 : NaN);
const num2 = (buf: Buffer, i: number): number => digit(buf[i]) * 10 + digit(buf[i + 1]);

/** Whether `buf` at `start` has the cached 19 bytes (`2024-05-01T10:20:30`), seconds compared first: a JS loop beats Buffer.compare's native call here. */
function samePrefix(buf: Buffer, start: number): boolean {
  for (let k = 18; k >= 0; k--) if (buf[start + k] !== cachedPrefix[k]) return false;
  return true;
}

/** An RFC 3339 time as whole seconds since the epoch and nanoseconds (both exact as numbers). */
export interface TimeParts {
  sec: number;
  ns: number;
}

/**
 * The bytes version of {@link parseRfc3339Nano} for CRI lines, into `out` as
 * seconds and nanoseconds (no strings, no BigInt; the seconds part cached by
 * its 19 bytes): false when it is not such a time.
 */
export function parseRfc3339Parts(buf: Buffer, start: number, end: number, out: TimeParts): boolean {
  if (end - start < 20 || buf[start + 10] !== 0x54 /* T */) return false;
  let ms: number;
  if (cachedPrefixMs >= 0 && samePrefix(buf, start)) {
    ms = cachedPrefixMs;
  } else {
    if (buf[start + 4] !== 0x2d || buf[start + 7] !== 0x2d || buf[start + 13] !== 0x3a || buf[start + 16] !== 0x3a) return false;
    ms = Date.UTC(num2(buf, start) * 100 + num2(buf, start + 2), num2(buf, start + 5) - 1, num2(buf, start + 8), num2(buf, start + 11), num2(buf, start + 14), num2(buf, start + 17));
    if (!Number.isFinite(ms)) return false;
    buf.copy(cachedPrefix, 0, start, start + 19);
    cachedPrefixMs = ms;
  }
  let i = start + 19;
  let frac = 0;
  if (buf[i] === 0x2e /* . */) {
    i++;
    let scale = 100_000_000;
    for (let d = digit(buf[i]); !Number.isNaN(d); d = digit(buf[++i])) {
      frac += d * scale;
      scale /= 10;
    }
    frac = Math.trunc(frac);
  }
  const z = buf[i];
  let offsetS = 0;
  if (z === 0x5a || z === 0x7a) {
    i++;
  } else if (z === 0x2b || z === 0x2d) {
    if (buf[i + 3] !== 0x3a) return false;
    offsetS = (num2(buf, i + 1) * 60 + num2(buf, i + 4)) * 60 * (z === 0x2b ? 1 : -1);
    if (Number.isNaN(offsetS)) return false;
    i += 6;
  } else {
    return false;
  }
  if (i !== end) return false;
  out.sec = ms / 1000 - offsetS;
  out.ns = frac;
  return true;
}

/** Nanoseconds since the epoch of a parsed time. */
export function partsNs(t: TimeParts): bigint {
  return BigInt(t.sec) * 1_000_000_000n + BigInt(t.ns);
}

/**
 * Parses the head of one CRI line (without its `\n`) in `buf[start, end)`:
 * stream, partial flag and where the message starts; the time goes to
 * `time`. Undefined when the line is not CRI-shaped.
 */
export function parseCriHead(buf: Buffer, start: number, end: number, time: TimeParts): { stream: string; partial: boolean; msgStart: number } | undefined {
  const s1 = buf.indexOf(SP, start);
  if (s1 < 0 || s1 >= end) return undefined;
  const s2 = buf.indexOf(SP, s1 + 1);
  if (s2 < 0 || s2 >= end) return undefined;
  if (!parseRfc3339Parts(buf, start, s1, time)) return undefined;
  const stream = s2 - s1 === 7 && buf[s1 + 4] === 0x6f ? 'stdout' : s2 - s1 === 7 && buf[s1 + 4] === 0x65 ? 'stderr' : buf.toString('latin1', s1 + 1, s2);
  // The tag field: `P`, `F`, or a `:`-separated list whose first item is P/F.
  const tag = buf[s2 + 1];
  if (tag !== 0x50 /* P */ && tag !== 0x46 /* F */) return undefined;
  let s3 = s2 + 2;
  if (s3 < end && buf[s3] !== SP) {
    s3 = buf.indexOf(SP, s3);
    if (s3 < 0 || s3 > end) s3 = end;
  }
  return { stream, partial: tag === 0x50, msgStart: s3 < end ? s3 + 1 : end };
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

const LEVELS = new Map<string, Status>(Object.entries({
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
} as Record<string, Status>));

const KLOG: Record<number, Status> = { 0x49: 'info', 0x57: 'warning', 0x45: 'error', 0x46: 'critical' };

const MAX_LEVEL_WORD = 11; // "information"

function isLetter(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);
}

// Characters after which a level word may start, and that may end it.
const BEFORE = new Set([0x20, 0x09, 0x5b, 0x28, 0x22, 0x27, 0x3d, 0x3a, 0x7c]); // space tab [ ( " ' = : |
const AFTER = new Set([0x20, 0x09, 0x5d, 0x29, 0x22, 0x27, 0x3a, 0x7c, 0x2c]); // space tab ] ) " ' : | ,

/**
 * The status of a log line from its leading level keyword (looked for in the
 * first 64 bytes of its UTF-8: the first word that is a level name, alone or
 * after a timestamp, in brackets, quotes, or as `level=`), `unknown` when
 * there is none. Level words and their delimiters are ASCII, so the bytes
 * decide; a message held as a string is encoded (its first 80 characters).
 */
export function detectStatus(message: string | Utf8String): Status {
  if (typeof message !== 'string') return detectStatusRange(message.bytes, 0, message.bytes.length);
  const b = Buffer.from(message.length > 80 ? message.slice(0, 80) : message);
  // the message goes on past the encoded prefix: a word reaching its end is not a whole word
  return detectStatusRange(b, 0, b.length, message.length > 80);
}

/** LEVELS by a number computed from the letters (see detectStatusRange): no string per candidate word. */
const LEVEL_KEYS = new Map<number, Status>([...LEVELS].map(([w, st]) => [[...w].reduce((k, ch) => k * 27 + (ch.charCodeAt(0) - 0x60), 0), st]));

/** Lower-case first letters of the level words, and their shortest length is 3 ("err"): other words are not looked up. */
const FIRST = new Set([...LEVELS.keys()].map((w) => w.charCodeAt(0)));

const DIGIT = (c: number | undefined) => c !== undefined && c >= 0x30 && c <= 0x39;

/** detectStatus() of the UTF-8 message `buf[start, end)`, without decoding it. */
export function detectStatusRange(buf: Buffer, start: number, end: number, more = false): Status {
  // klog (Kubernetes components): `I0501 10:20:30.123456 ...`
  const k = KLOG[buf[start]!];
  if (k && end - start >= 9 && DIGIT(buf[start + 1]) && DIGIT(buf[start + 2]) && DIGIT(buf[start + 3]) && DIGIT(buf[start + 4]) && buf[start + 5] === 0x20 && DIGIT(buf[start + 6]) && DIGIT(buf[start + 7]) && buf[start + 8] === 0x3a) return k;
  const stop = Math.min(end, start + 64);
  let i = start;
  while (i < stop) {
    const c = buf[i]!;
    if (isLetter(c) && (i === start || BEFORE.has(buf[i - 1]!))) {
      let j = i + 1;
      while (j < end && j - i <= MAX_LEVEL_WORD && isLetter(buf[j]!)) j++;
      if (j - i >= 3 && j - i <= MAX_LEVEL_WORD && FIRST.has(buf[i]! | 0x20) && ((j === end && !more) || (j < end && AFTER.has(buf[j]!)))) {
        let key = 0; // the lower-cased letters in base 27: exact for up to 11 letters
        for (let x = i; x < j; x++) key = key * 27 + ((buf[x]! | 0x20) - 0x60);
        const level = LEVEL_KEYS.get(key);
        if (level) return level;
      }
      i = j;
    } else {
      i++;
    }
  }
  return 'unknown';
}
