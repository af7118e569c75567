/**
 * Encodes a batch into dataway bodies of at most `maxBytes` before
 * compression (DataKit's 1 MiB limit), in either body encoding.
 */
import { LineBuf } from '../../model/linebuf.js';
import { encodePBPoints, PB_CONTENT_TYPE } from '../../model/pbpoint.js';
import type { Point } from '../../model/point.js';
import type { EncodedLines } from './types.js';

export interface Body {
  data: Buffer;
  points: number;
}

export const CONTENT_TYPES = { v1: 'application/line-protocol', v2: PB_CONTENT_TYPE } as const;

/**
 * Line protocol, split on line boundaries. A single line larger than maxBytes
 * goes alone in its body. Lines are written straight into one buffer by the
 * same writer the sender uses at queue time (agent/model/lineproto.ts LineBuf).
 */
export function encodeV1(points: readonly Point[], defaultTime: bigint, maxBytes: number): Body[] {
  return writeV1(points, defaultTime, maxBytes);
}

/**
 * Bodies from records the sender already encoded (a batch's `lines`: lines of
 * line protocol, or PBPoints entries, which back to back make a PBPoints
 * body), split on record boundaries as encodeV1 would split lines; the
 * bodies are views, not copies.
 */
export function encodeRecords(lines: EncodedLines, maxBytes: number): Body[] {
  const out: Body[] = [];
  const { data, ends } = lines;
  let start = 0;
  let prev = 0;
  let n = 0;
  for (const end of ends) {
    n++;
    if (end - start > maxBytes && n > 1) {
      out.push({ data: data.subarray(start, prev), points: n - 1 });
      start = prev;
      n = 1;
    }
    prev = end;
  }
  if (n > 0) out.push({ data: data.subarray(start, prev), points: n });
  return out;
}

function writeV1(points: readonly Point[], defaultTime: bigint, maxBytes: number): Body[] {
  // The queue-time writer (strings held as bytes are escaped straight from them), one body at a time:
  // a body is copied out as soon as the next line would pass maxBytes, so the buffer stays ~maxBytes.
  const out: Body[] = [];
  const lines = new LineBuf(Math.min(maxBytes, points.length * 2048, 16 << 20) + (64 << 10));
  let start = 0; // offset of the current body's first line
  let n = 0;
  for (const p of points) {
    const before = lines.off;
    if (!lines.point(p, defaultTime)) continue;
    n++;
    if (lines.off - start > maxBytes && n > 1) {
      // this line does not fit: the body ends before it, and it starts the next one
      out.push({ data: Buffer.from(lines.data.subarray(start, before)), points: n - 1 });
      start = before;
      n = 1;
      if (start > maxBytes) {
        lines.data.copyWithin(0, start, lines.off);
        lines.off -= start;
        lines.ends.length = 0;
        start = 0;
      }
    }
  }
  if (n > 0) out.push({ data: Buffer.from(lines.data.subarray(start, lines.off)), points: n });
  return out;
}

/**
 * Protobuf points in bodies of at most maxBytes: chunks sized from the bytes
 * per point measured on the first chunk; a chunk that still comes out too
 * large is halved (a single point larger than maxBytes goes alone).
 */
export function encodeV2(points: readonly Point[], defaultTime: bigint, maxBytes: number): Body[] {
  const out: Body[] = [];
  let per = 0; // bytes per point, learned from the first chunk
  let i = 0;
  while (i < points.length) {
    let n = per === 0 ? Math.min(points.length - i, 256) : Math.max(1, Math.floor((maxBytes * 0.9) / per));
    for (;;) {
      const chunk = points.slice(i, i + n);
      const data = Buffer.from(encodePBPoints(chunk, defaultTime));
      if (data.length <= maxBytes || n === 1) {
        if (data.length > 0) out.push({ data, points: chunk.length });
        per = Math.max(per, data.length / chunk.length);
        i += n;
        break;
      }
      per = Math.max(per, data.length / chunk.length);
      n = Math.max(1, Math.min(n >> 1, Math.floor((maxBytes * 0.9) / per)));
    }
  }
  return out;
}
