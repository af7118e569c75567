/**
 * Sinks: where batches go. A sink implements only `send(batch)`; the core's
 * sender owns batching, retries with backoff and jitter, concurrency, the disk
 * buffer and self-metrics.
 */
import type { Category, Point } from '../point.js';

export type SendResult =
  | { ok: true }
  /** Worth retrying later (network error, 5xx, 429). */
  | { ok: false; retryable: true; reason: string; retryAfterMs?: number }
  /** Will never succeed (4xx other than 429): dropped and counted. */
  | { ok: false; retryable: false; reason: string };

export interface Batch {
  readonly category: Category;
  readonly points: readonly Point[];
  /** Time (ns) for points that carry none: when the batch was cut. */
  readonly defaultTime: bigint;
}

export interface Sink {
  /** Stable, token-free name for logs and metric labels, e.g. `dataway[0]`, `file`, `otlp`. */
  readonly name: string;
  /** Whether this sink wants batches of the category (an OTLP sink takes only tracing). */
  accepts(category: Category): boolean;
  /** Sends one batch once (no retries inside). Never throws: failures are results. */
  send(batch: Batch, signal?: AbortSignal): Promise<SendResult>;
  /** Releases connections/files. Idempotent. */
  close(): Promise<void>;
}
