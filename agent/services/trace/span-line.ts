/**
 * Pieces of a tracing input's span line that the byte-level writers (ddtrace's
 * msgpack reader, OTLP's protobuf reader) write the same way: the fixed
 * fields after the tags, lower-case hex digits, and the keys JS objects
 * enumerate first (which those writers leave to the generic path, because the
 * generic path's tag and field order follows object key order).
 */

export const F_TRACE = Buffer.from(' trace_id="');
export const F_SPAN = Buffer.from('",span_id="');
export const F_PARENT = Buffer.from('",parent_id="');
export const F_RESOURCE = Buffer.from('",resource="');
export const F_START = Buffer.from('",start=');
export const F_DURATION = Buffer.from('i,duration=');
export const F_MESSAGE = Buffer.from(',message="');

export const HEX = Buffer.from('0123456789abcdef', 'latin1');

const INDEX_LIKE = /^(?:0|[1-9][0-9]*)$/;

/** Array-index-like keys: JS objects enumerate them first, whatever the insertion order. */
export function indexLike(k: string): boolean {
  return INDEX_LIKE.test(k) && Number(k) < 0xffff_ffff;
}

/** Copies `b` into `d` at `w` (room made by the caller); returns the end. Short pieces byte by byte: cheaper than set() below ~24 bytes. */
export function putBytes(d: Buffer, w: number, b: Buffer): number {
  const n = b.length;
  if (n < 24) for (let k = 0; k < n; k++) d[w + k] = b[k]!;
  else d.set(b, w);
  return w + n;
}

/** Tag values: 0 copied, 1 backslash before, 2 written as an escaped space (`\n`, `\r` become spaces first), as lineproto.ts escapeKey. */
const TAG_ESC = new Uint8Array(256);
for (const c of ',= \\') TAG_ESC[c.charCodeAt(0)] = 1;
TAG_ESC[10] = 2;
TAG_ESC[13] = 2;

/** src[a, b) (UTF-8) escaped as a tag value at d[w] (room for 2·(b − a) bytes made). Returns the end. */
export function escapeTagBytes(d: Buffer, w: number, src: Buffer, a: number, b: number): number {
  for (let k = a; k < b; k++) {
    const c = src[k]!;
    const x = TAG_ESC[c]!;
    if (x === 0) d[w++] = c;
    else {
      d[w++] = 0x5c;
      d[w++] = x === 1 ? c : 0x20;
    }
  }
  return w;
}

/** `key` then body[a, b) (UTF-8) escaped as a tag value at d[w] (room for 2·(b − a) bytes made); nothing for an empty value. Returns the end. */
export function tagValue(d: Buffer, w: number, key: Buffer, body: Buffer, a: number, b: number): number {
  if (a === b) return w;
  return escapeTagBytes(d, putBytes(d, w, key), body, a, b);
}
