/**
 * Metric names → measurement and field, the DataKit way (see convert.ts), with
 * the filters of metric_types and the name filters: one table per config,
 * shared by the converters of every target of an instance.
 */
import { escapeKey, escapeName } from '../../agent/model/lineproto.js';
import { isIndexKey } from './lines.js';
import { detach, type Family } from './parser.js';

export interface ConvertOptions {
  metric_types: readonly string[];
  metric_name_filter: readonly string[];
  metric_name_filter_ignore: readonly string[];
  measurement_prefix: string;
  measurement_name: string;
  measurements: readonly { prefix: string; name: string }[];
  keep_exist_metric_name: boolean;
  honor_timestamps: boolean;
  tags_ignore: readonly string[];
  ignore_tag_kv_match: Readonly<Record<string, readonly string[]>>;
  tags_rename: { overwrite_exist_tags: boolean; mapping: Readonly<Record<string, string>> };
  disable_info_tag: boolean;
}

/** What a metric name becomes. */
export interface Mapping {
  measurement: string;
  field: string;
  info: boolean;
  /** filtered out by metric_types or the name filters */
  skip: boolean;
  /** The name and type of the family it was made for: filters and info detection read them, and a later body may change them. */
  fname: string;
  ftype: string;
  /** Lines mode: the escaped measurement, and the escaped field key with its `=`. */
  escName: string;
  keyEq: string;
  /**
   * Lines mode cannot write this sample as the core would write its point
   * (the point would have an empty measurement or field key, or a field key
   * JS orders first, an array index): the scrape goes the points way.
   */
  odd: boolean;
  /** Lines mode: another mapping of the table has the same measurement and field (lines.ts addField). */
  shared: boolean;
  /** Lines mode: the id of the line it last gave a field to (lines.ts addField). */
  lastRec: number;
}

/** Names a table keeps before it starts again. */
const MAX_NAMES = 100_000;

/**
 * Metric name → measurement/field mapping under one config: shared by the
 * converters of every target of an instance (a thousand node exporters have
 * the same few hundred names), kept until it holds MAX_NAMES names.
 */
export class NameTable {
  private readonly names = new Map<string, Mapping>();
  /** The mapping of each measurement and field (`measurement\x00field`), to tell mappings that share a key (Mapping.shared). */
  private readonly fields = new Map<string, Mapping>();
  /**
   * Bumped when the table starts again: its mappings from before are no longer known to `fields`, so they
   * must not be used again (convert.ts checks a memo's epoch) nor trusted to be unshared.
   */
  epoch = 0;
  private readonly keep: RegExp[];
  private readonly ignore: RegExp[];
  private readonly types: Set<string> | undefined;

  constructor(private readonly o: ConvertOptions) {
    this.keep = o.metric_name_filter.map((r) => new RegExp(r));
    this.ignore = o.metric_name_filter_ignore.map((r) => new RegExp(r));
    const types = o.metric_types.map((t) => t.toLowerCase());
    this.types = types.length > 0 ? new Set(types.flatMap((t) => (t === 'untyped' ? ['untyped', 'unknown'] : [t]))) : undefined;
  }

  get(name: string, family: Family): Mapping {
    let m = this.names.get(name);
    if (m === undefined || m.fname !== family.name || m.ftype !== family.type) {
      if (this.names.size >= MAX_NAMES) {
        this.names.clear();
        this.fields.clear();
        this.epoch++;
      }
      m = this.map(name, family);
      this.names.set(detach(name), m);
      if (!m.skip) {
        const k = m.measurement + '\x00' + m.field;
        const other = this.fields.get(k);
        if (other === undefined) this.fields.set(k, m);
        else if (other !== m) other.shared = m.shared = true;
      }
    }
    return m;
  }

  /** The measurement/field mapping of a metric name in its family, or a skip when filtered out. */
  private map(name: string, family: Family): Mapping {
    const o = this.o;
    const fam = { fname: family.name, ftype: family.type };
    const skip = (): Mapping => ({ measurement: '', field: '', info: false, skip: true, ...fam, escName: '', keyEq: '', odd: false, shared: false, lastRec: 0 });
    if (this.types !== undefined && !this.types.has(family.type)) return skip();
    if (this.keep.length > 0 && !this.keep.some((r) => r.test(name) || r.test(family.name))) return skip();
    if (this.ignore.length > 0 && this.ignore.some((r) => r.test(name) || r.test(family.name))) return skip();
    let measurement: string | undefined;
    let field = name;
    for (const r of o.measurements) {
      if (r.prefix !== '' && name.startsWith(r.prefix)) {
        measurement = o.measurement_prefix + r.name;
        field = name.slice(r.prefix.length).replace(/^_/, '') || name;
        break;
      }
    }
    if (measurement === undefined) {
      if (o.measurement_name !== '') {
        measurement = o.measurement_name;
      } else {
        const n = name.startsWith('_') ? name.slice(1) : name;
        const i = n.indexOf('_');
        measurement = o.measurement_prefix + (i < 0 ? n : n.slice(0, i));
        field = i < 0 ? n : n.slice(i + 1);
      }
    }
    if (o.keep_exist_metric_name) field = name;
    const info = family.type === 'info' || (name.endsWith('_info') && (family.type === 'gauge' || family.type === 'untyped' || family.type === 'unknown'));
    const odd = measurement === '' || field === '' || isIndexKey(field);
    // flat copies: slices and concatenations would keep their parts (or a whole body) alive
    measurement = detach(measurement);
    field = detach(field);
    return { measurement, field, info, skip: false, ...fam, escName: detach(escapeName(measurement)), keyEq: detach(escapeKey(field) + '='), odd, shared: false, lastRec: 0 };
  }
}

/** The name table of each config object (converters of one instance share its config). */
const tables = new WeakMap<ConvertOptions, NameTable>();

/** The name table of a config (created on first use). */
export function namesOf(o: ConvertOptions): NameTable {
  let t = tables.get(o);
  if (t === undefined) tables.set(o, (t = new NameTable(o)));
  return t;
}
