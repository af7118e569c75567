/**
 * The two body forms of the RUM SDKs' batches:
 * - line protocol, one point per line (`text/plain` from `sendBeacon` and
 *   `fetch(keepalive)`; the SDK adds `?precision=ms`);
 * - a JSON array (`sendContentTypeByJson`, `application/json`):
 *   `[{"measurement":"view","tags":{…},"fields":{…},"time":1700000000000}, …]`,
 *   times in the same `?precision`.
 * Both are refused as a whole on the first bad line or element (400 with the
 * line or index and the reason), as `/v1/write` does.
 */
import { decodeLines, LineProtocolError, type DecodedPoint } from '../../agent/model/lineproto.js';
import { decodeJsonPoints, isJsonBody, JsonPointsError } from '../../agent/model/jsonpoints.js';

export class BadBody extends Error {
  constructor(
    readonly kind: 'bad_line' | 'bad_json',
    message: string,
  ) {
    super(message);
  }
}

export const isJson = isJsonBody;

export function decodeBody(body: Buffer, contentType: string | undefined, precision: bigint): DecodedPoint[] {
  if (isJson(contentType)) return decodeJson(body.toString('utf8'), precision);
  try {
    return decodeLines(body.toString('utf8'), precision);
  } catch (e) {
    if (e instanceof LineProtocolError) throw new BadBody('bad_line', e.message);
    throw e;
  }
}

/** The JSON array form (agent/model/jsonpoints.ts), its errors as BadBody. */
export function decodeJson(text: string, precision: bigint): DecodedPoint[] {
  try {
    return decodeJsonPoints(text, precision);
  } catch (e) {
    if (e instanceof JsonPointsError) throw new BadBody('bad_json', e.message);
    throw e;
  }
}
