/**
 * host_processes: DataKit's process input. Every `object_interval` one
 * `host_processes` object per process (category object) with a JSON
 * `message`; with `open_metric`, every `metric_interval` the `host_processes`
 * metric of the processes whose name matches `process_name`. Processes younger
 * than `min_run_time` are left out of both. Reads the host's /proc through
 * HOST_PROC and user names from HOST_ROOT's /etc/passwd.
 */
import { Counter } from 'prom-client';
import type { Input, InputContext, InputDefinition } from '../../agent/input/contract.js';
import { LineBuf } from '../../agent/model/linebuf.js';
import { nowNs, type Point } from '../../agent/model/point.js';
import { hostPaths } from '../../agent/services/host/paths.js';
import { clampInterval, PeriodicInput, type Collector } from '../../agent/services/host/periodic.js';
import { schema, type HostProcessesConfig } from './config.js';
import { addedTags, metricLine, objectLine } from './lines.js';
import { messagePlan, metricPoint, objectPoint } from './points.js';
import type { ProcInfo } from './proc.js';
import { CpuSamples, ProcReader, type PartialFile, type ScanResult, type SkipReason } from './reader.js';

/** Lines are handed over in chunks of about this many bytes (~100 objects, ~1,000 metrics). */
const LINES_BYTES = 256 << 10;

/** How long the first collection measures CPU over (later ones use the interval since the previous one). */
export const PRIME_MS = 500;

interface Counters {
  skipped: Counter<'reason'>;
  partial: Counter<'file'>;
}

function makeCounters(ctx: Pick<InputContext, 'metrics'>): Counters {
  const get = <L extends string>(name: string, help: string, label: L): Counter<L> =>
    (ctx.metrics.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter({ name, help, labelNames: [label], registers: [ctx.metrics] });
  return {
    skipped: get('telekit_host_processes_skipped_total', 'Processes left out of a collection: exited while read, unreadable (permissions, hidepid) or a malformed stat/status file.', 'reason'),
    partial: get('telekit_host_processes_partial_total', 'Processes sent without some fields because a file could not be read (io, fd, cwd, net).', 'file'),
  };
}

/** One of the two loops (objects or metrics) over a shared reader. */
export class ProcessesCollector implements Collector {
  private readonly cpu = new CpuSamples();
  private primed = false;
  private readonly match: ((name: string) => boolean) | undefined;
  private warned = new Set<string>();

  constructor(
    private readonly kind: 'object' | 'metric',
    private readonly cfg: HostProcessesConfig,
    private readonly reader: ProcReader,
    private readonly ctx: Pick<InputContext, 'host' | 'acc' | 'metrics' | 'log'>,
    private readonly counters: Counters = makeCounters(ctx),
  ) {
    const res = cfg.process_name.map((r) => new RegExp(r));
    this.match = kind === 'metric' && res.length > 0 ? (n) => res.some((r) => r.test(n)) : undefined;
  }

  /** The processes as they are now, each made into a `T` by `make`, with usage over the time since the previous call. */
  async scan<T>(make: (p: ProcInfo, memTotal: number) => T): Promise<ScanResult<T>> {
    if (!this.primed) {
      this.primed = true;
      await this.reader.sampleCpu(this.cpu);
      await new Promise((r) => setTimeout(r, PRIME_MS));
    }
    const res = await this.reader.scan(
      {
        minRunTimeMs: this.cfg.min_run_time,
        match: this.match,
        onlyContainer: this.cfg.only_container_processes,
        needCmdline: this.kind === 'metric',
        cwd: this.kind === 'object',
        listenPorts: this.kind === 'object' && this.cfg.enable_listen_ports,
      },
      this.cpu,
      make,
    );
    for (const [reason, n] of Object.entries(res.skipped) as [SkipReason, number][]) {
      if (n === 0) continue;
      this.counters.skipped.inc({ reason }, n);
      if (reason !== 'exited' && !this.warned.has(reason)) {
        this.warned.add(reason);
        this.ctx.log.warn({ reason, count: n }, 'Some processes could not be read and were skipped (counted in telekit_host_processes_skipped_total).');
      }
    }
    for (const [file, n] of Object.entries(res.partial) as [PartialFile, number][]) if (n > 0) this.counters.partial.inc({ file }, n);
    return res;
  }

  /**
   * The points of one collection. They go to the accumulator as lines
   * instead (and none is returned) where every sink of the category takes
   * line protocol as it is: the same text the core would write of the points (lines.ts).
   */
  async collect(): Promise<Point[]> {
    const time = nowNs();
    const now = Date.now();
    const acc = this.ctx.acc;
    const category = this.kind === 'metric' ? 'metric' : 'object';
    const add = acc.tagsToAdd?.() ?? {};
    const host = this.ctx.host.hostname;
    const plan = this.kind === 'object' ? messagePlan(add) : undefined;
    // the points are made while each process is read: the reader's views are valid only then
    if (acc.addLines === undefined || acc.tagsToAdd === undefined || acc.recordFormat?.(category) !== 'lp') {
      if (plan === undefined) return (await this.scan((p, memTotal) => metricPoint(p, memTotal, time))).items;
      return (await this.scan((p, memTotal) => objectPoint(p, host, memTotal, now, time, plan))).items;
    }
    const added = addedTags(add);
    const t = String(time);
    const buf = new LineBuf(LINES_BYTES + (16 << 10));
    const flush = () => {
      if (buf.ends.length > 0) acc.addLines!(category, buf.data, buf.ends);
      buf.reset();
    };
    await this.scan((p, memTotal) => {
      if (plan === undefined) metricLine(buf, p, memTotal, t, added);
      else objectLine(buf, p, host, memTotal, now, t, plan, added);
      buf.endLine();
      if (buf.off >= LINES_BYTES) flush();
      return 0;
    });
    flush();
    return [];
  }
}

export class HostProcessesInput implements Input {
  private readonly loops: PeriodicInput[];
  private readonly reader: ProcReader;

  constructor(cfg: HostProcessesConfig, ctx: InputContext) {
    const reader = (this.reader = new ProcReader(hostPaths(cfg.host_root)));
    const c = makeCounters(ctx);
    this.loops = [new PeriodicInput(ctx, clampInterval(cfg.object_interval, 30_000, 15 * 60_000), new ProcessesCollector('object', cfg, reader, ctx, c))];
    if (cfg.open_metric) {
      this.loops.push(new PeriodicInput(ctx, clampInterval(cfg.metric_interval, 10_000, 60_000), new ProcessesCollector('metric', cfg, reader, ctx, c)));
    }
  }

  async start(): Promise<void> {
    for (const l of this.loops) await l.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.loops.map((l) => l.stop()));
    this.reader.close();
  }
}

export const host_processes: InputDefinition<HostProcessesConfig> = {
  name: 'host_processes',
  description: 'One object per process (and, with open_metric, per-process metrics) from /proc',
  schema,
  singleton: true,
  create: (cfg, ctx) => new HostProcessesInput(cfg, ctx),
};
