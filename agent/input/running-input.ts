/**
 * The running-input wrapper: the accumulator an input sees. It applies the
 * input's `tags` and the global (host or election) tags — a tag is added only
 * when the point does not carry that key — counts what the input produced and
 * its errors, and hands points to the sender. No input handles tags or queues.
 */
import type { Logger } from 'pino';
import type { Accumulator, AddOptions } from './contract.js';
import type { Category, Point } from '../model/point.js';
import type { Sender } from '../delivery/sender.js';
import type { RecordFormat, Upload } from '../delivery/sinks/types.js';
import type { CoreMetrics } from '../telemetry/metrics.js';
import { RateLimitedLog } from '../telemetry/log.js';
import { TallyCells } from '../telemetry/tally.js';
import { redactUrl } from '../telemetry/redact.js';
import { BoundedWeakCache } from '../model/weakcache.js';

export class RunningInput implements Accumulator {
  points = 0;
  errors = 0;
  lastError: string | undefined;
  lastErrorAt: number | undefined;
  private readonly rl: RateLimitedLog;

  constructor(
    readonly name: string,
    readonly instance: number,
    /** Input-level tags (`[inputs.X.tags]`), applied first. */
    private readonly inputTags: Readonly<Record<string, string>>,
    /** Host tags, or election tags for cluster-level inputs. */
    private readonly globalTags: () => Readonly<Record<string, string>>,
    /** Election tags, for points added with `electionTags: true`. */
    private readonly electionTags: () => Readonly<Record<string, string>>,
    private readonly sender: Sender,
    private readonly metrics: CoreMetrics,
    log: Logger,
  ) {
    this.rl = new RateLimitedLog(log);
    this.pointsIn = new TallyCells(metrics.inputPoints, (category) => ({ input: name, category }));
  }

  /** telekit_input_points_total by category (a call per request on HTTP inputs: agent/telemetry/tally.ts). */
  private readonly pointsIn: TallyCells<'input' | 'category'>;

  /** The global tags for a call's options: host or election tags (`base`), minus `omit`ted keys (`gt`). */
  private globals(opts: AddOptions | undefined): { base: Readonly<Record<string, string>>; omit: readonly string[] | undefined; gt: Readonly<Record<string, string>> } {
    const base = opts?.electionTags ? this.electionTags() : this.globalTags();
    const omit = opts?.omitGlobalTags;
    return { base, omit, gt: omit !== undefined && omit.length > 0 ? RunningInput.without(base, omit) : base };
  }

  private decorate(points: Point[], opts: AddOptions | undefined): void {
    const it = this.inputTags;
    const g = this.globals(opts);
    const gt = g.gt;
    for (const p of points) {
      const t = p.tags;
      if (Object.isFrozen(t)) {
        p.tags = this.decorateFrozen(t, g);
        continue;
      }
      for (const k in it) if (t[k] === undefined) t[k] = it[k]!;
      for (const k in gt) if (t[k] === undefined) t[k] = gt[k]!;
    }
  }

  /**
   * Frozen tags objects are shared by many points (a log stream's, a
   * Prometheus series'): they get one decorated, frozen copy each, reused
   * while the global tags are the same object, so the encoder can also cache
   * their escaped text (linebuf.ts). Within a memory budget (weakcache.ts):
   * past it, points get a decorated copy of their own.
   */
  private readonly frozen = new BoundedWeakCache<object, { base: object; omit: readonly string[] | undefined; tags: Record<string, string> }>(64 << 20);

  private decorateFrozen(t: Record<string, string>, { base, omit, gt }: ReturnType<RunningInput['globals']>): Record<string, string> {
    const hit = this.frozen.get(t);
    if (hit !== undefined && hit.base === base && hit.omit === omit) return hit.tags;
    const tags = { ...t };
    let n = 0;
    for (const k in this.inputTags) if (tags[k] === undefined) tags[k] = this.inputTags[k]!;
    for (const k in gt) if (tags[k] === undefined) tags[k] = gt[k]!;
    for (const _ in tags) n++;
    // cost: the copy (a header and a slot per key), its holder and the WeakMap's entry.
    // Frozen only when kept, so that the encoder's caches skip a copy made for one point.
    if (this.frozen.set(t, { base, omit, tags }, 120 + 8 * n)) Object.freeze(tags);
    return tags;
  }

