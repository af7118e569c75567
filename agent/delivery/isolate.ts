/**
 * One client's bad point must not drop everyone's: after a sink answers 400 to
 * records [from, n) of a batch, the range is sent again in halves, and halves
 * of the halves that are refused in turn, until the refused records are single
 * ones, within a budget of sends; a range still refused when the budget runs
 * out is refused whole. Used by the sender on the live path and by the disk
 * buffer when a replayed batch is refused.
 */
import { batchSize, type Batch, type SendResult } from './sinks/types.js';

/** Sends a 400 on one batch may take to isolate the refused records (about 2 × log2(1000) per bad record). */
export const ISOLATION_SENDS = 40;

export interface Isolated {
  /** Records delivered by the parts' sends (the first answer's `delivered` not included). */
  sent: number;
  /** Records finally refused. */
  refused: number;
  /** The last refusal's reason. */
  reason: string;
  /** Parts that failed retryably, or were not sent because `stopped()` (each with its reason): the caller spills or drops them. */
  failed: { batch: Batch; reason: string }[];
}

export async function isolateRefused(
  batch: Batch,
  from: number,
  firstReason: string,
  send: (part: Batch) => Promise<SendResult>,
  o: { stopped: () => boolean; onResult?: (r: SendResult) => void; budget?: number },
): Promise<Isolated> {
  const out: Isolated = { sent: 0, refused: 0, reason: firstReason, failed: [] };
  let budget = o.budget ?? ISOLATION_SENDS;
  const tryRange = async (i: number, j: number): Promise<void> => {
    if (o.stopped()) {
      out.failed.push({ batch: sliceBatch(batch, i, j), reason: 'shutdown' });
      return;
    }
    if (budget <= 0) {
      out.refused += j - i;
      return;
    }
    budget--;
    const part = sliceBatch(batch, i, j);
    const r = await send(part).catch((e: Error): SendResult => ({ ok: false, retryable: true, reason: e.message }));
    o.onResult?.(r);
    if (r.ok) {
      out.sent += j - i;
      return;
    }
    if (r.retryable) {
      out.failed.push({ batch: part, reason: r.reason });
      return;
    }
    out.reason = r.reason;
    if (j - i === 1 || r.status !== 400 || r.delivered === undefined) {
      out.refused += j - i;
      return;
    }
    out.sent += r.delivered;
    const k = i + r.delivered;
    if (j - k <= 1) {
      out.refused += j - k;
      return;
    }
    const mid = (k + j) >> 1;
    await tryRange(k, mid);
    await tryRange(mid, j);
  };
  const n = batchSize(batch);
  const mid = (from + n) >> 1;
  await tryRange(from, mid);
  await tryRange(mid, n);
  return out;
}

/** Records [i, j) of a batch as a batch of their own (encoded records are views on the batch's buffer). */
export function sliceBatch(b: Batch, i: number, j: number): Batch {
  if (!b.lines) return { category: b.category, points: b.points.slice(i, j), defaultTime: b.defaultTime };
  const ends = b.lines.ends;
  const start = i === 0 ? 0 : ends[i - 1]!;
  const out: number[] = new Array<number>(j - i);
  for (let k = i; k < j; k++) out[k - i] = ends[k]! - start;
  return { category: b.category, points: [], lines: { data: b.lines.data.subarray(start, ends[j - 1]!), ends: out }, format: b.format, defaultTime: b.defaultTime };
}
