/**
 * Trace filters in DataKit's order: close_resource (and ignore_resources) →
 * omit_err_status → an error keeps the trace → keep_rare_resource → a RUM
 * origin keeps the trace → sampler.
 *
 * Difference from DataKit: DataKit applies omit_err_status after the
 * "error keeps the trace" rule, so it never changes anything. Here the listed
 * HTTP codes clear the error first, so such traces are sampled like ok ones.
 */
import type { Trace, TraceSpan } from './span.js';
import type { TraceOptions } from './options.js';

export type DropReason = 'closed' | 'sampled_out';

const RARE_WINDOW_MS = 3_600_000;
const RARE_MAX_KEYS = 50_000;

export class TraceFilters {
  private readonly close: { service: string; res: RegExp[] }[] = [];
  private readonly omit: Set<string>;
  private readonly keepRare: boolean;
  private readonly rate: number;
  private readonly seen = new Map<string, number>();

  constructor(
    opts: Pick<TraceOptions, 'close_resource' | 'ignore_resources' | 'omit_err_status' | 'keep_rare_resource' | 'sampler'>,
    private readonly now: () => number = Date.now,
  ) {
    for (const [service, list] of Object.entries(opts.close_resource)) {
      if (list.length > 0) this.close.push({ service, res: list.map((r) => new RegExp(r)) });
    }
    if (opts.ignore_resources.length > 0) this.close.push({ service: '*', res: opts.ignore_resources.map((r) => new RegExp(r)) });
    this.omit = new Set(opts.omit_err_status);
    this.keepRare = opts.keep_rare_resource;
    this.rate = opts.sampler.sampling_rate;
  }

  /** True when check() keeps every trace and changes nothing (no option that filters is set). */
  get trivial(): boolean {
    return this.close.length === 0 && this.omit.size === 0 && !this.keepRare && this.rate >= 1;
  }

  /** Returns undefined when the trace is kept, else why it is dropped. May clear span errors (omit_err_status). */
  check(trace: Trace): DropReason | undefined {
    if (this.close.length > 0 && this.closed(trace)) return 'closed';
    if (this.omit.size > 0) {
      for (const s of trace) if (s.error && s.httpStatusCode !== undefined && this.omit.has(s.httpStatusCode)) s.error = false;
    }
    for (const s of trace) if (s.error) return undefined;
    if (this.keepRare && this.rare(trace)) return undefined;
    for (const s of trace) if (s.origin === 'rum') return undefined;
    if (this.rate < 1 && trace.length > 0 && !sampled(trace[0]!.traceId, this.rate)) return 'sampled_out';
    return undefined;
  }

  private closed(trace: Trace): boolean {
    for (const s of trace) {
      for (const c of this.close) {
        if (c.service !== '*' && c.service !== s.service) continue;
        for (const re of c.res) if (re.test(s.resource)) return true;
      }
    }
    return false;
  }

  private rare(trace: Trace): boolean {
    const now = this.now();
    let rare = false;
    for (const s of trace) {
      const key = s.service + '\u0000' + s.resource;
      const last = this.seen.get(key);
      if (last === undefined || now - last > RARE_WINDOW_MS) rare = true;
      if (last === undefined && this.seen.size >= RARE_MAX_KEYS) this.seen.clear(); // bounded memory
      this.seen.set(key, now);
    }
    return rare;
  }
}

/**
 * DataKit's sampler: keep when `id % 10000 < rate * 10000`. Decimal ids use
 * their last four digits (exact); hex ids their low 32 bits.
 */
export function sampled(traceId: string, rate: number): boolean {
  if (rate >= 1) return true;
  if (rate <= 0) return false;
  let n: number;
  if (/^[0-9]+$/.test(traceId) && !(traceId.length === 16 || traceId.length === 32)) n = Number(traceId.slice(-4));
  else n = parseInt(traceId.slice(-8), 16) % 10000;
  if (Number.isNaN(n)) return true;
  return n < rate * 10000;
}

/** Derives span_type for spans whose converter left it empty (DataKit's rule, plus a service change marks an entry). */
export function deriveSpanTypes(trace: Trace): void {
  let need = false;
  for (const s of trace) if (s.spanType === '') need = true;
  if (!need) return;
  if (trace.length <= 16) {
    // small traces (the common case): linear scans beat building a Map and a Set
    for (const s of trace) {
      if (s.spanType !== '') continue;
      let p: TraceSpan | undefined;
      for (const x of trace) if (x.spanId === s.parentId && x !== s) p = x;
      if (p === undefined || p.service !== s.service) s.spanType = 'entry';
      else {
        let parent = false;
        for (const x of trace) if (x.parentId === s.spanId) parent = true;
        s.spanType = parent ? 'local' : 'exit';
      }
    }
    return;
  }
  const byId = new Map<string, TraceSpan>();
  const parents = new Set<string>();
  for (const s of trace) {
    byId.set(s.spanId, s);
    parents.add(s.parentId);
  }
  for (const s of trace) {
    if (s.spanType !== '') continue;
    const p = byId.get(s.parentId);
    if (p === undefined || p === s || p.service !== s.service) s.spanType = 'entry';
    else s.spanType = parents.has(s.spanId) ? 'local' : 'exit';
  }
}
