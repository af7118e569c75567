/**
 * A streaming-free, allocation-light parser for the Prometheus text format
 * 0.0.4 and OpenMetrics 1.0. This is the measured hot path of the prom input
 * (bench/prom): it walks the body once with indexOf/charCodeAt, hands each
 * sample to a callback with its labels still as raw text (`a="1",b="2"`) and
 * leaves label decoding to {@link parseLabels}, which the converter calls once
 * per output point rather than once per sample. A parser kept per target
 * (`remember`) recognises a line whose series text equals the same line of the
 * previous body with one string comparison, and hands over its own copies.
 *
 * Lenient like a scraper should be: a malformed line is counted and skipped,
 * the rest of the body is still used.
 */
import { fastDecimal, isNonFiniteWord } from './number.js';

export interface Family {
  /** Family name: the `# TYPE` name, or the sample name when there is none. */
  readonly name: string;
  /** Lower-case type from `# TYPE` (`counter`, `gauge`, `histogram`, `summary`, `info`, ...) or `untyped`. */
  readonly type: string;
  /** The parse (body) in which its `# TYPE` line was last seen (0: none). Created with the family, so a family is one object without a separate property store. */
  seen: number;
  /** The suffixes its samples may add to its name (SUFFIXES of its type): looked up once, not per `# TYPE` line. */
  readonly suffixes: readonly string[];
  /**
   * Untyped only for now: a family of an earlier body would claim the name if
   * its `# TYPE` line came later in this body. Not cached, so that the samples
   * after that line resolve to it.
   */
  provisional?: true;
}

/**
 * One sample. `rawLabels` is the text between the braces (empty without labels);
 * `tsMs` is the sample's timestamp in milliseconds, or NaN when absent. `line`:
 * a parser that remembers bodies gives each distinct series text (`name{labels}`)
 * one object, the same across bodies and parsers, on which the caller can keep
 * what it derives from the text (`memo`); undefined otherwise.
 */
export type SampleHandler = (name: string, family: Family, rawLabels: string, value: number, tsMs: number, line: SeriesText | undefined) => void;

export interface ParseStats {
  /** Samples handed to the handler. */
  samples: number;
  /** Samples whose value is NaN or ±Inf (skipped, as DataKit does). */
  nonFinite: number;
  /** Malformed lines skipped. */
  invalid: number;
  /** The first malformed line (truncated), for a log line. */
  firstError?: string;
}

/** Suffixes a sample may add to its family's name, per family type. */
const SUFFIXES: Record<string, readonly string[]> = {
  counter: ['_total', '_created'],
  histogram: ['_bucket', '_count', '_sum', '_created'],
  gaugehistogram: ['_bucket', '_gcount', '_gsum'],
  summary: ['_count', '_sum', '_created'],
  info: ['_info'],
};
/** The suffixes of a family type without any (a gauge's): one array, not one per `# TYPE` line. */
const NO_SUFFIXES: readonly string[] = [];
const ALL_SUFFIXES = ['_bucket', '_count', '_sum', '_total', '_created', '_gcount', '_gsum', '_info'];

const SPACE = 32;
const TAB = 9;
const HASH = 35;
const LBRACE = 123;
const RBRACE = 125;
const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const CR = 13;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A series text, `name{labels}` up to the value, and its parts: one object shared by every parser (see seriesText()). */
export interface SeriesText {
  readonly prefix: string;
  readonly name: string;
  readonly raw: string;
  /**
   * What a caller derived from this text (the converter: its name mapping and label set under
   * one config), shared by every target whose body has the line; the caller checks it still applies.
   */
  memo: unknown;
}

const MAX_LINES = 200_000;

/**
 * A flat copy of `s` that does not keep its parent (a whole scrape body) alive.
 * It goes through a Buffer because V8 keeps `slice()`/concatenation results as
 * sliced or cons strings, which compare several times slower (startsWith on the
 * cached series text is the parser's hot path).
 */
