/**
 * A scrape target: one URL of one instance, turned into a scheduler job that
 * scrapes, converts and hands points to the accumulator. Failures are counted
 * (`telekit_prom_scrape_errors_total{reason}`) and logged at most once a
 * minute per reason; nothing here throws.
 */
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { H1Client } from './http1.js';
import type { Accumulator, AddOptions } from '../../agent/input/contract.js';
import { LineBuf } from '../../agent/model/linebuf.js';
import { nowNs } from '../../agent/model/point.js';
import { redactUrl } from '../../agent/telemetry/redact.js';
import type { PromConfig } from './config.js';
import { Converter, type ConvertResult, type LinesResult } from './convert.js';
import type { Job } from './scheduler.js';
import { scrape, tokenFile } from './scrape.js';

export interface PromMetrics {
  scrapes: Counter<'result'>;
  errors: Counter<'reason'>;
  samples: Counter<string>;
  invalidLines: Counter<string>;
  filtered: Counter<string>;
  skipped: Counter<'reason'>;
  duration: Histogram<string>;
  targets: Gauge<'kind'>;
}

function getOrCreate<T>(reg: Registry, name: string, make: () => T): T {
  return (reg.getSingleMetric(name) as T | undefined) ?? make();
}

/** The input's self-metrics, shared by every instance (registered once per registry). */
export function promMetrics(reg: Registry): PromMetrics {
  const registers = [reg];
  return {
    scrapes: getOrCreate(reg, 'telekit_prom_scrapes_total', () => new Counter({ name: 'telekit_prom_scrapes_total', help: 'Scrapes by result (ok, error).', labelNames: ['result'] as const, registers })),
    errors: getOrCreate(reg, 'telekit_prom_scrape_errors_total', () => new Counter({ name: 'telekit_prom_scrape_errors_total', help: 'Failed scrapes by reason (timeout, connect, tls, http_status, too_large, decode, invalid_url, config).', labelNames: ['reason'] as const, registers })),
    samples: getOrCreate(reg, 'telekit_prom_samples_total', () => new Counter({ name: 'telekit_prom_samples_total', help: 'Samples parsed.', registers })),
    invalidLines: getOrCreate(reg, 'telekit_prom_invalid_lines_total', () => new Counter({ name: 'telekit_prom_invalid_lines_total', help: 'Malformed exposition lines skipped.', registers })),
    filtered: getOrCreate(reg, 'telekit_prom_filtered_samples_total', () => new Counter({ name: 'telekit_prom_filtered_samples_total', help: 'Samples dropped by metric_types, name filters or ignore_tag_kv_match.', registers })),
    skipped: getOrCreate(reg, 'telekit_prom_scrapes_skipped_total', () => new Counter({ name: 'telekit_prom_scrapes_skipped_total', help: 'Scrape ticks skipped (overrun: previous scrape unfinished; backpressure: pipeline full).', labelNames: ['reason'] as const, registers })),
    duration: getOrCreate(reg, 'telekit_prom_scrape_duration_seconds', () => new Histogram({ name: 'telekit_prom_scrape_duration_seconds', help: 'Scrape duration including conversion.', buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30], registers })),
    targets: getOrCreate(reg, 'telekit_prom_targets', () => new Gauge({ name: 'telekit_prom_targets', help: 'Scrape targets by kind (config, annotation, prometheus_io).', labelNames: ['kind'] as const, registers })),
  };
}

/** Logs a message at most once a minute per key. */
export class RateLimitedLog {
  private readonly last = new Map<string, number>();
  constructor(private readonly log: Logger) {}
  warn(key: string, obj: object, msg: string): void {
    const now = Date.now();
    const at = this.last.get(key) ?? 0;
    if (now - at < 60_000) return;
    if (this.last.size > 1000) this.last.clear();
    this.last.set(key, now);
    this.log.warn(obj, msg);
  }
}

export interface TargetEnv {
  acc: Accumulator;
  metrics: PromMetrics;
  rl: RateLimitedLog;
  client: H1Client;
}

