/**
 * Lines mode of the prom converter: a scrape written straight as the line
 * protocol the core would write for its points, without points. Used when
 * every sink of the metric category takes lines as they are
 * (Accumulator.takesLines): the core then neither decorates nor encodes, and
 * keeps no per-series copy of its own (a series' text lives here once).
 *
 * A line is `measurement,<series' own tags><suffix> fields time`. The suffix
 * (the scrape's info labels, then the tags the core adds: Accumulator.tagsToAdd)
 * is the same text for every series that has none of its keys, so a series
 * keeps only its own part. A series that shares a key with the suffix gets its
 * whole head built as the core would build it (rare: the info series themselves).
 */
import { tagTextOf } from '../../agent/model/lineproto.js';
import type { LineBuf } from '../../agent/model/linebuf.js';

/** One label text (`a="1",b="2"`) under one config, shared by every target. */
export interface LabelSet {
  /**
   * The labels after tags_ignore and tags_rename, frozen, in a fast V8 shape (labels.ts template()); null when
   * ignore_tag_kv_match drops the series, undefined when the text is not a valid label set.
   */
  readonly tags: Readonly<Record<string, string>> | null | undefined;
  /** Lines mode: `measurement,labels` escaped, as UTF-8 bytes (see LineHeads), for measurement own0M, then for others (owns). */
  own0: Buffer | undefined;
  own0M: string | undefined;
  owns: Map<string, Buffer> | undefined;
  /** Its tags' keys, sorted, `\x00` between them: label sets with the same keys take the same suffix (LineHeads). */
  readonly keysId: string;
  /** Whether the labels have none of the keys of key set `plainKeys` (LineHeads). */
  plainKeys: string | undefined;
  plain: boolean;
  /**
   * Scratch of the scrape being converted (`stamp`, convert.ts convertLines, which runs to its end
   * without yielding): the line of its first measurement (m0), then of the others.
   */
  stamp: number;
  m0: string;
  r0: Rec | undefined;
  rmore: Map<string, Rec> | undefined;
}

/** A line being built: one series' fields for one measurement in one scrape. */
export interface Rec {
  /** The series' label set (shared by every target of the config). */
  ls: LabelSet;
  measurement: string;
  escName: string;
  /** An info metric's line: it gets no info labels. */
  info: boolean;
  /** Its first and last field in the scrape's fields (see addField), -1 before the first. */
  first: number;
  last: number;
  /** Unique among the lines of every scrape (see addField). */
  id: number;
}

/**
 * The fields of the lines of the scrape being converted (convertLines runs to its end without yielding),
 * in sample order: each its escaped key with `=`, its value and the next field of its line (-1: none).
 * One set of arrays for every scrape instead of two growing arrays per line (a fifth of what a scrape
 * allocated, BENCHMARKS.md session 10).
 */
const fieldKeys: string[] = [];
let fieldVals = new Float64Array(1024);
let fieldNext = new Int32Array(1024);
let nFields = 0;

/** Starts a scrape's fields (and gives back the room a very large scrape took). */
export function beginFields(): void {
  if (fieldVals.length > 1 << 16 && nFields < fieldVals.length >> 2) {
    fieldVals = new Float64Array(1024);
    fieldNext = new Int32Array(1024);
    fieldKeys.length = 1024;
  }
  nFields = 0;
}

/** What addField needs of a sample's name mapping (names.ts Mapping). */
export interface FieldOf {
  readonly keyEq: string;
  /** Another mapping of its table has the same measurement and field. */
  readonly shared: boolean;
  /** The id of the line it last gave a field to (see addField). */
  lastRec: number;
}

let recIds = 0;

/** An id for a new line (Rec.id); convertLines takes the next one as its scrape's first (addField's `firstOfScrape`). */
export function recId(): number {
  // past a Smi, start again: an id taken for one of this scrape only sends addField the careful way
  if (recIds >= 0x3fffffff) recIds = 0;
  return ++recIds;
}

const EMPTY = Buffer.alloc(0);

/** Key sets of LineHeads, one string per distinct set, so that label sets compare their verdict's key set by identity. */
const keySets = new Map<string, string>();

/** Whether `k` is an array index, which JS objects order before other keys. */
export function isIndexKey(k: string): boolean {
  const c = k.charCodeAt(0);
  if (c < 48 || c > 57) return false;
  return /^(0|[1-9][0-9]*)$/.test(k) && Number(k) < 4294967295;
}