export function detach(s: string): string {
  return s.length < 13 ? s : Buffer.from(s, 'utf8').toString('utf8');
}

/**
 * Series texts and family names, one flat copy shared by the parsers of every
 * target: a thousand node exporters repeat the same lines. Bounded: emptied
 * when full (parsers keep the copies they hold).
 */
const sharedText = new Map<string, string>();
const MAX_SHARED = 1 << 18;

/** The shared flat copy of `s` (see {@link detach}). */
export function shared(s: string): string {
  let t = sharedText.get(s);
  if (t === undefined) {
    if (sharedText.size >= MAX_SHARED) sharedText.clear();
    t = detach(s);
    sharedText.set(t, t);
  }
  return t;
}

const seriesTexts = new Map<string, SeriesText>();

/** The shared record of series text `text0` (a slice of a body), whose name is `nameLen` long and labels at [rawAt, rawAt + rawLen). */
function seriesText(text0: string, nameLen: number, rawAt: number, rawLen: number): SeriesText {
  let st = seriesTexts.get(text0);
  if (st === undefined) {
    if (seriesTexts.size >= MAX_SHARED) seriesTexts.clear();
    const prefix = detach(text0);
    // the name is most often a family's (a gauge, a counter's `_total` in text 0.0.4): its shared copy
    st = { prefix, name: shared(prefix.slice(0, nameLen)), raw: rawLen === 0 ? '' : prefix.slice(rawAt, rawAt + rawLen), memo: undefined };
    seriesTexts.set(prefix, st);
  }
  return st;
}

export class ExpositionParser {
  /** Declared families by name. */
  private readonly types = new Map<string, Family>();
  /** Sample name → family, for names seen away from their TYPE line. */
  private readonly resolved = new Map<string, Family>();
  private cur: Family | undefined;
  private curSuffixes: readonly string[] = [];
  /**
   * The series text of each sample line of the previous body (see parse())
   * and its family. A line that moved is found by its text in the shared
   * table. Emptied when a declaration changes: every line kept was resolved
   * under the declarations that hold.
   */
  private readonly lines: SeriesText[] = [];
  private readonly lineFams: Family[] = [];
  /**
   * The families declared by the `# TYPE` lines of the previous body, in order
   * (see comment()). Emptied when a declaration changes.
   */
  private readonly typeLines: Family[] = [];
  /** Their lines' text, shared by every parser (see shared()). */
  private readonly typeTexts: string[] = [];
  /** index of the next `# TYPE` line in the current body */
  private ti = 0;
  /** Counts parse() calls: families declared in an older body do not apply. */
  private parseGen = 0;

  /**
   * @param remember keep the previous body's series texts so that an unchanged
   *   line is recognised with one string comparison (a parser kept per target).
   */
  constructor(
    private readonly openMetrics: boolean,
    private readonly remember = false,
  ) {}

  private family(name: string): Family {
    const cur = this.cur;
    if (cur !== undefined && name.startsWith(cur.name)) {
      if (name.length === cur.name.length) return cur;
      const rest = name.slice(cur.name.length);
      if (this.curSuffixes.includes(rest)) return cur;
    }
    const gen = this.parseGen;
    let f = this.resolved.get(name);
    if (f !== undefined && (f.type === 'untyped' || f.seen === gen)) return f;
    /** a family declared in an earlier body claims the name, but not (yet) in this one */
    let claimed = false;
    f = this.types.get(name);
    if (f !== undefined && f.seen !== gen) {
      claimed = true;
      f = undefined;
    }
    if (f === undefined) {
      for (const s of ALL_SUFFIXES) {
        if (name.endsWith(s)) {
          const t = this.types.get(name.slice(0, -s.length));
          if (t !== undefined && t.suffixes.includes(s)) {
            if (t.seen === gen) {
              f = t;
              break;
            }
            claimed = true;
          }
        }
      }
    }
    if (f === undefined && claimed) return { name: shared(name), type: 'untyped', seen: 0, suffixes: NO_SUFFIXES, provisional: true };
    f ??= { name: shared(name), type: 'untyped', seen: 0, suffixes: NO_SUFFIXES };
    this.resolved.set(f.name === name ? f.name : shared(name), f);
    return f;
  }

