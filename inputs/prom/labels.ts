/**
 * Label texts → tags under one config (tags_ignore, ignore_tag_kv_match,
 * tags_rename): one table per config, shared by the converters of every target
 * of an instance, as names.ts shares the name mappings. A thousand node
 * exporters repeat the same hundred label sets; what differs between targets
 * (the `instance` tag, the info labels, the tags the core adds) is kept per
 * converter and written after a label set's own text (lines.ts).
 */
import type { ConvertOptions } from './names.js';
import { detach, parseLabels } from './parser.js';
import type { LabelSet } from './lines.js';

export type { LabelSet } from './lines.js';

/**
 * Tags rebuilt in a fast V8 shape (objects whose keys were added one by one become slow
 * dictionaries past a dozen keys) and frozen: the core decorates a frozen template once
 * (agent/input/running-input.ts decorateFrozen) and caches its escaped text (linebuf.ts).
 */
export function template(o: Record<string, string>): Readonly<Record<string, string>> {
  return Object.freeze(JSON.parse(JSON.stringify(o)) as Record<string, string>);
}

/** Label sets a table keeps before it starts again (converters keep what they hold). */
const MAX_SETS = 1 << 18;

export class LabelTable {
  private readonly sets = new Map<string, LabelSet>();
  private readonly tagsIgnore: Set<string>;
  private readonly kvMatch: Map<string, RegExp[]>;
  private readonly renames: [string, string][];
  private readonly labelBuf: string[] = [];

  constructor(private readonly o: ConvertOptions) {
    this.tagsIgnore = new Set(o.tags_ignore);
    this.kvMatch = new Map(Object.entries(o.ignore_tag_kv_match).map(([k, rs]) => [k, rs.map((r) => new RegExp(r))]));
    this.renames = Object.entries(o.tags_rename.mapping);
  }

  /** The label set of raw label text `raw`. */
  get(raw: string): LabelSet {
    let ls = this.sets.get(raw);
    if (ls === undefined) {
      if (this.sets.size >= MAX_SETS) this.sets.clear();
      const tags = this.tags(raw);
      ls = { tags, keysId: tags ? Object.keys(tags).sort().join('\x00') : '', own0: undefined, own0M: undefined, owns: undefined, plainKeys: undefined, plain: false, stamp: 0, m0: '', r0: undefined, rmore: undefined };
      // a flat copy: the text may be a slice of a body
      this.sets.set(detach(raw), ls);
    }
    return ls;
  }

  /** The tags of a label text, or null when ignore_tag_kv_match drops it (undefined: malformed). */
  private tags(raw: string): Readonly<Record<string, string>> | null | undefined {
    const t: Record<string, string> = {};
    if (raw !== '') {
      const buf = this.labelBuf;
      const n = parseLabels(raw, buf);
      if (n < 0) return undefined;
      const ignore = this.tagsIgnore;
      const kv = this.kvMatch;
      for (let i = 0; i < n; i += 2) {
        const k = buf[i]!;
        const v = buf[i + 1]!;
        if (kv.size > 0) {
          const rs = kv.get(k);
          if (rs !== undefined && rs.some((r) => r.test(v))) return null;
        }
        if (ignore.size > 0 && ignore.has(k)) continue;
        t[k] = v;
      }
    }
    for (const [from, to] of this.renames) {
      const v = t[from];
      if (v === undefined || from === to) continue;
      if (t[to] !== undefined && !this.o.tags_rename.overwrite_exist_tags) continue;
      t[to] = v;
      delete t[from];
    }
    return template(t);
  }
}

/** The label table of each config object (converters of one instance share its config). */
const tables = new WeakMap<ConvertOptions, LabelTable>();

/** The label table of a config (created on first use). */
export function labelsOf(o: ConvertOptions): LabelTable {
  let t = tables.get(o);
  if (t === undefined) tables.set(o, (t = new LabelTable(o)));
  return t;
}
