/**
 * Sinks: where batches go. A sink implements only `send(batch)`; the core's
 * sender owns batching, retries with backoff and jitter, concurrency, the disk
 * buffer and self-metrics.
 */
import type { Category, Point } from '../../model/point.js';

export type SendResult =
  | { ok: true }
  /** Worth retrying later (network error, 5xx, 429). */
  | { ok: false; retryable: true; reason: string; retryAfterMs?: number }
  /**
   * Will never succeed (4xx other than 429): dropped and counted. `status`: the
   * HTTP status, if any; `delivered`: how many leading records of the batch
   * were taken before the refusal, when the sink knows (a batch sent as several
   * bodies). With both, a 400 on a batch is isolated by splitting it (the sender).
   */
  | { ok: false; retryable: false; reason: string; status?: number; delivered?: number };

/**
 * How a batch's points can travel already encoded, one record each:
 * `lp` = a line of line protocol, `pb` = a PBPoints `arr` entry (tag,
 * length, PBPoint; records one after another make a PBPoints body).
 */
export type RecordFormat = 'lp' | 'pb';

export interface Batch {
  readonly category: Category;
  /** Empty when `lines` is set. */
  readonly points: readonly Point[];
  /**
   * The points already encoded (times filled in), one record each in
   * `format`, set by the sender when every sink of the category takes records
   * of that format (`records`): the queue then holds bytes outside the JS
   * heap instead of tags/fields objects and strings, which young-generation
   * GC had to copy while they waited.
   */
  readonly lines?: EncodedLines;
  /** The records' format when `lines` is set; `lp` when absent. */
  readonly format?: RecordFormat;
  /** Time (ns) for points that carry none: when the batch was cut. */
  readonly defaultTime: bigint;
}

/** Records (lines) back to back in one buffer; `ends[i]` is the offset just after record i. */
export interface EncodedLines {
  readonly data: Buffer;
  readonly ends: readonly number[];
}

/**
 * A raw upload forwarded as it came (session replay segments): the body and
 * its content headers go to the dataway's `path` untouched, not as points.
 */
export interface Upload {
  /** Short name for files and metric labels, e.g. `rum_replay`. */
  readonly kind: string;
  /** Dataway path, e.g. `/v1/write/rum/replay` (the sink adds its token). */
  readonly path: string;
  /** Headers sent as they came (lower-case names), e.g. the multipart content-type with its boundary. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /** The tags the upload carries (its form values) and the global tags, for the dataway's `X-Global-Tags`. */
  readonly tags: Readonly<Record<string, string>>;
  /** The global (host) tags added by the core: what `X-Global-Tags` says. */
  readonly globalTags: Readonly<Record<string, string>>;
}

export interface Sink {
  /** Stable, token-free name for logs and metric labels, e.g. `dataway[0]`, `file`, `otlp`. */
  readonly name: string;
  /** Whether this sink wants batches of the category (an OTLP sink takes only tracing). */
  accepts(category: Category): boolean;
  /** The record format in which the sink can send batches of pre-encoded `lines` (no `points`) for the category, if any. */
  records?(category: Category): RecordFormat | undefined;
  /** Sends one batch once (no retries inside). Never throws: failures are results. */
  send(batch: Batch, signal?: AbortSignal): Promise<SendResult>;
  /** Sends one raw upload once (no retries inside); absent = the sink does not take uploads. Never throws. */
  upload?(u: Upload, signal?: AbortSignal): Promise<SendResult>;
  /** Releases connections/files. Idempotent. */
  close(): Promise<void>;
}

/** The number of points a batch carries. */
export function batchSize(b: Batch): number {
  return b.lines ? b.lines.ends.length : b.points.length;
}