  private invalid(stats: ParseStats, text: string, start: number, end: number): void {
    stats.invalid++;
    stats.firstError ??= text.slice(start, Math.min(end, start + 200));
  }

  /** Parses a whole body, calling `onSample` for every finite sample. */
  parse(text: string, onSample: SampleHandler): ParseStats {
    const stats: ParseStats = { samples: 0, nonFinite: 0, invalid: 0 };
    const len = text.length;
    let i = 0;
    /** index of the sample line, for the previous-body cache */
    let li = 0;
    this.parseGen++;
    this.cur = undefined;
    this.curSuffixes = NO_SUFFIXES;
    this.ti = 0;
    while (i < len) {
      let eol = text.indexOf('\n', i);
      if (eol < 0) eol = len;
      const next = eol + 1;
      if (eol > i && text.charCodeAt(eol - 1) === CR) eol--;
      // skip leading blanks
      let p = i;
      while (p < eol && (text.charCodeAt(p) === SPACE || text.charCodeAt(p) === TAB)) p++;
      if (p === eol) {
        i = next;
        continue;
      }
      if (text.charCodeAt(p) === HASH) {
        if (this.comment(text, p, eol)) break; // # EOF
        i = next;
        continue;
      }
      let name: string;
      let rawLabels: string;
      let family: Family;
      const line = this.lines[li];
      /** the series text object handed to onSample */
      let memo: SeriesText | undefined;
      let c: number;
      let f0: Family;
      if (
        line !== undefined &&
        (((f0 = this.lineFams[li]!).type === 'untyped' && f0.provisional !== true) || f0.seen === this.parseGen) &&
        // a slice compared is about twice as fast as startsWith(prefix, p) in V8 (node 20)
        text.slice(p, p + line.prefix.length) === line.prefix &&
        ((c = text.charCodeAt(p + line.prefix.length)) === SPACE || c === TAB)
      ) {
        // same series text as this line of the previous body: no scanning, no slicing
        name = line.name;
        rawLabels = line.raw;
        family = f0;
        memo = line;
        p += line.prefix.length;
      } else {
        const lineStart = p;
        const nameStart = p;
        c = 0;
        while (p < eol) {
          c = text.charCodeAt(p);
          if (c === LBRACE || c === SPACE || c === TAB) break;
          p++;
        }
        if (p === nameStart || p === eol) {
          this.invalid(stats, text, i, eol);
          i = next;
          li++;
          continue;
        }
        name = text.slice(nameStart, p);
        rawLabels = '';
        let prefixEnd = p;
        if (c !== LBRACE) {
          while (p < eol && (text.charCodeAt(p) === SPACE || text.charCodeAt(p) === TAB)) p++;
          c = text.charCodeAt(p);
        }
        if (c === LBRACE) {
          const end = labelsEnd(text, p + 1, eol);
          if (end < 0) {
            this.invalid(stats, text, i, eol);
            i = next;
            li++;
            continue;
          }
          rawLabels = text.slice(p + 1, end);
          p = end + 1;
          prefixEnd = p;
        }
        family = this.family(name);
        if (this.remember && li < MAX_LINES) {
          // a new or moved line: its text's shared record (name and labels as slices of one flat copy,
          // so that what callers keep of them keeps no body alive)
          const rawAt = rawLabels === '' ? 0 : p - 1 - rawLabels.length - lineStart;
          const e = seriesText(text.slice(lineStart, prefixEnd), name.length, rawAt, rawLabels.length);
          if (li <= this.lines.length) {
            this.lines[li] = e;
            this.lineFams[li] = family;
          }
          name = e.name;
          rawLabels = e.raw;
          memo = e;
        }
      }
      li++;
      while (p < eol && (text.charCodeAt(p) === SPACE || text.charCodeAt(p) === TAB)) p++;
      const vStart = p;
      while (p < eol && text.charCodeAt(p) !== SPACE && text.charCodeAt(p) !== TAB) p++;
      if (p === vStart) {
        this.invalid(stats, text, i, eol);
        i = next;
        continue;
      }
      let value = fastDecimal(text, vStart, p);
      if (value !== value) {
        const vText = text.slice(vStart, p);
        value = Number(vText);
        if (Number.isFinite(value)) {
          // fall through with the slow-path value
        } else {
        if (isNonFiniteWord(vText) || vText === 'Infinity' || vText === '-Infinity' || vText === '+Infinity') stats.nonFinite++;
        else this.invalid(stats, text, i, eol);
        i = next;
        continue;
        }
      }
      let tsMs = NaN;
      while (p < eol && (text.charCodeAt(p) === SPACE || text.charCodeAt(p) === TAB)) p++;
      if (p < eol && text.charCodeAt(p) !== HASH) {
        const tStart = p;
        while (p < eol && text.charCodeAt(p) !== SPACE && text.charCodeAt(p) !== TAB) p++;
        const t = Number(text.slice(tStart, p));
        if (!Number.isFinite(t)) {
          this.invalid(stats, text, i, eol);
          i = next;
          continue;
        }
        tsMs = this.openMetrics ? t * 1000 : t;
      }
      // anything left is an OpenMetrics exemplar (`# {...} v [ts]`): ignored
      stats.samples++;
      onSample(name, family, rawLabels, value, tsMs, memo);
      i = next;
    }
    if (this.remember) {
      if (this.lines.length > li) this.lines.length = this.lineFams.length = li;
      if (this.typeLines.length > this.ti) this.typeLines.length = this.typeTexts.length = this.ti;
    }
    return stats;
  }

