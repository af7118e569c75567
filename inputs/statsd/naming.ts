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
  /** Identity of the series: type, measurement, field and sorted tags. */
  key: string;
  /** Series sharing this (measurement + sorted tags) are emitted as one point. */
  group: string;
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
  // the inputs are slices of a received packet: copy what is kept, or each series would pin a whole packet
  bucket = own(bucket);
  dogTags = own(dogTags);
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
  const sorted = Object.keys(tags).sort();
  let tagKey = '';
  for (const k of sorted) tagKey += `\u0000${k}\u0001${tags[k]}`;
  const group = measurement + tagKey;
  return { type, measurement, field, tags, key: `${type}\u0002${field}\u0002${group}`, group };
}
