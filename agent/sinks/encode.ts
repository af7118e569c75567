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

/** Protobuf points, split by halving until each body fits. */
export function encodeV2(points: readonly Point[], defaultTime: bigint, maxBytes: number): Body[] {
  const data = Buffer.from(encodePBPoints(points, defaultTime));
  if (data.length <= maxBytes || points.length <= 1) return data.length > 0 || points.length > 0 ? [{ data, points: points.length }] : [];
  const mid = points.length >> 1;
  return [...encodeV2(points.slice(0, mid), defaultTime, maxBytes), ...encodeV2(points.slice(mid), defaultTime, maxBytes)];
}