  /** Handles a `#` line; returns true on `# EOF`. */
  private comment(text: string, p: number, eol: number): boolean {
    // "# TYPE name type", "# HELP ...", "# UNIT ...", "# EOF", other comments
    let q = p + 1;
    while (q < eol && text.charCodeAt(q) === SPACE) q++;
    const c = text.charCodeAt(q);
    if (c === 69 /* E */) return this.openMetrics && text.startsWith('EOF', q);
    // T Y P E
    if (c !== 84 || text.charCodeAt(q + 1) !== 89 || text.charCodeAt(q + 2) !== 80 || text.charCodeAt(q + 3) !== 69) return false;
    const ti = this.ti;
    const f0 = this.typeLines[ti];
    if (f0 !== undefined) {
      // the same text as the previous body's `# TYPE` line at this position: the same declaration
      const t0 = this.typeTexts[ti]!;
      if (eol - p === t0.length && text.slice(p, eol) === t0) {
        this.ti++;
        return this.declared(f0);
      }
    }
    q += 4;
    while (q < eol && (text.charCodeAt(q) === SPACE || text.charCodeAt(q) === TAB)) q++;
    let e = q;
    while (e < eol && text.charCodeAt(e) !== SPACE && text.charCodeAt(e) !== TAB) e++;
    if (e === q) return false;
    const name = text.slice(q, e);
    while (e < eol && (text.charCodeAt(e) === SPACE || text.charCodeAt(e) === TAB)) e++;
    let t = eol;
    while (t > e && (text.charCodeAt(t - 1) === SPACE || text.charCodeAt(t - 1) === TAB)) t--;
    if (t === e) return false;
    let f = this.types.get(name);
    // compare the type in place; allocate only when it is new or changed
    if (f === undefined || t - e !== f.type.length || !text.startsWith(f.type, e)) {
      // one string per type for every parser: a mapping's family type (names.ts) then compares by identity
      const type = shared(text.slice(e, t).toLowerCase());
      if (f === undefined || f.type !== type) {
        // cached lines stay valid unless a family changed its type or now claims
        // sample names that were resolved without it
        const claims = f === undefined && (this.resolved.has(name) || ALL_SUFFIXES.some((x) => this.resolved.has(name + x)));
        if (f !== undefined || claims) {
          // the lines kept before this one in this body too: none is stored again until the next body
          this.lines.length = this.lineFams.length = 0;
          this.resolved.clear();
          this.typeLines.length = 0;
          this.typeTexts.length = 0;
        }
        f = { name: shared(name), type, seen: 0, suffixes: Object.hasOwn(SUFFIXES, type) ? SUFFIXES[type]! : NO_SUFFIXES };
        this.types.set(f.name, f);
      }
    }
    if (this.remember && ti < MAX_LINES) {
      if (ti <= this.typeLines.length) {
        this.typeLines[ti] = f;
        this.typeTexts[ti] = shared(text.slice(p, eol));
      }
      this.ti++;
    }
    return this.declared(f);
  }

