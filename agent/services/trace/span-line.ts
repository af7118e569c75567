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