  tagsToAdd(opts?: AddOptions): Readonly<Record<string, string>> {
    const { gt } = this.globals(opts);
    const tags: Record<string, string> = { ...this.inputTags };
    for (const k in gt) if (tags[k] === undefined) tags[k] = gt[k]!;
    return tags;
  }

  takesLines(category: Category): boolean {
    return this.sender.takesLines(category);
  }

  recordFormat(category: Category): RecordFormat | undefined {
    return this.sender.recordFormat(category);
  }

  async addLinesWait(category: Category, data: Uint8Array, ends: ArrayLike<number>, opts?: AddOptions): Promise<void> {
    const n = ends.length;
    if (n === 0) {
      opts?.onAck?.();
      return;
    }
    this.countIn(category, n);
    await this.sender.offerLinesWait(category, data, ends, opts?.onAck);
  }

  addLines(category: Category, data: Uint8Array, ends: ArrayLike<number>, opts?: AddOptions): number {
    const n = ends.length;
    if (n === 0) {
      opts?.onAck?.();
      return 0;
    }
    this.countIn(category, n);
    return this.sender.offerLines(category, data, ends, opts?.onAck);
  }

  /** `tags` without the keys in `omit` (once per call, only when the option is set). */
  private static without(tags: Readonly<Record<string, string>>, omit: readonly string[]): Record<string, string> {
    const r: Record<string, string> = {};
    for (const k in tags) if (!omit.includes(k)) r[k] = tags[k]!;
    return r;
  }

  /** Groups points by category (one group in the common case). */
  private split(points: Point[]): Map<Category, Point[]> {
    const m = new Map<Category, Point[]>();
    const first = points[0]!.category;
    if (points.every((p) => p.category === first)) m.set(first, points);
    else for (const p of points) (m.get(p.category) ?? m.set(p.category, []).get(p.category)!).push(p);
    return m;
  }

  private countIn(category: Category, n: number): void {
    this.points += n;
    this.pointsIn.inc(category, n);
  }

  /** An ack that fires once `n` parts have acked. */
  private static join(n: number, ack: (() => void) | undefined): (() => void) | undefined {
    if (!ack || n <= 1) return ack;
    let left = n;
    return () => {
      if (--left === 0) ack();
    };
  }

  add(input: Point | Point[], opts?: AddOptions): number {
    const points = Array.isArray(input) ? input : [input];
    if (points.length === 0) {
      opts?.onAck?.();
      return 0;
    }
    this.decorate(points, opts);
    const groups = this.split(points);
    const ack = RunningInput.join(groups.size, opts?.onAck);
    let accepted = 0;
    for (const [category, pts] of groups) {
      this.countIn(category, pts.length);
      accepted += this.sender.offer(category, pts, ack);
    }
    return accepted;
  }

  async addWait(input: Point | Point[], opts?: AddOptions): Promise<void> {
    const points = Array.isArray(input) ? input : [input];
    if (points.length === 0) {
      opts?.onAck?.();
      return;
    }
    this.decorate(points, opts);
    const groups = this.split(points);
    const ack = RunningInput.join(groups.size, opts?.onAck);
    for (const [category, pts] of groups) {
      this.countIn(category, pts.length);
      await this.sender.offerWait(category, pts, ack);
    }
  }

  overloaded(category: Category): boolean {
    return this.sender.overloaded(category);
  }

  upload(u: Omit<Upload, 'globalTags'>): boolean {
    const forwarder = this.sender.uploads;
    if (!forwarder) return false;
    const tags: Record<string, string> = { ...u.tags };
    for (const k in this.inputTags) if (tags[k] === undefined) tags[k] = this.inputTags[k]!;
    const gt = this.globalTags();
    for (const k in gt) if (tags[k] === undefined) tags[k] = gt[k]!;
    return forwarder.add({ ...u, tags, globalTags: gt });
  }

  error(kind: string, err: unknown): void {
    this.errors++;
    this.lastError = redactUrl(err instanceof Error ? err.message : String(err)); // shown in logs and /v1/stats
    this.lastErrorAt = Date.now();
    this.metrics.inputErrors.inc({ input: this.name, kind });
    this.rl.warn(kind, { input: this.name, instance: this.instance, kind, err: this.lastError }, 'input error');
  }
}
