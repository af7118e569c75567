/**
 * StatsD / DogStatsD line parsing. Pure functions, no state: the aggregator
 * calls {@link scanLine} once per line on the hot path, so it fills a reused
 * object instead of allocating one per line.
 *
 * Metric line: `<name>:<value>[:<value>...]|<type>[|@<rate>][|#<k:v>,<k>...][|<other DogStatsD field>]`
 * Event:        `_e{<title len>,<text len>}:<title>|<text>[|d:<ts>][|h:<host>][|p:<prio>][|t:<alert>][|k:<key>][|s:<source>][|#tags]`
 * Service check: `_sc|<name>|<status>[|d:<ts>][|h:<host>][|#tags][|m:<message>]`
 */

/** Why a line was rejected: the label of `telekit_statsd_malformed_total{reason}`. */
export type MalformedReason =
  | 'no_value'
  | 'no_type'
  | 'bad_type'
  | 'bad_value'
  | 'bad_sample_rate'
  | 'bad_name'
  | 'bad_event'
  | 'bad_service_check'
  | 'line_too_long';

export const MALFORMED_REASONS: readonly MalformedReason[] = [
  'no_value',
  'no_type',
  'bad_type',
  'bad_value',
  'bad_sample_rate',
  'bad_name',
  'bad_event',
  'bad_service_check',
  'line_too_long',
];

export type MetricType = 'c' | 'g' | 'ms' | 'h' | 'd' | 's';

/**
 * One scanned metric line, as positions in the text it came from (the hot
 * path slices nothing unless it must), plus a hash of name, type and tags.
 */
export interface ScannedLine {
  text: string;
  nameStart: number;
  nameEnd: number;
  /** The value part: one value, or several separated by `:`. */
  valStart: number;
  valEnd: number;
  /** DogStatsD tag text after `|#` (empty range when none or extensions are off). */
  tagsStart: number;
  tagsEnd: number;
  type: MetricType;
  /** 1 when absent. */
  rate: number;
  /**
   * Two independent 32-bit hashes over name, type and tags: `hash` keys the
   * line-shape cache, `hash2` (with the lengths and the type) confirms a hit,
   * so a wrong match needs a 64-bit collision.
   */
  hash: number;
  hash2: number;
}

export function newScannedLine(): ScannedLine {
  return { text: '', nameStart: 0, nameEnd: 0, valStart: 0, valEnd: 0, tagsStart: 0, tagsEnd: 0, type: 'c', rate: 1, hash: 0, hash2: 0 };
}

export const lineName = (l: ScannedLine): string => l.text.slice(l.nameStart, l.nameEnd);
export const lineValues = (l: ScannedLine): string => l.text.slice(l.valStart, l.valEnd);
export const lineTags = (l: ScannedLine): string => l.text.slice(l.tagsStart, l.tagsEnd);

/**
 * Two 32-bit hashes of `text[from, to)` in one pass (FNV-1a and a
 * multiply-rotate lane), continuing from `out.hash` / `out.hash2`.
 */
function hash2(text: string, from: number, to: number, out: ScannedLine): void {
  let h = out.hash;
  let g = out.hash2;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    h = Math.imul(h ^ c, 0x01000193);
    g = Math.imul((g << 5) | (g >>> 27), 0x9e3779b1) ^ c;
  }
  out.hash = h;
  out.hash2 = g;
}

/** The type between `from` and `to` (exclusive), read from char codes: no substring per line. */
function metricType(line: string, from: number, to: number): MetricType | undefined {
  const a = line.charCodeAt(from);
  if (to - from === 1) {
    if (a === 99 /* c */) return 'c';
    if (a === 103 /* g */) return 'g';
    if (a === 104 /* h */) return 'h';
    if (a === 100 /* d */) return 'd';
    if (a === 115 /* s */) return 's';
    return undefined;
  }
  return to - from === 2 && a === 109 /* m */ && line.charCodeAt(from + 1) === 115 /* s */ ? 'ms' : undefined;
}

/**
 * Scans the metric line `text[start, end)` into `out`. Returns undefined on
 * success, else the reason. Unknown DogStatsD fields (`|c:<container>`,
 * `|T<timestamp>`, `|card:`) are ignored, as the Datadog agent ignores what it
 * does not use.
 */