/**
 * Adds the field of mapping `m` with `value` to line `r`; false when the line already has that key (the
 * point would keep one value in the first key's place: the caller converts the scrape the points way).
 * `firstOfScrape`: the first Rec id of the scrape. A mapping whose last line is of an earlier scrape, and
 * which shares its key with no other mapping, cannot be in `r` yet: no search (the unlabelled series have a
 * hundred and more fields). Otherwise the line's keys are searched.
 */
export function addField(r: Rec, m: FieldOf, value: number, firstOfScrape: number): boolean {
  const last = m.lastRec;
  if (last === r.id) return false;
  const keyEq = m.keyEq;
  if (last >= firstOfScrape || m.shared) {
    for (let j = r.first; j >= 0; j = fieldNext[j]!) if (fieldKeys[j] === keyEq) return false;
  }
  m.lastRec = r.id;
  const i = nFields++;
  if (i === fieldVals.length) {
    const vals = new Float64Array(2 * i);
    vals.set(fieldVals);
    fieldVals = vals;
    const next = new Int32Array(2 * i);
    next.set(fieldNext);
    fieldNext = next;
  }
  fieldKeys[i] = keyEq;
  fieldVals[i] = value;
  fieldNext[i] = -1;
  if (r.last >= 0) fieldNext[r.last] = i;
  else r.first = i;
  r.last = i;
  return true;
}

/**
 * Line heads of one converter (one target): the text after a label set's own
 * part (`measurement,labels`, shared by every target of the config).
 *
 * The points way gives a series the tags `{labels, base}` (convert.ts; base:
 * the target's tags, `instance`, where the labels lack the key), then the
 * scrape's info labels (non-info points), then the core's tags
 * (running-input.ts decorate), each only where the key is not there yet; the
 * core writes them in that order (JS orders array-index keys first). So when
 * none of the base, info and core's keys is an array index, a head is the label
 * set's own text followed by a suffix that depends only on which of those keys
 * the labels carry: one suffix for the label sets that carry none (most), one
 * per key set for the others (a node exporter's `device` series carry a key of
 * its disk's info metric). Otherwise heads are built whole, per label set.
 */
export class LineHeads {
  /** Bumped when the base tags, the info labels or the core's tags change: suffixes and whole heads are dropped. */
  private gen = 0;
  private infoGen = -1;
  private addSig: string | undefined;
  private base: Readonly<Record<string, string>> = {};
  private extra: Readonly<Record<string, string>> | undefined;
  private add: Readonly<Record<string, string>> = {};
  /** Keys of the base tags, the info labels and the core's tags: a label set carrying none of them takes the common suffix. */
  private keys = new Set<string>();
  /** The key set as one shared string (see keySets): a label set's verdict is for this set. */
  private keysId = '';
  /** No array-index key among them: heads are own text + suffix. */
  private ok = true;
  private sufInfo = EMPTY;
  private sufOther = EMPTY;
  /** Suffixes of the label sets that carry some of the keys, by their key set (LabelSet.keysId): [other lines, info lines]. */
  private bySet = new Map<string, [Buffer, Buffer]>();
  /** Heads built whole (not ok), by label set and measurement (`\x01` appended for info lines). */
  private full = new Map<LabelSet, Map<string, Buffer>>();

  /** Once per scrape: the target's base tags, the info labels (of generation `infoGen`) and the tags the core adds. */
  update(base: Readonly<Record<string, string>>, infoGen: number, extra: Readonly<Record<string, string>> | undefined, add: Readonly<Record<string, string>>): void {
    const sig = JSON.stringify(add);
    if (base === this.base && infoGen === this.infoGen && sig === this.addSig) return;
    this.base = base;
    this.infoGen = infoGen;
    this.addSig = sig;
    this.extra = extra;
    this.add = add;
    this.gen++;
    this.bySet.clear();
    this.full.clear();
    const keys = new Set<string>();
    for (const k in base) keys.add(k);
    for (const k in extra) keys.add(k);
    for (const k in add) keys.add(k);
    this.keys = keys;
    this.ok = ![...keys].some(isIndexKey);
    const id = [...keys].sort().join('\x00');
    let kid = keySets.get(id);
    if (kid === undefined) {
      if (keySets.size >= 1000) keySets.clear();
      keySets.set(id, (kid = id));
    }
    this.keysId = kid;
    this.sufOther = Buffer.from(this.suffixFor(undefined, false));
    this.sufInfo = Buffer.from(this.suffixFor(undefined, true));
  }

