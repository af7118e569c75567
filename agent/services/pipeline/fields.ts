/**
 * The fields of one script run, by slot instead of by a Map of names.
 *
 * Every key a script can write by a name it spells out (a grok capture, a
 * function's key argument, user_agent's fields ...) gets a slot in the
 * script's KeyTable when it is compiled; a run's Fields keeps its values in an
 * array by slot, and call sites that know their keys at compile time read and
 * write them by slot, with no lookup by name. A key only known at run time (a
 * json() path from a variable, a prefix) gets a slot of its own in that run.
 *
 * The order of the keys is a Map's: insertion order, a deleted key that is set
 * again goes last. `order` lists slots as they were inserted; an entry is
 * live when its slot holds a value and `pos[slot]` points back at it (a
 * deleted then re-set key leaves a stale entry behind, skipped).
 */
import type { Value } from './value.js';

/**
 * The keys of a script, by slot: fixed once the script is compiled.
 * `message`, `time` and `status` (read by Script.run after every run) are slots 0–2.
 */
export class KeyTable {
  readonly keys: string[] = ['message', 'time', 'status'];
  readonly index = new Map<string, number>(this.keys.map((k, i) => [k, i]));

  /** The slot of a key, made when it is new (at compile time only). */
  slot(key: string): number {
    let i = this.index.get(key);
    if (i === undefined) {
      i = this.keys.length;
      this.keys.push(key);
      this.index.set(key, i);
    }
    return i;
  }
}

export const MESSAGE = 0;
export const TIME = 1;
export const STATUS = 2;

export class Fields {
  /** Values by slot; undefined: absent (nil is null). */
  readonly vals: (Value | undefined)[];
  /** By slot: the index in `order` of its live entry. */
  readonly pos: number[];
  /** Slots in insertion order, with stale entries (see the file's comment). */
  readonly order: number[] = [];
  size = 0;
  /** Keys not in the table, set in this run: slot = table size + index. */
  private extraKeys: string[] | undefined;
  private extraIndex: Map<string, number> | undefined;

  constructor(readonly table: KeyTable) {
    const n = table.keys.length;
    this.vals = new Array<Value | undefined>(n);
    this.pos = new Array<number>(n);
  }

  /** The key of a slot. */
  keyOf(slot: number): string {
    const k = this.table.keys;
    return slot < k.length ? k[slot]! : this.extraKeys![slot - k.length]!;
  }

  private slotOf(key: string): number | undefined {
    const i = this.table.index.get(key);
    if (i !== undefined || this.extraIndex === undefined) return i;
    return this.extraIndex.get(key);
  }

  getSlot(slot: number): Value | undefined {
    return this.vals[slot];
  }

  setSlot(slot: number, v: Value): void {
    if (this.vals[slot] === undefined) {
      this.pos[slot] = this.order.length;
      this.order.push(slot);
      this.size++;
    }
    this.vals[slot] = v;
  }

  deleteSlot(slot: number): boolean {
    if (this.vals[slot] === undefined) return false;
    this.vals[slot] = undefined;
    this.size--;
    return true;
  }

  get(key: string): Value | undefined {
    const s = this.slotOf(key);
    return s === undefined ? undefined : this.vals[s];
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  set(key: string, v: Value): this {
    let s = this.slotOf(key);
    if (s === undefined) {
      const keys = (this.extraKeys ??= []);
      s = this.table.keys.length + keys.length;
      keys.push(key);
      (this.extraIndex ??= new Map()).set(key, s);
    }
    this.setSlot(s, v);
    return this;
  }

  delete(key: string): boolean {
    const s = this.slotOf(key);
    return s !== undefined && this.deleteSlot(s);
  }

  /** Whether the entry at `order[j]` is live. */
  live(j: number): boolean {
    const s = this.order[j]!;
    return this.vals[s] !== undefined && this.pos[s] === j;
  }

  *entries(): IterableIterator<[string, Value]> {
    const { order, vals, pos } = this;
    for (let j = 0; j < order.length; j++) {
      const s = order[j]!;
      const v = vals[s];
      if (v !== undefined && pos[s] === j) yield [this.keyOf(s), v];
    }
  }

  *keys(): IterableIterator<string> {
    for (const [k] of this.entries()) yield k;
  }

  [Symbol.iterator](): IterableIterator<[string, Value]> {
    return this.entries();
  }
}
