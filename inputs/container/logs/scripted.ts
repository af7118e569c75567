/**
 * A container log record through its Pipeline script (agent/services/pipeline/):
 * the point DataKit would send for it. Used by both the points path
 * (logs.ts makePointBuilder) and the direct path (lines.ts LogLines), before
 * encoding; sources without a script never come here.
 */
import type { FieldValue, Point } from '../../../agent/model/point.js';
import { MESSAGE } from '../../../agent/services/pipeline/fields.js';
import type { Script } from '../../../agent/services/pipeline/script.js';
import { toJson } from '../../../agent/services/pipeline/value.js';
import { detectStatus } from './parse.js';

export type ScriptedResult =
  /** The script's point (fields, tags, time, status, measurement). */
  | { kind: 'point'; point: Point }
  /** drop() */
  | { kind: 'dropped' }
  /** The script failed or ran past its bound: send the line as it was. */
  | { kind: 'failed' };

/**
 * Runs `script` over `message`. `tags` are the stream's tags (the script's
 * set_tag() ones win); `time` is the record's (the script's `time` wins).
 * The point has every field but `log_read_lines` and `filepath`, which the
 * caller adds.
 */
export function runScript(script: Script, message: string, source: string, tags: Readonly<Record<string, string>>, time: bigint): ScriptedResult {
  const r = script.run(message, tags);
  if (!r.ok) return { kind: 'failed' };
  const o = r.out;
  if (o.dropped) return { kind: 'dropped' };
  const fields: Record<string, FieldValue> = {};
  for (const [k, v] of o.fields) {
    if (v === null) continue;
    fields[k] = typeof v === 'object' ? toJson(v) : v;
  }
  const msg = o.fields.getSlot(MESSAGE);
  fields.status = o.status ?? detectStatus(typeof msg === 'string' ? msg : message);
  let t: Record<string, string> = tags as Record<string, string>;
  if ((o.tags !== undefined && o.tags.size > 0) || o.droppedTags !== undefined) {
    t = { ...tags };
    for (const k of o.droppedTags ?? []) delete t[k];
    for (const [k, v] of o.tags ?? []) {
      t[k] = v;
      delete fields[k];
    }
  }
  return { kind: 'point', point: { category: 'logging', name: o.measurement ?? source, tags: t, fields, time: o.time ?? time } };
}
