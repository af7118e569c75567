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

/** One scanned metric line; values are still text (sets keep them as text). */
export interface ScannedLine {
  name: string;
  type: MetricType;
  /** The value part: one value, or several separated by `:`. */
  values: string;
  /** 1 when absent. */
  rate: number;
  /** DogStatsD tag text after `|#` (empty when none or extensions are off). */
  tags: string;
}

export function newScannedLine(): ScannedLine {
  return { name: '', type: 'c', values: '', rate: 1, tags: '' };
}

function metricType(s: string): MetricType | undefined {
  switch (s) {
    case 'c':
    case 'g':
    case 'ms':
    case 'h':
    case 'd':
    case 's':
      return s;
    default:
      return undefined;
  }
}

/**
 * Splits a metric line into `out`. Returns undefined on success, else the
 * reason. Unknown DogStatsD fields (`|c:<container>`, `|T<timestamp>`,
 * `|card:`) are ignored, as the Datadog agent ignores what it does not use.
 */
export function scanLine(line: string, ddTags: boolean, out: ScannedLine): MalformedReason | undefined {
  const colon = line.indexOf(':');
  if (colon < 0) return 'no_value';
  if (colon === 0) return 'bad_name';
  const pipe = line.indexOf('|', colon + 1);
  if (pipe < 0) return 'no_type';
  if (pipe === colon + 1) return 'bad_value';
  let next = line.indexOf('|', pipe + 1);
  const type = metricType(next < 0 ? line.slice(pipe + 1) : line.slice(pipe + 1, next));
  if (type === undefined) return 'bad_type';
  out.name = line.slice(0, colon);
  out.type = type;
  out.values = line.slice(colon + 1, pipe);
  out.rate = 1;
  out.tags = '';
  while (next >= 0) {
    const start = next + 1;
    next = line.indexOf('|', start);
    const c = line.charCodeAt(start);
    if (c === 64 /* @ */) {
      const r = Number(next < 0 ? line.slice(start + 1) : line.slice(start + 1, next));
      if (!(r > 0 && r <= 1)) return 'bad_sample_rate';
      out.rate = r;
    } else if (c === 35 /* # */ && ddTags) {
      out.tags = next < 0 ? line.slice(start + 1) : line.slice(start + 1, next);
    }
  }
  return undefined;
}

/**
 * Parses one numeric value. `Number()` alone accepts '', ' ', '0x1f' and
 * 'Infinity'; StatsD values are decimal, so those are rejected.
 */
export function parseNumber(s: string): number | undefined {
  if (s.length === 0) return undefined;
  const c = s.charCodeAt(s.length - 1);
  if (c < 48 || c > 57) {
    if (c !== 46 /* . */) return undefined; // last char must be a digit or '.'
  }
  const v = Number(s);
  if (!Number.isFinite(v)) return undefined;
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