export function scanLine(text: string, start: number, end: number, ddTags: boolean, out: ScannedLine): MalformedReason | undefined {
  const colon = text.indexOf(':', start);
  if (colon < 0 || colon >= end) return 'no_value';
  if (colon === start) return 'bad_name';
  const pipe = text.indexOf('|', colon + 1);
  if (pipe < 0 || pipe >= end) return 'no_type';
  if (pipe === colon + 1) return 'bad_value';
  let next = text.indexOf('|', pipe + 1);
  if (next >= end) next = -1;
  const typeEnd = next < 0 ? end : next;
  const type = metricType(text, pipe + 1, typeEnd);
  if (type === undefined) return 'bad_type';
  out.text = text;
  out.nameStart = start;
  out.nameEnd = colon;
  out.valStart = colon + 1;
  out.valEnd = pipe;
  out.type = type;
  out.rate = 1;
  out.tagsStart = out.tagsEnd = end;
  while (next >= 0) {
    const from = next + 1;
    next = text.indexOf('|', from);
    if (next >= end) next = -1;
    const to = next < 0 ? end : next;
    const c = text.charCodeAt(from);
    if (c === 64 /* @ */) {
      const r = Number(text.slice(from + 1, to));
      if (!(r >= MIN_SAMPLE_RATE && r <= 1)) return 'bad_sample_rate';
      out.rate = r;
    } else if (c === 35 /* # */ && ddTags) {
      out.tagsStart = from + 1;
      out.tagsEnd = to;
    }
  }
  out.hash = 0x811c9dc5;
  out.hash2 = 0x2545f491;
  hash2(text, start, colon, out);
  hash2(text, pipe, typeEnd, out); // '|' + type
  hash2(text, out.tagsStart, out.tagsEnd, out);
  return undefined;
}

/** Parses `text[from, to)` as a number without slicing when it is a short unsigned integer. */
export function parseValueAt(text: string, from: number, to: number): number | undefined {
  const n = to - from;
  if (n > 0 && n <= 6) {
    let v = 0;
    let i = from;
    for (; i < to; i++) {
      const d = text.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      v = v * 10 + d;
    }
    if (i === to) return v;
  }
  return parseNumber(text.slice(from, to));
}

/**
 * Bounds that keep every aggregate finite (a sum or a square reaching Infinity
 * would poison a series and break line protocol): values beyond 1e100 and
 * sample rates below 1e-9 are malformed; no real metric comes near either.
 */
export const MAX_ABS_VALUE = 1e100;
export const MIN_SAMPLE_RATE = 1e-9;

/**
 * Parses one numeric value. `Number()` alone accepts '', ' ', '0x1f' and
 * 'Infinity'; StatsD values are decimal, so those are rejected.
 */
export function parseNumber(s: string): number | undefined {
  const n = s.length;
  if (n === 0) return undefined;
  if (n <= 6) {
    // fast path: short unsigned integers ("1", "250") are most of what clients send
    let v = 0;
    let i = 0;
    for (; i < n; i++) {
      const d = s.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      v = v * 10 + d;
    }
    if (i === n) return v;
  }
  const c = s.charCodeAt(n - 1);
  if (c < 48 || c > 57) {
    if (c !== 46 /* . */) return undefined; // last char must be a digit or '.'
  }
  const v = Number(s);
  if (!(Math.abs(v) <= MAX_ABS_VALUE)) return undefined; // also NaN / Infinity
  // reject hex / binary / octal literals and inner blanks Number() tolerates
  if (s.length > 1 && s.charCodeAt(0) === 48) {
    const x = s.charCodeAt(1) | 32;
    if (x === 120 || x === 98 || x === 111) return undefined;
  }
  if (s.includes(' ')) return undefined;
  return v;
}

/**
 * Parses DogStatsD tags (`k:v,k2,k3:`) into `into`. A tag without a value
 * becomes `k=true` (as DataKit/Telegraf do: line protocol has no empty tags).
 * Empty keys are skipped.
 */
export function parseDogTags(s: string, into: Record<string, string>): void {
  if (s === '') return;
  let start = 0;
  while (start <= s.length) {
    let end = s.indexOf(',', start);
    if (end < 0) end = s.length;
    const colon = s.indexOf(':', start);
    if (colon >= 0 && colon < end) {
      const k = s.slice(start, colon);
      const v = s.slice(colon + 1, end);
      if (k !== '') into[k] = v === '' ? 'true' : v;
    } else {
      const k = s.slice(start, end);
      if (k !== '') into[k] = 'true';
    }
    start = end + 1;
  }
}

