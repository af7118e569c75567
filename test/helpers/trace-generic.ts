/**
 * The generic trace path as a trace worker runs it (decoder, processor, the
 * core's tags, LineBuf.point), for tests that hold a byte-level fast path
 * (ddtrace, opentelemetry) to the same bytes.
 */
import { LineBuf } from '../../agent/model/linebuf.js';
import type { TraceProcessor } from '../../agent/services/trace/processor.js';
import type { TraceDecoder, TraceRequest } from '../../agent/services/trace/offthread.js';

export function genericLines(decode: TraceDecoder, pipeline: TraceProcessor, req: TraceRequest, tags: Record<string, string>, now: bigint): { out: LineBuf; dropped: Record<string, number> } {
  const d = decode(req);
  const { points, dropped } = pipeline.process(d.traces);
  const out = new LineBuf(1 << 16);
  for (const p of points) {
    for (const k in tags) if (p.tags[k] === undefined) p.tags[k] = tags[k]!;
    out.point(p, now);
  }
  const all: Record<string, number> = { ...d.dropped };
  for (const [k, v] of Object.entries(dropped)) all[k] = (all[k] ?? 0) + (v ?? 0);
  return { out, dropped: all };
}