  /**
   * The tags a line of a label set with tags `labels` (undefined: none) gets after them, as the points way
   * adds them (see the class); with `whole`, the labels and those tags in the order JS gives the object.
   */
  private suffixFor(labels: Readonly<Record<string, string>> | undefined, info: boolean, whole = false): string {
    const t: Record<string, string> = whole ? { ...labels } : {};
    const has = (k: string) => t[k] !== undefined || (labels !== undefined && labels[k] !== undefined);
    for (const k in this.base) if (!has(k)) t[k] = this.base[k]!;
    if (this.extra !== undefined && !info) for (const k in this.extra) if (!has(k)) t[k] = this.extra[k]!;
    for (const k in this.add) if (!has(k)) t[k] = this.add[k]!;
    return tagTextOf(t);
  }

  /** The suffix of a line of label set `ls`. */
  private suffix(ls: LabelSet, info: boolean): Buffer {
    if (ls.plainKeys !== this.keysId) {
      ls.plainKeys = this.keysId;
      let plain = true;
      for (const k in ls.tags) {
        if (this.keys.has(k)) {
          plain = false;
          break;
        }
      }
      ls.plain = plain;
    }
    if (ls.plain) return info ? this.sufInfo : this.sufOther;
    let s = this.bySet.get(ls.keysId);
    if (s === undefined) {
      if (this.bySet.size >= 1000) this.bySet.clear();
      this.bySet.set(ls.keysId, (s = [Buffer.from(this.suffixFor(ls.tags!, false)), Buffer.from(this.suffixFor(ls.tags!, true))]));
    }
    return info ? s[1] : s[0];
  }

  /** Writes `measurement,tags` of a line, escaped: what the core writes for the point's decorated tags. */
  private writeHead(r: Rec, out: LineBuf): void {
    const ls = r.ls;
    if (this.ok) {
      let own: Buffer | undefined;
      if (ls.own0M === r.measurement) own = ls.own0!;
      else if (ls.own0 === undefined) {
        own = ls.own0 = Buffer.from(r.escName + tagTextOf(ls.tags!));
        ls.own0M = r.measurement;
      } else {
        ls.owns ??= new Map();
        own = ls.owns.get(r.measurement);
        if (own === undefined) ls.owns.set(r.measurement, (own = Buffer.from(r.escName + tagTextOf(ls.tags!))));
      }
      // bytes copied, not text encoded: a quarter of the UTF-8 writer's time per piece (BENCHMARKS.md session 10)
      out.appendBytes(own);
      out.appendBytes(this.suffix(ls, r.info));
      return;
    }
    let heads = this.full.get(ls);
    if (heads === undefined) this.full.set(ls, (heads = new Map()));
    const key = r.info ? r.measurement + '\x01' : r.measurement;
    let h = heads.get(key);
    if (h === undefined) heads.set(key, (h = Buffer.from(r.escName + this.suffixFor(ls.tags!, r.info, true))));
    out.appendBytes(h);
  }

  /** Forgets the whole heads of label sets gone from the target's bodies (called when it keeps many more than a scrape writes). */
  trim(lines: number): void {
    if (this.full.size > 2 * lines + 1000) this.full.clear();
  }

  /**
   * Writes a line; `time` is ` <ns>`. The fields are written piece by piece into the buffer (keys and
   * the time by a loop, integer values as digits): no concatenated string per line to build, flatten
   * and encode (a fifth of what a scrape allocated, BENCHMARKS.md session 10).
   */
  write(r: Rec, time: string, out: LineBuf): void {
    this.writeHead(r, out);
    for (let j = r.first; j >= 0; j = fieldNext[j]!) {
      out.appendAscii(j === r.first ? ' ' : ',');
      out.appendText(fieldKeys[j]!);
      appendNumber(out, fieldVals[j]!);
    }
    out.appendAscii(time);
    out.endLine();
  }
}

/** A number as JS writes it (`'' + v`, the core's field text): integers of up to 2^53 as digits, without a string. */
function appendNumber(out: LineBuf, v: number): void {
  if (Number.isInteger(v) && v <= Number.MAX_SAFE_INTEGER && v >= -Number.MAX_SAFE_INTEGER) {
    // -0 is written `0`, as JS does
    if (v < 0) {
      out.appendAscii('-');
      out.appendUint(-v);
    } else out.appendUint(v);
  } else out.appendAscii('' + v);
}
