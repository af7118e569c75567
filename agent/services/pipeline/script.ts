/**
 * A loaded Pipeline script: parsed and compiled once, then run per log line.
 *
 * A run that throws (or exceeds its time bound) leaves the line as it was:
 * the caller gets `ok: false` and sends the raw line; the script counts it.
 */
import v8 from 'node:v8';
import { Compiler, type CompileOptions, type Exec } from './compile.js';
import { PipelineError } from './errors.js';
import { STATUS, TIME, type Fields, type KeyTable } from './fields.js';
import type { PatternScope } from './grok/compile.js';
import { parse } from './parser.js';
import { Run, ScriptAbort } from './runtime.js';
import { normalizeStatus } from './status.js';
import { parseZone } from './timeparse.js';

// A regular expression that backtracks past V8's limit finishes on V8's linear-time engine
// instead of running for minutes (catastrophic backtracking in a user's grok pattern or on a
// pathological line). Process-wide; it changes no result, only how a runaway match is run.
v8.setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
// V8 counts backtracks per attempt at one position (default limit 50,000): an unanchored search
// that backtracks a little at every position of a long line is quadratic below that limit.
v8.setFlagsFromString('--regexp-backtracks-before-fallback=10000');

export interface ScriptOutput {
  /** Fields (message included unless drop_origin_data()); nil values are left out by the encoders. */
  fields: Fields;
  tags: Map<string, string> | undefined;
  /** The point's own tags the script removed. */
  droppedTags: Set<string> | undefined;
  /** From an integer `time` key (default_time()), in ns. */
  time: bigint | undefined;
  /** The normalised `status`, when the script set one. */
  status: string | undefined;
  measurement: string | undefined;
  dropped: boolean;
}

export type RunOutcome = { ok: true; out: ScriptOutput } | { ok: false; error: string; timedOut: boolean };

export interface ScriptStats {
  lines: number;
  failed: number;
  timedOut: number;
  dropped: number;
}

export interface ScriptOptions extends CompileOptions {
  /** Time a run may take, in ms (default 100). */
  timeBoundMs?: number;
  /**
   * Longest message a script is run over, in UTF-16 units (default 65,536): longer
   * ones are sent as they are and counted with the lines past the time bound (a
   * regular expression over half a megabyte can take seconds even when linear).
   */
  maxLineLength?: number;
  /** Grok patterns shared by every script (the pipeline directory's pattern/ files), under add_pattern(). */
  patterns?: PatternScope;
}

/**
 * What a worker thread needs to compile the same script (structured-clone
 * safe: a zone by its name, no functions).
 */
export interface ScriptRecipe {
  /** Unique per compiled script in this process: a reload makes a new one. */
  id: number;
  name: string;
  file: string;
  source: string;
  timeBoundMs: number;
  maxLineLength: number;
  /** The zone's text for parseZone() ('' for the process's local zone), or minutes east of UTC. */
  timezone: string | number | undefined;
}

let nextId = 1;

export class Script {
  readonly stats: ScriptStats = { lines: 0, failed: 0, timedOut: 0, dropped: 0 };
  /** See ScriptRecipe.id. */
  readonly id = nextId++;
  private readonly boundMs: number;
  private readonly maxLength: number;

  private constructor(
    /** The name scripts are chosen by, e.g. `nginx.p`. */
    readonly name: string,
    readonly file: string,
    private readonly body: Exec,
    /** The slots of the keys the script names: its runs' fields (fields.ts). */
    readonly keyTable: KeyTable,
    opts: ScriptOptions,
    private readonly source: string,
    /** Undefined when the script cannot be compiled elsewhere from its text alone (shared patterns). */
    private readonly zone: string | number | undefined | null,
  ) {
    this.boundMs = opts.timeBoundMs ?? 100;
    this.maxLength = opts.maxLineLength ?? 65_536;
  }

  /** Parses and compiles; throws PipelineError (file:line:col) on any load error. */
  static compile(name: string, file: string, source: string, opts: ScriptOptions = {}): Script {
    const ast = parse(source, file);
    const c = new Compiler(file, opts, opts.patterns);
    const body = c.block(ast);
    const z = opts.timezone;
    const zone = opts.patterns !== undefined ? null : z === undefined ? undefined : z.kind === 'fixed' ? z.minutes : z.kind === 'iana' ? z.name : '';
    return new Script(name, file, body, c.table, opts, source, zone);
  }

  /** How a worker thread compiles the same script; undefined when it cannot (the script then runs where it is). */
  recipe(): ScriptRecipe | undefined {
    if (this.zone === null) return undefined;
    return { id: this.id, name: this.name, file: this.file, source: this.source, timeBoundMs: this.boundMs, maxLineLength: this.maxLength, timezone: this.zone };
  }

  /** The script of a recipe (in a worker thread): same text, same options. */
  static fromRecipe(r: ScriptRecipe): Script {
    const timezone = r.timezone === undefined ? undefined : typeof r.timezone === 'number' ? ({ kind: 'fixed', minutes: r.timezone } as const) : parseZone(r.timezone);
    return Script.compile(r.name, r.file, r.source, { timeBoundMs: r.timeBoundMs, maxLineLength: r.maxLineLength, ...(timezone ? { timezone } : {}) });
  }

  /** Adds counts of runs made elsewhere (a worker thread's copy of this script). */
  addStats(s: ScriptStats): void {
    this.stats.lines += s.lines;
    this.stats.failed += s.failed;
    this.stats.timedOut += s.timedOut;
    this.stats.dropped += s.dropped;
  }

  /**
   * Runs the script over one message. `tags` are the point's own tags: the
   * script reads them as keys, and what it writes to them stays a tag.
   */
  run(message: string, tags?: Readonly<Record<string, string>>): RunOutcome {
    this.stats.lines++;
    if (message.length > this.maxLength) {
      this.stats.timedOut++;
      return { ok: false, error: `line of ${message.length} characters, over the ${this.maxLength} a script runs on`, timedOut: true };
    }
    const start = performance.now();
    const r = new Run(message, start + this.boundMs, this.keyTable, tags);
    try {
      this.body(r);
    } catch (e) {
      const timedOut = e instanceof ScriptAbort;
      if (timedOut) this.stats.timedOut++;
      else this.stats.failed++;
      return { ok: false, error: e instanceof Error ? e.message : String(e), timedOut };
    }
    if (performance.now() - start > this.boundMs) {
      // a single step ran past the bound (the line is still sent, parsed): counted
      this.stats.timedOut++;
    }
    const fields = r.fields;
    let time: bigint | undefined;
    const t = fields.getSlot(TIME);
    if (typeof t === 'bigint') {
      time = t;
      fields.deleteSlot(TIME);
    }
    let status: string | undefined;
    const s = fields.getSlot(STATUS) ?? r.tags?.get('status');
    if (s !== undefined && s !== null) {
      status = normalizeStatus(typeof s === 'string' ? s : String(s));
      fields.deleteSlot(STATUS);
      r.tags?.delete('status');
    }
    if (r.dropped) this.stats.dropped++;
    return { ok: true, out: { fields, tags: r.tags, droppedTags: r.droppedTags, time, status, measurement: r.measurement, dropped: r.dropped } };
  }
}

export { PipelineError };
