/**
 * The line-shape cache: a (name, type, tags) text seen on the wire → the
 * aggregator's series slot, so name mapping and tag parsing run once per
 * distinct shape, not once per line.
 *
 * Entries are found by the hash scanLine computes and confirmed by a second,
 * independent hash plus the lengths and the type, so the hot path neither
 * builds a key string nor compares text (hashing a fresh substring for a Map,
 * or String#startsWith, costs more than the rest of the line). A wrong match
 * would need both 32-bit hashes to collide.
 *
 * An open-addressing table (linear probing, at most half full) in typed
 * arrays: an entry is ~21 bytes and no object, so 200,000 cached shapes add
 * nothing for V8's garbage collector to trace. Entries are never deleted one
 * by one; the table is rebuilt by prune() and emptied by clear(). Every entry
 * that points at a slot holds a reference on it, given back through `unref`.
 */
import type { MetricType, ScannedLine } from './parser.js';

/** An entry's slot for a shape refused by a series limit (no slot is kept for it). */
export const REFUSED = -2;
const EMPTY = -1;
const MIN_CAPACITY = 1024;

export const TYPE_INDEX: Readonly<Record<MetricType, number>> = { c: 0, g: 1, s: 2, ms: 3, h: 4, d: 5 };

export class ShapeCache {
  private mask = 0;
  private hash = new Int32Array(0);
  private hash2 = new Int32Array(0);
  private nameLen = new Int32Array(0);
  private tagsLen = new Int32Array(0);
  private type = new Uint8Array(0);
  private slot = new Int32Array(0);
  /** Entries. */
  size = 0;

  /**
   * @param limit entries at most; an insert at the limit empties the cache first
   * @param unref called once for each slot reference an entry gives up
   */
  constructor(
    private readonly limit: number,
    private readonly unref: (slot: number) => void,
  ) {
    this.allocate(MIN_CAPACITY);
  }

  private allocate(capacity: number): void {
    this.mask = capacity - 1;
    this.hash = new Int32Array(capacity);
    this.hash2 = new Int32Array(capacity);
    this.nameLen = new Int32Array(capacity);
    this.tagsLen = new Int32Array(capacity);
    this.type = new Uint8Array(capacity);
    this.slot = new Int32Array(capacity).fill(EMPTY);
  }

  /** The entry of the scanned line's shape, or -1. */
  find(l: ScannedLine): number {
    const nl = l.nameEnd - l.nameStart;
    const tl = l.tagsEnd - l.tagsStart;
    const t = TYPE_INDEX[l.type];
    const slot = this.slot;
    for (let i = l.hash & this.mask; ; i = (i + 1) & this.mask) {
      if (slot[i] === EMPTY) return -1;
      if (this.hash[i] === l.hash && this.hash2[i] === l.hash2 && this.nameLen[i] === nl && this.tagsLen[i] === tl && this.type[i] === t) return i;
    }
  }

  /** The slot of entry `e` (REFUSED for a refused shape). */
  slotOf(e: number): number {
    return this.slot[e]!;
  }

  /** Points entry `e` at another slot (the caller holds a reference for it); the old slot's reference is given up. */
  retarget(e: number, slot: number): void {
    const old = this.slot[e]!;
    this.slot[e] = slot;
    if (old >= 0) this.unref(old);
  }

  /** Caches the scanned line's shape (not cached yet) → `slot` (the caller holds a reference for it). */
  add(l: ScannedLine, slot: number): void {
    if (this.size >= this.limit) this.clear();
    if ((this.size + 1) * 2 > this.slot.length) this.rehash(this.slot.length * 2, () => true);
    this.put(l.hash, l.hash2, l.nameEnd - l.nameStart, l.tagsEnd - l.tagsStart, TYPE_INDEX[l.type], slot);
  }

  private put(h: number, h2: number, nl: number, tl: number, t: number, slot: number): void {
    let i = h & this.mask;
    while (this.slot[i] !== EMPTY) i = (i + 1) & this.mask;
    this.hash[i] = h;
    this.hash2[i] = h2;
    this.nameLen[i] = nl;
    this.tagsLen[i] = tl;
    this.type[i] = t;
    this.slot[i] = slot;
    this.size++;
  }

  /** Empties the cache (back to its smallest size). */
  clear(): void {
    const slot = this.slot;
    this.allocate(MIN_CAPACITY);
    this.size = 0;
    for (let i = 0; i < slot.length; i++) if (slot[i]! >= 0) this.unref(slot[i]!);
  }

  /**
   * Keeps the entries whose slot `keep` accepts; refused shapes go, and for
   * every other entry that goes, `dropped(hash, slot)` is called before its
   * reference is given up. The table shrinks to fit what is kept.
   */
  prune(keep: (slot: number) => boolean, dropped: (hash: number, slot: number) => void): void {
    let n = 0;
    const slot = this.slot;
    for (let i = 0; i < slot.length; i++) if (slot[i]! >= 0 && keep(slot[i]!)) n++;
    let capacity = MIN_CAPACITY;
    while (capacity < n * 2) capacity *= 2;
    this.rehash(capacity, keep, dropped);
  }

  private rehash(capacity: number, keep: (slot: number) => boolean, dropped?: (hash: number, slot: number) => void): void {
    const { hash, hash2, nameLen, tagsLen, type, slot } = this;
    this.allocate(capacity);
    this.size = 0;
    for (let i = 0; i < slot.length; i++) {
      const s = slot[i]!;
      if (s === EMPTY) continue;
      if (s >= 0 && keep(s)) this.put(hash[i]!, hash2[i]!, nameLen[i]!, tagsLen[i]!, type[i]!, s);
      else if (s >= 0) {
        dropped?.(hash[i]!, s);
        this.unref(s);
      } else if (!dropped) this.put(hash[i]!, hash2[i]!, nameLen[i]!, tagsLen[i]!, type[i]!, s); // growing keeps refusals
    }
  }
}
