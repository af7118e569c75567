/**
 * Encodes a batch into dataway bodies of at most `maxBytes` before
 * compression (DataKit's 1 MiB limit), in either body encoding.
 */
import { encodeLine } from '../lineproto.js';
import { encodePBPoints, PB_CONTENT_TYPE } from '../pbpoint.js';
import type { Point } from '../point.js';

export interface Body {
  data: Buffer;
  points: number;
}

export const CONTENT_TYPES = { v1: 'application/line-protocol', v2: PB_CONTENT_TYPE } as const;

/** Line protocol, split on line boundaries. A single line larger than maxBytes goes alone in its body. */
export function encodeV1(points: readonly Point[], defaultTime: bigint, maxBytes: number): Body[] {
  const out: Body[] = [];
  let parts: string[] = [];
  let size = 0;
  let n = 0;
  for (const p of points) {
    const line = encodeLine(p, defaultTime);
    if (line === undefined) continue;
    const len = Buffer.byteLength(line) + 1;
    if (n > 0 && size + len > maxBytes) {
      out.push({ data: Buffer.from(parts.join('')), points: n });
      parts = [];
      size = 0;
      n = 0;
    }
    parts.push(line + '\n');
    size += len;
    n++;
  }
  if (n > 0) out.push({ data: Buffer.from(parts.join('')), points: n });
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
