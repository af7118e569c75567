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
import { detach } from './parser.js';

/** What lines mode keeps per series (part of the converter's series). */
export interface HeadCache {
  /** The series' tags (labels, renames, base tags), frozen. */
  readonly tags: Readonly<Record<string, string>> | null | undefined;
  /** `measurement,own tags` escaped, for the series' first measurement (own0M), then for others. */
  own0?: string;
  own0M?: string;
  owns?: Map<string, string>;
  /** Whether the series' heads are own text + the shared suffix, as of suffix generation plainGen. */
  plainGen?: number;
  plain?: boolean;
  /** Whole heads when not plain, by measurement (`\x01` appended for info lines), of suffix generation fullGen. */
  fullGen?: number;
  full?: Map<string, string>;
}

/** A line being built: one series' fields for one measurement in one scrape. */
export interface Rec {
  s: HeadCache;
  measurement: string;
  escName: string;
  /** An info metric's line: it gets no info labels. */
  info: boolean;
  /** Escaped field keys with their `=`, and the values, in sample order. */
  keys: string[];
  vals: number[];
  /** The keys as a set, once there are many (the unlabelled series: a hundred and more fields). */
  set: Set<string> | undefined;
}

/** Whether `k` is an array index, which JS objects order before other keys. */
export function isIndexKey(k: string): boolean {
  const c = k.charCodeAt(0);
  if (c < 48 || c > 57) return false;
  return /^(0|[1-9][0-9]*)$/.test(k) && Number(k) < 4294967295;
}

/**
 * Adds field `keyEq` with `value` to a line; false when the line already has
 * that key (the point would keep one value in the first key's place: the
 * caller converts the scrape the points way).
 */
export function addField(r: Rec, keyEq: string, value: number): boolean {
  const keys = r.keys;
  if (r.set !== undefined) {
    if (r.set.has(keyEq)) return false;
    r.set.add(keyEq);
  } else {
    for (let j = 0; j < keys.length; j++) if (keys[j] === keyEq) return false;
    if (keys.length >= 16) r.set = new Set(keys).add(keyEq);
  }
  keys.push(keyEq);
  r.vals.push(value);
  return true;
}

/** Line heads of one converter: the suffix shared by its series, and their own parts. */
export class LineHeads {
  /** Bumped when the info labels or the core's tags change: series check and build their heads again. */
  private gen = 0;
  private infoGen = -1;
  private addSig: string | undefined;
  private extra: Readonly<Record<string, string>> | undefined;
  private add: Readonly<Record<string, string>> = {};
  /** Keys of the suffix; a series carrying one of them is not plain. */
  private keys = new Set<string>();
  /** No array-index key in the suffix (those are ordered first: every head is built whole). */
  private ok = true;
  private sufInfo = '';
  private sufOther = '';

  /** Once per scrape: the info labels (of generation `infoGen`) and the tags the core adds. */
  update(infoGen: number, extra: Readonly<Record<string, string>> | undefined, add: Readonly<Record<string, string>>): void {
    const sig = JSON.stringify(add);
    if (infoGen === this.infoGen && sig === this.addSig) return;
    this.infoGen = infoGen;
    this.addSig = sig;
    this.extra = extra;
    this.add = add;
    this.gen++;
    const keys = new Set<string>();
    for (const k in extra) keys.add(k);
    for (const k in add) keys.add(k);
    this.keys = keys;
    this.ok = ![...keys].some(isIndexKey);
    this.sufInfo = detach(tagTextOf(add));
    if (extra === undefined) this.sufOther = this.sufInfo;
    else {
      const rest: Record<string, string> = {};
      for (const k in add) if (extra[k] === undefined) rest[k] = add[k]!;
      this.sufOther = detach(tagTextOf(extra) + tagTextOf(rest));
    }
  }

  private plain(tags: Readonly<Record<string, string>>): boolean {
    if (!this.ok) return false;
    for (const k in tags) if (this.keys.has(k)) return false;
    return true;
  }

  /** Writes `measurement,tags` of a line, escaped: what the core writes for the point's decorated tags. */
  private writeHead(r: Rec, out: LineBuf): void {
    const s = r.s;
    if (s.plainGen !== this.gen) {
      s.plainGen = this.gen;
      s.plain = this.plain(s.tags!);
      s.full = undefined;
    }
    if (s.plain) {
      let own: string | undefined;
      if (s.own0M === r.measurement) own = s.own0!;
      else if (s.own0 === undefined) {
        own = s.own0 = detach(r.escName + tagTextOf(s.tags!));
        s.own0M = r.measurement;
      } else {
        s.owns ??= new Map();
        own = s.owns.get(r.measurement);
        if (own === undefined) s.owns.set(r.measurement, (own = detach(r.escName + tagTextOf(s.tags!))));
      }
      // two flat strings written one after the other: no concatenated copy to flatten
      out.append(own);
      out.append(r.info ? this.sufInfo : this.sufOther);
      return;
    }
    if (s.fullGen !== this.gen || s.full === undefined) {
      s.fullGen = this.gen;
      s.full = new Map();
    }
    const key = r.info ? r.measurement + '\x01' : r.measurement;
    let h = s.full.get(key);
    if (h === undefined) {
      // as the points way builds it: the series' tags, the info labels (convert.ts finishTags), the core's (running-input.ts decorate)
      const t: Record<string, string> = { ...s.tags };
      if (this.extra !== undefined && !r.info) for (const k in this.extra) if (t[k] === undefined) t[k] = this.extra[k]!;
      for (const k in this.add) if (t[k] === undefined) t[k] = this.add[k]!;
      s.full.set(key, (h = detach(r.escName + tagTextOf(t))));
    }
    out.append(h);
  }

  /** Writes a line; `time` is ` <ns>`. */
  write(r: Rec, time: string, out: LineBuf): void {
    this.writeHead(r, out);
    const keys = r.keys;
    const vals = r.vals;
    let fields = ' ' + keys[0]! + vals[0]!;
    for (let j = 1; j < keys.length; j++) fields += ',' + keys[j]! + vals[j]!;
    out.append(fields + time);
    out.endLine();
  }
}