/** `host:port` of a URL, DataKit's `instance` tag. */
export function instanceOf(url: string): string {
  try {
    const u = new URL(url);
    const port = u.port || (u.protocol === 'https:' ? '443' : '80');
    return `${u.hostname}:${port}`;
  } catch {
    return redactUrl(url);
  }
}

/**
 * Where lines mode writes a scrape before the core copies it into its batch
 * (synchronously, in Accumulator.addLines): one buffer for every target.
 */
let scratch = new LineBuf(256 << 10);
const SCRATCH_KEEP = 4 << 20;

/** Whether the core takes the metric category's lines as they are (every sink takes line protocol). */
function takesLines(acc: Accumulator): boolean {
  return acc.addLines !== undefined && acc.tagsToAdd !== undefined && acc.takesLines?.('metric') === true;
}

/** Builds the job scraping `url` with `config`; `tags` are added to every point (labels win). */
export function makeJob(key: string, url: string, config: PromConfig, tags: Readonly<Record<string, string>>, env: TargetEnv): Job {
  const converter = new Converter(config);
  const base: Record<string, string> = { ...tags };
  if (!config.disable_instance_tag && base.instance === undefined) base.instance = instanceOf(url);
  const frozenBase = Object.freeze(base);
  // DataKit's disable_host_tag: the core leaves out the global `host` tag for these points
  const addOpts: AddOptions | undefined = config.disable_host_tag ? { omitGlobalTags: ['host'] } : undefined;
  const auth = config.auth;
  const tokenPath = config.bearer_token_file || (auth.type === 'bearer_token' ? (auth.token_file ?? '') : '');
  const staticToken = auth.type === 'bearer_token' ? auth.token : undefined;
  const token = tokenPath ? tokenFile(tokenPath) : staticToken ? () => staticToken : undefined;
  const req = { url, timeoutMs: Math.min(config.timeout, config.interval), maxBytes: config.max_body_bytes, headers: config.http_headers, token };
  const { acc, metrics, rl } = env;
  const shownUrl = redactUrl(url);
  return {
    key,
    intervalMs: config.interval,
    async run(signal) {
      const started = performance.now();
      const r = await scrape(env.client, req, signal);
      if (!r.ok) {
        if (r.reason === 'aborted') return;
        metrics.scrapes.inc({ result: 'error' });
        metrics.errors.inc({ reason: r.reason });
        rl.warn(`scrape:${r.reason}`, { url: shownUrl, reason: r.reason, err: redactUrl(r.message) }, 'Scrape failed (logged once a minute per reason; all failures are counted in telekit_prom_scrape_errors_total).');
        return;
      }
      const time = nowNs();
      let res: ConvertResult | LinesResult | undefined;
      const out = scratch;
      try {
        // lines mode: the scrape written as the core would write its points, without them (lines.ts)
        if (takesLines(acc)) res = converter.convertLines(r.text, r.openMetrics, frozenBase, time, acc.tagsToAdd!(addOpts), out);
        res ??= converter.convert(r.text, r.openMetrics, frozenBase, time);
      } catch (e) {
        out.reset();
        metrics.scrapes.inc({ result: 'error' });
        metrics.errors.inc({ reason: 'decode' });
        rl.warn('convert', { url: shownUrl, err: (e as Error).message }, 'Could not convert a scrape.');
        return;
      }
      metrics.scrapes.inc({ result: 'ok' });
      metrics.samples.inc(res.stats.samples);
      if (res.filtered > 0) metrics.filtered.inc(res.filtered);
      if (res.stats.invalid > 0) {
        metrics.invalidLines.inc(res.stats.invalid);
        rl.warn('invalid', { url: shownUrl, lines: res.stats.invalid, first: res.stats.firstError }, 'Skipped malformed exposition lines.');
      }
      if ('lines' in res) {
        if (res.lines > 0 && !signal.aborted) acc.addLines!('metric', out.data, out.ends, addOpts);
        out.reset();
        if (out.data.length > SCRATCH_KEEP) scratch = new LineBuf(256 << 10);
      } else if (res.points.length > 0 && !signal.aborted) acc.add(res.points, addOpts);
      metrics.duration.observe((performance.now() - started) / 1000);
    },
  };
}
