/**
 * From a StatsD bucket to a series: measurement, field and tags, following
 * DataKit (shared/spec/datakit.md): `.` becomes the separator, then the name
 * splits into measurement and field on the first separator, unless a
 * `metric_mapping` prefix matches. Runs once per distinct line shape (the
 * aggregator caches the result), so clarity beats speed here.
 */
import { parseDogTags, splitBucketTags, type MetricType } from './parser.js';

export const METRIC_TYPE_TAG: Record<MetricType, string> = {
  c: 'counter',
  g: 'gauge',
  s: 'set',
  ms: 'timing',
  h: 'histogram',
  d: 'distribution',
};

export interface NamingOptions {
  separator: string;
  /** `[prefix, measurement]` in config order; the first match wins. */
  mappings: ReadonlyArray<readonly [string, string]>;
  dropTags: ReadonlySet<string>;
  hostKey: string;
  sourceKey: string;
  saveAboveKey: boolean;
}

/** A resolved series identity. */
export interface SeriesId {
  type: MetricType;
  measurement: string;
  field: string;
  tags: Readonly<Record<string, string>>;
  /**
   * Identity of the series, and all the aggregator keeps of it: type, field,
   * measurement and sorted tags, serialized once (see {@link decodeKey}).
   * A flat string of its own: it pins no packet.
   */
  key: string;
  /** What the series counts against max_series_bytes: its name, tag keys and values. */
  bytes: number;
}

/** The key's first character, per type. */
const TYPE_CHAR: Record<MetricType, string> = { c: 'c', g: 'g', s: 's', ms: 'm', h: 'h', d: 'd' };
const CHAR_TYPE: Readonly<Record<string, MetricType>> = { c: 'c', g: 'g', s: 's', m: 'ms', h: 'h', d: 'd' };

/** Single-character lengths below 128, made once. */
const SHORT_LEN = Array.from({ length: 128 }, (_, i) => String.fromCharCode(i));

/**
 * A length as base-128 digits, low first, the high bit marking "more": one
 * character below 128, and every character below 256, so a key of Latin-1
 * text stays a one-byte string.
 */
function lenPrefix(n: number): string {
  if (n < 128) return SHORT_LEN[n]!;
  let s = '';
  while (n >= 128) {
    s += String.fromCharCode(128 | (n & 127));
    n >>>= 7;
  }
  return s + String.fromCharCode(n);
}

/**
 * Serializes a series identity: the type's character, then field, measurement
 * and each sorted tag key and value, each preceded by its length. Lengths
 * rather than separators, so any text (even control characters in a name)
 * decodes back unchanged and two identities never share a key.
 */
export function encodeKey(type: MetricType, field: string, measurement: string, tags: Readonly<Record<string, string>>): string {
  const parts = [TYPE_CHAR[type], lenPrefix(field.length), field, lenPrefix(measurement.length), measurement];
  for (const k of Object.keys(tags).sort()) parts.push(lenPrefix(k.length), k, lenPrefix(tags[k]!.length), tags[k]!);
  // join() copies into one flat string: no rope of slices of the packet the parts came from
  return parts.join('');
}

/** A key decoded: `group` is where measurement and tags start (series with the same key suffix share a point). */
export interface DecodedKey {
  type: MetricType;
  field: string;
  measurement: string;
  group: number;
}

/** Reads a length prefix at `at`; returns the length, and the position after it in `pos.at`. */
function readLen(key: string, pos: { at: number }): number {
  let n = 0;
  let shift = 0;
  for (;;) {
    const c = key.charCodeAt(pos.at++);
    n += (c & 127) * 2 ** shift;
    if (!(c >= 128)) return n; // (NaN past the end: stop too)
    shift += 7;
  }
}

const cursor = { at: 0 };

/** Decodes a key's type, field and measurement (the tags: {@link decodeTags}). */
export function decodeKey(key: string): DecodedKey {
  const type = CHAR_TYPE[key[0]!]!;
  cursor.at = 1;
  let n = readLen(key, cursor);
  const field = key.slice(cursor.at, cursor.at + n);
  cursor.at += n;
  const group = cursor.at;
  n = readLen(key, cursor);
  const measurement = key.slice(cursor.at, cursor.at + n);
  return { type, field, measurement, group };
}

/** The tags of a key, in sorted order. */
export function decodeTags(key: string, d: DecodedKey): Record<string, string> {
  const tags: Record<string, string> = {};
  cursor.at = d.group;
  const m = readLen(key, cursor); // the measurement
  cursor.at += m;
  while (cursor.at < key.length) {
    let n = readLen(key, cursor);
    const k = key.slice(cursor.at, cursor.at + n);
    cursor.at += n;
    n = readLen(key, cursor);
    tags[k] = key.slice(cursor.at, cursor.at + n);
    cursor.at += n;
  }
  return tags;
}

/**
 * A flat copy of `s`. V8 keeps substrings of 13+ characters as views on their
 * parent string; stored in a long-lived series they would keep the packet alive.
 */
export function own(s: string): string {
  return s.length < 13 ? s : Buffer.from(s, 'utf8').toString('utf8');
}

/** Splits a (separator-joined) name into measurement and field. */
export function splitName(name: string, opts: Pick<NamingOptions, 'separator' | 'mappings'>): { measurement: string; field: string } {
  if (opts.mappings.length > 0) {
    for (const [prefix, measurement] of opts.mappings) {
      if (name.startsWith(prefix) && name.length > prefix.length) return { measurement, field: name.slice(prefix.length) };
    }
    return { measurement: name, field: name };
  }
  const i = name.indexOf(opts.separator);
  if (i <= 0 || i + opts.separator.length >= name.length) return { measurement: name, field: name };
  return { measurement: name.slice(0, i), field: name.slice(i + opts.separator.length) };
}

/**
 * Resolves a bucket (which may carry Influx-style `,k=v` tags), its type and
 * its DogStatsD tag text into a series identity. Undefined when the name is empty.
 */
export function resolveSeries(bucket: string, type: MetricType, dogTags: string, opts: NamingOptions): SeriesId | undefined {
  // the inputs may be slices of a received packet: only the key is kept, and it is a flat copy
  const tags: Record<string, string> = {};
  let name = splitBucketTags(bucket, tags).trim();
  if (name === '') return undefined;
  tags.metric_type = METRIC_TYPE_TAG[type];
  parseDogTags(dogTags, tags);
  if (opts.hostKey !== '' && tags[opts.hostKey] !== undefined) {
    tags.host = tags[opts.hostKey]!;
    if (!opts.saveAboveKey && opts.hostKey !== 'host') delete tags[opts.hostKey];
  }
  if (opts.sourceKey !== '' && tags[opts.sourceKey] !== undefined) {
    tags.source = tags[opts.sourceKey]!;
    if (!opts.saveAboveKey && opts.sourceKey !== 'source') delete tags[opts.sourceKey];
  }
  for (const k of opts.dropTags) delete tags[k];
  if (opts.separator !== '.') name = name.replaceAll('.', opts.separator);
  const { measurement, field } = splitName(name, opts);
  let bytes = measurement.length + field.length;
  for (const k in tags) bytes += k.length + tags[k]!.length;
  return { type, measurement, field, tags, key: encodeKey(type, field, measurement, tags), bytes };
}
