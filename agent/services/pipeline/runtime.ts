/**
 * The state of one script run over one log line: the point's fields and tags,
 * the script's own variables, and the flags functions set (drop, exit).
 */
import { Fields, MESSAGE, type KeyTable } from './fields.js';
import type { Value } from './value.js';

export class ScriptAbort extends Error {}

/**
 * A call site's keys for Run.setKnown(), their slots in the script's KeyTable,
 * and which of them are tags of the last tags object seen.
 */
export class KnownKeys {
  base: Readonly<Record<string, string>> | undefined;
  readonly isTag: boolean[];
  readonly slots: number[];
  constructor(
    readonly keys: readonly string[],
    table: KeyTable,
  ) {
    this.isTag = keys.map(() => false);
    this.slots = keys.map((k) => table.slot(k));
  }

  /** Works out which keys are tags of `b` when `b` is not the tags object seen last. */
  see(b: Readonly<Record<string, string>>): void {
    if (this.base === b) return;
    this.base = b;
    for (let j = 0; j < this.keys.length; j++) this.isTag[j] = typeof b[this.keys[j]!] === 'string';
  }
}

export class Run {
  /** Fields of the point, `message` included until drop_origin_data(). */
  readonly fields: Fields;
  /** Tags the script set (set_tag(), or a write to a tag of the point). */
  tags: Map<string, string> | undefined;
  /** Tags of the point the script removed (drop_key, rename of a tag). */
  droppedTags: Set<string> | undefined;
  /** The script's variables, made at its first assignment (most scripts have none: no Map per line). */
  vars: Map<string, Value> | undefined;
  measurement: string | undefined;
  dropped = false;
  exited = false;
  /** Last JSON document parsed by json() and the text it came from. */
  jsonText: string | undefined;
  jsonDoc: unknown;
  constructor(
    message: string,
    /** performance.now() after which loops and long inputs abort the run. */
    readonly deadline: number,
    /** The point's own tags (a container's `service`, `pod_name` …): readable, and writes stay tags. */
    table: KeyTable,
    readonly baseTags?: Readonly<Record<string, string>>,
  ) {
    this.fields = new Fields(table);
    this.fields.setSlot(MESSAGE, message);
  }

  private baseTag(key: string): string | undefined {
    const b = this.baseTags;
    if (b === undefined) return undefined;
    // tags are strings: an inherited member (`toString`) is not one
    const v = b[key];
    if (typeof v !== 'string' || this.droppedTags?.has(key)) return undefined;
    return v;
  }

  /** A key of the point: a tag, else a field; undefined when absent. */
  get(key: string): Value | undefined {
    if (this.tags !== undefined) {
      const t = this.tags.get(key);
      if (t !== undefined) return t;
    }
    const f = this.fields.get(key);
    if (f !== undefined || this.baseTags === undefined) return f;
    return this.baseTag(key);
  }

  has(key: string): boolean {
    return this.fields.has(key) || (this.tags?.has(key) ?? false) || this.baseTag(key) !== undefined;
  }

  /** Sets a key: a tag stays a tag (as text), anything else is a field. */
  set(key: string, v: Value): void {
    if (this.tags === undefined && this.baseTags === undefined) {
      this.fields.set(key, v);
      return;
    }
    if (this.tags?.has(key) || this.baseTag(key) !== undefined) {
      if (v === null) this.delete(key);
      else (this.tags ??= new Map()).set(key, typeof v === 'string' ? v : String(v));
      return;
    }
    this.fields.set(key, v);
  }

  delete(key: string): void {
    this.fields.delete(key);
    this.tags?.delete(key);
    if (this.baseTag(key) !== undefined) (this.droppedTags ??= new Set()).add(key);
  }

  setTag(key: string, v: string): void {
    this.fields.delete(key);
    (this.tags ??= new Map()).set(key, v);
  }

  /**
   * Sets keys a call site knows at compile time (grok's captures, user_agent's
   * fields) faster than set() per key: which of them name one of the point's
   * own tags is worked out once per tags object (a stream's are frozen and
   * reused) and cached in `memo`, so a line whose keys are plain fields writes
   * the fields map straight away. Same outcome as set().
   */
  setKnown(memo: KnownKeys, i: number, v: Value): void {
    if (this.tags === undefined) {
      const b = this.baseTags;
      if (b === undefined) {
        this.fields.setSlot(memo.slots[i]!, v);
        return;
      }
      memo.see(b);
      if (!memo.isTag[i]) {
        this.fields.setSlot(memo.slots[i]!, v);
        return;
      }
    }
    this.set(memo.keys[i]!, v);
  }

  /**
   * get() of a key a call site knows at compile time: a key that is neither a
   * field nor a tag the script set is looked up in the point's own tags only
   * when it names one (worked out once per tags object, as setKnown()).
   */
  getKnown(memo: KnownKeys, i: number): Value | undefined {
    if (this.tags !== undefined) {
      const t = this.tags.get(memo.keys[i]!);
      if (t !== undefined) return t;
    }
    const f = this.fields.getSlot(memo.slots[i]!);
    const b = this.baseTags;
    if (f !== undefined || b === undefined) return f;
    memo.see(b);
    return memo.isTag[i] ? this.baseTag(memo.keys[i]!) : undefined;
  }

  /** delete() of a key a call site knows at compile time (its slot; the point's own tags as getKnown()). */
  deleteKnown(memo: KnownKeys, i: number): void {
    this.fields.deleteSlot(memo.slots[i]!);
    const key = memo.keys[i]!;
    this.tags?.delete(key);
    const b = this.baseTags;
    if (b === undefined) return;
    memo.see(b);
    if (memo.isTag[i] && this.baseTag(key) !== undefined) (this.droppedTags ??= new Set()).add(key);
  }

  checkDeadline(): void {
    if (performance.now() > this.deadline) throw new ScriptAbort('time bound exceeded');
  }
}
