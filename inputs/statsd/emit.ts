/**
 * How a flush writes a chunk of points: as Point objects (PointWriter), or as
 * line protocol straight into a LineBuf (LineWriter) where every sink takes
 * lines as they are. The aggregator calls begin / field / end per point and
 * take() per chunk; the writers give the same result (aggregator.test.ts pins
 * the bytes).
 */
import { LineBuf } from '../../agent/model/linebuf.js';
import { escapeKey, escapeName, tagTextOf } from '../../agent/model/lineproto.js';
import type { FieldValue, Point } from '../../agent/model/point.js';
import type { TimingTable } from './timing.js';

/**
 * A point's fields object in V8's dictionary mode. Field names here are the
 * series' own (`<name>_95_percentile`, ...): on an ordinary `{}` every distinct
 * name adds a hidden class to a transition tree that V8 clears in the atomic
 * pause of each major GC, so a flood of new names (bench/abuse: ~170,000 series,
 * 12 fields per timing) made every mark-compact pause 50–230 ms. A prototype-less
 * object starts as a dictionary and creates no hidden classes.
 */
function newFields(): Record<string, FieldValue> {
  return Object.create(null) as Record<string, FieldValue>;
}

/** A timing series' field suffixes (`_count` ... `_<p>_percentile`), made once per flush rather than per series. */
export interface TimingSuffixes {
  percentiles: readonly number[];
  names: readonly string[];
}

export function timingSuffixes(percentiles: readonly number[]): TimingSuffixes {
  return { percentiles, names: percentiles.map((p) => `_${p}_percentile`) };
}

/** Writes a timing series' fields (those not finite are left out). */
export function timingFields(w: ChunkWriter<unknown>, field: string, t: TimingTable, r: number, sfx: TimingSuffixes, scratch: Float64Array): void {
  const count = t.countOf(r);
  if (Number.isFinite(count)) w.field(field, BigInt(Math.round(count)), '_count');
  finiteField(w, field, '_sum', t.sumOf(r));
  finiteField(w, field, '_mean', t.meanOf(r));
  finiteField(w, field, '_lower', t.minOf(r));
  finiteField(w, field, '_upper', t.maxOf(r));
  finiteField(w, field, '_stddev', t.stddevOf(r));
  const n = t.sortedSamples(r, scratch);
  for (let i = 0; i < sfx.names.length; i++) finiteField(w, field, sfx.names[i]!, percentileOf(scratch, sfx.percentiles[i]!, n));
}

function finiteField(w: ChunkWriter<unknown>, field: string, suffix: string, v: number): void {
  if (Number.isFinite(v)) w.field(field, v, suffix);
}

/** A chunk's points being written: as Point objects, or as line protocol. */
export interface ChunkWriter<T> {
  begin(measurement: string, tags: Record<string, string>): void;
  /** A field named `field` + `suffix` (a suffix needs no escaping: `_count`, `_99.9_percentile`). */
  field(field: string, v: number | bigint, suffix?: string): void;
  end(): void;
  /** The chunk written since the last take() (possibly empty), and a new one begins. */
  take(): T;
}


export class PointWriter implements ChunkWriter<Point[]> {
  private out: Point[] = [];
  private p: Point | undefined;
  private any = false;
  constructor(private readonly time: bigint) {}

  begin(measurement: string, tags: Record<string, string>): void {
    this.p = { category: 'metric', name: measurement, tags, fields: newFields(), time: this.time };
    this.any = false;
  }

  field(field: string, v: number | bigint, suffix?: string): void {
    this.p!.fields[suffix === undefined ? field : field + suffix] = v;
    this.any = true;
  }

  end(): void {
    if (this.any) this.out.push(this.p!);
    this.p = undefined;
  }

  take(): Point[] {
    const out = this.out;
    this.out = [];
    return out;
  }
}

/**
 * Writes what LineBuf.point() would write for the point PointWriter builds once
 * the core has added `tagsToAdd` to it (its own tags first, then the added ones,
 * for the keys it lacks): the same escaping (lineproto.ts) and number text.
 */
export class LineWriter implements ChunkWriter<LineBuf> {
  private readonly buf = new LineBuf(64 << 10);
  private line = '';
  private sep = ' ';
  private skip = false;
  private readonly tail: string;
  private taken = false;
  constructor(
    time: bigint,
    private readonly tagsToAdd: Readonly<Record<string, string>>,
  ) {
    this.tail = ' ' + time;
  }

  begin(measurement: string, tags: Record<string, string>): void {
    if (this.taken) {
      this.buf.reset();
      this.taken = false;
    }
    const add = this.tagsToAdd;
    for (const k in add) if (tags[k] === undefined) tags[k] = add[k]!;
    this.skip = measurement === '';
    this.line = escapeName(measurement) + tagTextOf(tags);
    this.sep = ' ';
  }

  field(field: string, v: number | bigint, suffix?: string): void {
    if (field !== this.lastField) {
      // a timing series writes 6 + percentiles fields of one name: escaped once
      this.lastField = field;
      this.escaped = escapeKey(field);
    }
    if (suffix === undefined && field === '') return;
    this.line += this.sep + this.escaped + (suffix ?? '') + '=' + (typeof v === 'bigint' ? `${v}i` : String(v));
    this.sep = ',';
  }

  private lastField = '';
  private escaped = '';

  end(): void {
    if (this.skip || this.sep === ' ') return;
    this.buf.append(this.line + this.tail);
    this.buf.endLine();
  }

  take(): LineBuf {
    if (this.taken) this.buf.reset();
    this.taken = true;
    return this.buf;
  }
}

/** Nearest rank as Telegraf/DataKit compute it: sorted[floor(n × p / 100)], clamped (over the first `n` of `sorted`). */
export function percentileOf(sorted: Float64Array, p: number, n = sorted.length): number {
  if (n === 0) return 0;
  const i = Math.min(n - 1, Math.max(0, Math.floor((n * p) / 100)));
  return sorted[i]!;
}
