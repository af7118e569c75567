/**
 * Byte strings → small ints, for the trace workers' byte-level fast paths
 * (ddtrace's msgpack, OTLP's protobuf): attribute and meta keys are looked up
 * by their bytes, so no JS string is made per key. Open addressing keyed by
 * a hash of the bytes, verified byte for byte. Bounded.
 */
export class BytesMap {
  private readonly slots: number;
  private readonly hashes: Int32Array;
  private readonly at: Int32Array;
  private readonly lens: Int32Array;
  private readonly vals: Int32Array;
  private store = Buffer.allocUnsafe(1 << 16);
  private used = 0;
  size = 0;
  /** Keys longer than this are not cached by default (their lookups miss every time). */
  static readonly MAX_KEY = 256;

  /**
   * `slots` (a power of two) bounds the keys at half of it; keys longer than
   * `maxKey` bytes are not cached; the key bytes are kept in at most `maxStore` bytes.
   */
  constructor(
    slots = 1 << 14,
    readonly maxKey = BytesMap.MAX_KEY,
    private readonly maxStore = 1 << 20,
  ) {
    this.slots = slots;
    this.hashes = new Int32Array(slots);
    this.at = new Int32Array(slots).fill(-1);
    this.lens = new Int32Array(slots);
    this.vals = new Int32Array(slots);
  }

  static hash(b: Buffer, dv: DataView, s: number, e: number): number {
    let h = 0x811c9dc5 ^ (e - s);
    let i = s;
    for (; i + 4 <= e; i += 4) h = Math.imul(h ^ dv.getUint32(i, true), 0x9e3779b1);
    for (; i < e; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
    return h ^ (h >>> 15);
  }

  /** The value of `b[s, e)` with hash h, or -1. */
  get(b: Buffer, s: number, e: number, h: number): number {
    const mask = this.slots - 1;
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
    if (len > this.maxKey) return true;
    if (this.size >= this.slots >> 1) return false;
    if (this.used + len > this.store.length) {
      if (this.store.length >= this.maxStore) return false;
      const bigger = Buffer.allocUnsafe(Math.max(this.store.length * 2, this.used + len));
      this.store.copy(bigger, 0, 0, this.used);
      this.store = bigger;
    }
    const mask = this.slots - 1;
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
