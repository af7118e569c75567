/**
 * GitLab's own Prometheus metrics (`enable_collect`), mapped the way DataKit's
 * gitlab input maps them: only counters and histograms; the field is the metric
 * name without its `gitlab_` prefix (histograms: `<name>_count`, `<name>_sum`);
 * labels become tags; measurement `gitlab_base` for series without labels,
 * `gitlab_http` for series with a `method` label, else `gitlab`.
 * `http_requests_total` is skipped, as in DataKit.
 */
import { nowNs, type Point } from '../../agent/model/point.js';

const IGNORE = new Set(['http_requests_total']);

interface Family {
  type: string;
  /** label-set key → series */
  series: Map<string, { labels: Record<string, string>; fields: Record<string, number> }>;
}

function parseLabels(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of s.matchAll(/([a-zA-Z_]\w*)\s*=\s*"((?:[^"\\]|\\.)*)"/g)) {
    out[m[1]!] = m[2]!.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return out;
}

/** Parses the Prometheus text format (0.0.4) into DataKit's gitlab points. Malformed lines are skipped. */
export function gitlabMetricPoints(text: string, scrapeHost: string | undefined): Point[] {
  const families = new Map<string, Family>();
  const typeOf = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.trim().split(/\s+/);
      if (name && type) typeOf.set(name, type);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const sample = m[1]!;
    let family = sample;
    let suffix = '';
    for (const s of ['_bucket', '_sum', '_count']) {
      const base = sample.slice(0, -s.length);
      if (sample.endsWith(s) && typeOf.get(base) === 'histogram') {
        family = base;
        suffix = s;
      }
    }
    const type = typeOf.get(family);
    if ((type !== 'counter' && type !== 'histogram') || IGNORE.has(family)) continue;
    if (type === 'histogram' && suffix === '_bucket') continue;
    const value = Number(m[3]);
    if (!Number.isFinite(value)) continue;
    const labels = parseLabels(m[2] ?? '');
    const key = JSON.stringify(Object.entries(labels).sort());
    let f = families.get(family);
    if (!f) families.set(family, (f = { type, series: new Map() }));
    let s = f.series.get(key);
    if (!s) f.series.set(key, (s = { labels, fields: {} }));
    const field = family.replace(/^gitlab_/, '') + (type === 'histogram' ? suffix : '');
    s.fields[field] = value;
  }
  const time = nowNs();
  const out: Point[] = [];
  for (const f of families.values()) {
    for (const s of f.series.values()) {
      const name = Object.keys(s.labels).length === 0 ? 'gitlab_base' : 'method' in s.labels ? 'gitlab_http' : 'gitlab';
      const tags = { ...s.labels };
      if (scrapeHost) tags.host = scrapeHost;
      out.push({ category: 'metric', name, tags, fields: { ...s.fields }, time });
    }
  }
  return out;
}

/** DataKit sets `host` to the scraped host unless it is loopback. */
export function scrapeHostTag(url: string): string | undefined {
  try {
    const h = new URL(url).hostname.replace(/^\[|\]$/g, '');
    return h === 'localhost' || h === '::1' || /^127\./.test(h) ? undefined : h;
  } catch {
    return undefined;
  }
}
