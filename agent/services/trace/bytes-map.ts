/**
 * Byte strings → small ints, for the trace workers' byte-level fast paths
 * (ddtrace's msgpack, OTLP's protobuf): attribute and meta keys are looked up
 * by their bytes, so no JS string is made per key. Open addressing keyed by
 * a hash of the bytes, verified byte for byte. Bounded.
 */
export class BytesMap {
  private static readonly SLOTS = 1 << 14;
  private readonly hashes = new Int32Array(BytesMap.SLOTS);
  private readonly at = new Int32Array(BytesMap.SLOTS).fill(-1);
  private readonly lens = new Int32Array(BytesMap.SLOTS);
  private readonly vals = new Int32Array(BytesMap.SLOTS);
  private store = Buffer.allocUnsafe(1 << 16);
  private used = 0;
  size = 0;
  /** Keys longer than this are not cached (their lookups miss every time). */
  static readonly MAX_KEY = 256;

  static hash(b: Buffer, dv: DataView, s: number, e: number): number {
    let h = 0x811c9dc5 ^ (e - s);
    let i = s;
    for (; i + 4 <= e; i += 4) h = Math.imul(h ^ dv.getUint32(i, true), 0x9e3779b1);
    for (; i < e; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
    return h ^ (h >>> 15);
  }

  /** The value of `b[s, e)` with hash h, or -1. */
  get(b: Buffer, s: number, e: number, h: number): number {
    const mask = BytesMap.SLOTS - 1;
    const len = e - s;
    const st = this.store;
    for (let k = h & mask; ; k = (k + 1) & mask) {
      const a = this.at[k]!;
      if (a < 0) return -1;
      if (this.hashes[k] !== h || this.lens[k] !== len) continue;
      let i = 0;
      while (i < len && st[a + i] === b[s + i]) i++;
      if (i === len) return this.vals[k]!;
    }
  }

  /** Adds a key that get() did not find; false when the map is full (the caller clears it). */
  set(b: Buffer, s: number, e: number, h: number, v: number): boolean {
    const len = e - s;
    if (len > BytesMap.MAX_KEY) return true;
    if (this.size >= BytesMap.SLOTS >> 1) return false;
    if (this.used + len > this.store.length) {
      if (this.store.length >= 1 << 20) return false;
      const bigger = Buffer.allocUnsafe(this.store.length * 2);
      this.store.copy(bigger, 0, 0, this.used);
      this.store = bigger;
    }
    const mask = BytesMap.SLOTS - 1;
    let k = h & mask;
    while (this.at[k]! >= 0) k = (k + 1) & mask;
    b.copy(this.store, this.used, s, e);
    this.hashes[k] = h;
    this.at[k] = this.used;
    this.lens[k] = len;
    this.vals[k] = v;
    this.used += len;
    this.size++;
    return true;
  }

  clear(): void {
    this.at.fill(-1);
    this.used = 0;
    this.size = 0;
  }
}