  /** A `# TYPE` line declared family f: the samples that follow belong to it. */
  private declared(f: Family): false {
    f.seen = this.parseGen;
    this.cur = f;
    this.curSuffixes = f.suffixes;
    return false;
  }
}

/**
 * Finds the `}` closing a label set that starts at `p` (just after `{`), skipping
 * quoted values and their escapes. Returns its index, or -1 when there is none
 * on the line. The pairs themselves are checked by {@link parseLabels}, once per
 * new series rather than once per sample.
 */
export function labelsEnd(text: string, p: number, eol: number): number {
  for (; p < eol; p++) {
    const c = text.charCodeAt(p);
    if (c === QUOTE) {
      for (p++; p < eol; p++) {
        const d = text.charCodeAt(p);
        if (d === BACKSLASH) p++;
        else if (d === QUOTE) break;
      }
    } else if (c === RBRACE) return p;
  }
  return -1;
}

function unescape(s: string): string {
  if (s.indexOf('\\') < 0) return s;
  return s.replace(/\\(.)/g, (_, ch: string) => (ch === 'n' ? '\n' : ch));
}

/**
 * Decodes raw label text (`a="1",b="x\\"y"`) into `out` as flat `[k0, v0, k1, v1, ...]`.
 * Returns the number of strings written, or -1 when the text is not a valid
 * label set (`name="value"` pairs separated by commas).
 */
export function parseLabels(raw: string, out: string[]): number {
  let n = 0;
  let p = 0;
  const len = raw.length;
  for (;;) {
    while (p < len && (raw.charCodeAt(p) === SPACE || raw.charCodeAt(p) === TAB)) p++;
    if (p >= len) return n;
    const eq = raw.indexOf('=', p);
    if (eq < 0) return -1;
    let kEnd = eq;
    while (kEnd > p && (raw.charCodeAt(kEnd - 1) === SPACE || raw.charCodeAt(kEnd - 1) === TAB)) kEnd--;
    const key = raw.slice(p, kEnd);
    if (!LABEL_NAME.test(key)) return -1;
    let q = eq + 1;
    while (q < len && raw.charCodeAt(q) === SPACE) q++;
    if (raw.charCodeAt(q) !== QUOTE) return -1;
    let close = q + 1;
    for (; close < len; close++) {
      const d = raw.charCodeAt(close);
      if (d === BACKSLASH) close++;
      else if (d === QUOTE) break;
    }
    if (close >= len) return -1;
    out[n++] = key;
    out[n++] = unescape(raw.slice(q + 1, close));
    p = close + 1;
    while (p < len && (raw.charCodeAt(p) === SPACE || raw.charCodeAt(p) === TAB)) p++;
    if (p >= len) return n;
    if (raw.charCodeAt(p) !== COMMA) return -1;
    p++;
  }
}