/** Influx-style tags inside the bucket name: `name,k=v,k2=v2`. Returns the bare name. */
export function splitBucketTags(bucket: string, into: Record<string, string>): string {
  const comma = bucket.indexOf(',');
  if (comma < 0) return bucket;
  for (const kv of bucket.slice(comma + 1).split(',')) {
    const eq = kv.indexOf('=');
    if (eq > 0 && eq < kv.length - 1 && kv.indexOf('=', eq + 1) < 0) into[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return bucket.slice(0, comma);
}

export interface DogEvent {
  title: string;
  text: string;
  /** Seconds since the epoch, when the sender set `d:`. */
  timestamp?: number;
  host?: string;
  priority: 'normal' | 'low';
  alertType: 'info' | 'warning' | 'error' | 'success';
  aggregationKey?: string;
  sourceType?: string;
  tags: Record<string, string>;
}

/**
 * Parses a DogStatsD event. Lengths are taken as UTF-16 code units (what
 * JavaScript clients such as hot-shots send) and, failing that, as UTF-8 bytes
 * (what the Datadog spec says).
 */
export function parseEvent(line: string): DogEvent | undefined {
  const m = /^_e\{(\d+),(\d+)\}:/.exec(line);
  if (!m) return undefined;
  const tl = Number(m[1]);
  const xl = Number(m[2]);
  const body = line.slice(m[0].length);
  let title: string;
  let text: string;
  let rest: string;
  if (body.charCodeAt(tl) === 124 /* | */ && (body.length === tl + 1 + xl || body.charCodeAt(tl + 1 + xl) === 124)) {
    title = body.slice(0, tl);
    text = body.slice(tl + 1, tl + 1 + xl);
    rest = body.slice(tl + 1 + xl);
  } else {
    const b = Buffer.from(body, 'utf8');
    if (b[tl] !== 124 || b.length < tl + 1 + xl || (b.length > tl + 1 + xl && b[tl + 1 + xl] !== 124)) return undefined;
    title = b.subarray(0, tl).toString('utf8');
    text = b.subarray(tl + 1, tl + 1 + xl).toString('utf8');
    rest = b.subarray(tl + 1 + xl).toString('utf8');
  }
  if (title === '') return undefined;
  const ev: DogEvent = { title, text: text.replaceAll('\\n', '\n'), priority: 'normal', alertType: 'info', tags: {} };
  if (rest === '') return ev;
  for (const f of rest.slice(1).split('|')) {
    if (f.startsWith('#')) parseDogTags(f.slice(1), ev.tags);
    else if (f.startsWith('d:')) {
      const ts = parseNumber(f.slice(2));
      if (ts !== undefined) ev.timestamp = ts;
    } else if (f.startsWith('h:')) ev.host = f.slice(2);
    else if (f.startsWith('p:')) ev.priority = f.slice(2) === 'low' ? 'low' : 'normal';
    else if (f.startsWith('t:')) {
      const t = f.slice(2);
      if (t === 'info' || t === 'warning' || t === 'error' || t === 'success') ev.alertType = t;
    } else if (f.startsWith('k:')) ev.aggregationKey = f.slice(2);
    else if (f.startsWith('s:')) ev.sourceType = f.slice(2);
    else if (f !== '') return undefined;
  }
  return ev;
}

export const CHECK_STATUS = ['ok', 'warning', 'critical', 'unknown'] as const;

export interface DogServiceCheck {
  name: string;
  /** 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. */
  status: 0 | 1 | 2 | 3;
  timestamp?: number;
  host?: string;
  message?: string;
  tags: Record<string, string>;
}

export function parseServiceCheck(line: string): DogServiceCheck | undefined {
  if (!line.startsWith('_sc|')) return undefined;
  // m: (the message) must come last and may contain '|'? The spec says it is last; keep it whole.
  const mi = line.indexOf('|m:');
  const head = mi >= 0 ? line.slice(0, mi) : line;
  const parts = head.split('|');
  const name = parts[1] ?? '';
  const st = parts[2] ?? '';
  if (name === '' || !/^[0-3]$/.test(st)) return undefined;
  const sc: DogServiceCheck = { name, status: Number(st) as 0 | 1 | 2 | 3, tags: {} };
  for (const f of parts.slice(3)) {
    if (f.startsWith('#')) parseDogTags(f.slice(1), sc.tags);
    else if (f.startsWith('d:')) {
      const ts = parseNumber(f.slice(2));
      if (ts !== undefined) sc.timestamp = ts;
    } else if (f.startsWith('h:')) sc.host = f.slice(2);
    else if (f !== '') return undefined;
  }
  if (mi >= 0) sc.message = line.slice(mi + 3).replaceAll('\\n', '\n');
  return sc;
}
