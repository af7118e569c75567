/**
 * The generic trace path as a trace worker runs it (decoder, processor, the
 * core's tags, LineBuf.point), for tests that hold a byte-level fast path
 * (ddtrace, zipkin, opentelemetry) to the same bytes; and the fast path's
 * own lines, for the same comparison.
 */
import { expect } from 'vitest';
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

/** What a byte-level fast path (ddtrace, zipkin, OTLP LineWriter) offers the tests: its lines, or undefined when it declines. */
interface FastWriter {
  write(req: TraceRequest, out: LineBuf, tags: Record<string, string>, now: bigint): Record<string, number> | undefined;
}

/** The fast path's lines for `req` as text in `encoding`, or undefined when it declines: then it must have written nothing. */
export function fastLines(w: FastWriter, req: TraceRequest, tags: Record<string, string>, now: bigint, encoding: BufferEncoding = 'utf8'): { text: string; dropped: Record<string, number>; lines: number; ends: number[] } | undefined {
  const out = new LineBuf(64);
  const dropped = w.write(req, out, tags, now);
  if (dropped === undefined) {
    expect(out.off).toBe(0); // nothing written when it declines
    return undefined;
  }
  return { text: out.data.toString(encoding, 0, out.off), dropped, lines: out.ends.length, ends: out.ends };
}
