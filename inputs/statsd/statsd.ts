/**
 * The statsd input: a listener (listener.ts) feeding an aggregator
 * (aggregator.ts) that is flushed to the accumulator every `interval`.
 */
import type { Input, InputContext } from '../../agent/input/contract.js';
import type { LineBuf } from '../../agent/model/linebuf.js';
import type { Point } from '../../agent/model/point.js';
import { Aggregator, type AggregatorOptions } from './aggregator.js';
import { parseAddress, parseMappings, type StatsdConfig } from './config.js';
import { eventPoint, serviceCheckPoint } from './dogstatsd.js';
import { StatsdListener } from './listener.js';
import { udpDrops } from './kernel-drops.js';
import { statsdMetrics, type StatsdMetrics } from './metrics.js';
import { parseEvent, parseServiceCheck } from './parser.js';

/** A flush runs at most this long (ms) before it lets the event loop take other work. */
const FLUSH_SLICE_MS = 15;
/**
 * Points per flush chunk: the slice is checked between chunks, so a chunk is
 * the least a slice runs. 1,000 timing points took 80–270 ms on a loaded box
 * in the StatsD flood (bench/abuse); 250 keeps one within the slice.
 */
const FLUSH_CHUNK_POINTS = 250;
/** The kernel's drop count of the UDP socket is read at most this often (ms): a read of /proc/self/net/udp lists every UDP socket of the node. */
const KERNEL_DROPS_EVERY_MS = 5000;

/** The aggregator's options from a validated config. */
export function aggregatorOptions(cfg: StatsdConfig): AggregatorOptions {
  return {
    separator: cfg.metric_separator,
    mappings: parseMappings(cfg.metric_mapping),
    dropTags: new Set(cfg.drop_tags),
    hostKey: cfg.statsd_host_key,
    sourceKey: cfg.statsd_source_key,
    saveAboveKey: cfg.save_above_key,
    // parse_data_dog_tags is DataKit's deprecated alias; both default on (and DataKit's
    // sample sets both), so turning either one off is what a user means
    ddExtensions: cfg.datadog_extensions && cfg.parse_data_dog_tags,
    ddDistributions: cfg.datadog_distributions,
    percentiles: cfg.percentiles,
    percentileLimit: cfg.percentile_limit,
    deleteGauges: cfg.delete_gauges,
    deleteCounters: cfg.delete_counters,
    deleteSets: cfg.delete_sets,
    deleteTimings: cfg.delete_timings,
    maxTtlMs: cfg.max_ttl,
    setCounterInt: cfg.set_counter_int,
    maxSeries: cfg.max_series,
    maxSetSize: cfg.max_set_size,
    maxSeriesBytes: cfg.max_series_bytes,
    maxTimingSamples: cfg.max_timing_samples,
    maxSetMembers: cfg.max_set_members,
  };
}

export class StatsdInput implements Input {
  private readonly agg: Aggregator;
  private readonly listener: StatsdListener;
  private readonly metrics: StatsdMetrics;
  private readonly dropTags: ReadonlySet<string>;
  private readonly protocolLabel: string;
  private timer: NodeJS.Timeout | undefined;
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  private stopping: Promise<void> | undefined;
  private packets = 0;
  private readonly listenerDrops = new Map<string, number>();
  private readonly unpublish: () => void;

  constructor(
    private readonly cfg: StatsdConfig,
    private readonly ctx: InputContext,
  ) {
    this.dropTags = new Set(cfg.drop_tags);
    this.agg = new Aggregator(aggregatorOptions(cfg));
    const addr = parseAddress(cfg.service_address)!; // the schema validated it
    this.protocolLabel = cfg.protocol.startsWith('udp') ? 'udp' : 'tcp';
    this.listener = new StatsdListener(
      {
        protocol: cfg.protocol,
        host: addr.host,
        port: addr.port,
        recvBufferSize: cfg.read_buffer_size,
        allowedPending: cfg.allowed_pending_messages,
        maxTcpConnections: cfg.max_tcp_connections,
        maxLineBytes: cfg.max_line_bytes,
      },
      {
        batch: (items) => this.receive(items),
        // under overload this runs per packet: count locally, publish() moves it to prom-client
        dropped: (reason, n) => this.listenerDrops.set(reason, (this.listenerDrops.get(reason) ?? 0) + n),
      },
    );
    this.metrics = statsdMetrics(ctx.metrics);
    this.unpublish = this.metrics.onCollect(() => this.publish());
  }

  /** The bound port (differs from the configured one only when that was 0). */
  get port(): number {
    return this.listener.port;
  }

  async start(): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'running';
    if (this.cfg.service_unix_address) {
      this.ctx.log.warn({ path: this.cfg.service_unix_address }, 'service_unix_address is not supported (Node has no unix datagram sockets); use UDP or TCP');
    }
    try {
      await this.listener.start();
    } catch (e) {
      this.state = 'stopped';
      throw e;
    }
    this.timer = setInterval(() => void this.flush(), this.cfg.interval);
    this.timer.unref();
    this.ctx.log.info(
      { protocol: this.cfg.protocol, address: this.cfg.service_address, port: this.listener.port, recvBuffer: this.listener.recvBufferSize() },
      'statsd listening',
    );
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    if (this.state === 'new') {
      this.state = 'stopped';
      this.unpublish();
      return;
    }
    this.state = 'stopping';
    if (this.timer) clearInterval(this.timer);
    await this.listener.stop(); // delivers what was queued
    await this.flush();
    this.unpublish();
    this.metrics.series.remove({ instance: String(this.ctx.instance) });
    this.metrics.connections.remove({ instance: String(this.ctx.instance) });
    this.state = 'stopped';
    this.ctx.log.info('statsd stopped');
  }

  /**
   * Aggregates the current interval into points and hands them to the
   * accumulator, in chunks with the event loop free between them (a flush of
   * 100,000 series must not stall the agent's other inputs and /v1/ping).
   * A flush still running when the next one is due makes that one wait.
   */
  flush(): Promise<void> {
    const run = async () => {
      try {
        const acc = this.ctx.acc;
        // where every sink takes line protocol as it is, the flush writes lines, not points
        const lines = acc.addLines !== undefined && acc.tagsToAdd !== undefined && acc.takesLines?.('metric') === true && acc.recordFormat?.('metric') === 'lp';
        const now = Date.now();
        const chunks = lines ? this.agg.flushLines(now, FLUSH_CHUNK_POINTS, acc.tagsToAdd!()) : this.agg.flushChunks(now, FLUSH_CHUNK_POINTS);
        let slice = performance.now();
        for (let c = chunks.next(); !c.done; c = chunks.next()) {
          if (Array.isArray(c.value)) this.add(c.value);
          else this.addLines(c.value);
          if (performance.now() - slice >= FLUSH_SLICE_MS) {
            await new Promise<void>((r) => setImmediate(r));
            slice = performance.now();
          }
        }
        this.publish();
      } catch (e) {
        this.ctx.acc.error('flush', e);
      }
    };
    this.flushing = this.flushing.then(run);
    return this.flushing;
  }

  private flushing: Promise<void> = Promise.resolve();

  private addLines(buf: LineBuf): void {
    const n = buf.ends.length;
    if (n === 0) return;
    this.ctx.acc.addLines!('metric', buf.data, buf.ends);
    this.metrics.points.inc({ category: 'metric' }, n);
  }

  private add(points: Point[]): void {
    if (points.length === 0) return;
    this.ctx.acc.add(points);
    let metric = 0;
    for (const p of points) if (p.category === 'metric') metric++;
    if (metric > 0) this.metrics.points.inc({ category: 'metric' }, metric);
    if (points.length > metric) this.metrics.points.inc({ category: 'keyevent' }, points.length - metric);
  }

  /** Handles received packets / TCP line blocks (the listener's batch; tests call it directly). */
  receive(items: Buffer[]): void {
    try {
      const now = Date.now();
      for (const b of items) this.agg.ingest(b.toString('utf8'), now);
      const special = this.agg.takeSpecial();
      if (special.length > 0) this.add(this.specialPoints(special));
    } catch (e) {
      // a bug, not bad input (bad input is counted): keep the listener alive
      this.ctx.acc.error('ingest', e);
    }
    this.packets += items.length;
  }

  private specialPoints(lines: string[]): Point[] {
    const out: Point[] = [];
    for (const line of lines) {
      if (line.startsWith('_e{')) {
        const ev = parseEvent(line);
        if (ev) {
          out.push(eventPoint(ev, this.dropTags));
          this.agg.countSpecial('event');
        } else this.agg.countMalformed('bad_event');
      } else {
        const sc = parseServiceCheck(line);
        if (sc) {
          out.push(serviceCheckPoint(sc, this.dropTags));
          this.agg.countSpecial('service_check');
        } else this.agg.countMalformed('bad_service_check');
      }
    }
    return out;
  }

  /** The kernel's drop count for the UDP socket when last read, and when. */
  private kernelDrops = 0;
  private kernelReadAt = -Infinity;

  /** Packets the kernel dropped since the last read (its receive buffer was full): `dropped_total{reason="kernel_buffer"}`. */
  private readKernelDrops(): void {
    const now = performance.now();
    if (this.protocolLabel !== 'udp' || this.state !== 'running' || now - this.kernelReadAt < KERNEL_DROPS_EVERY_MS) return;
    this.kernelReadAt = now;
    const d = udpDrops(this.listener.port);
    if (d === undefined) return;
    if (d > this.kernelDrops) this.metrics.dropped.inc({ reason: 'kernel_buffer' }, d - this.kernelDrops);
    this.kernelDrops = d;
  }

  /** Moves the hot path's plain counts into prom-client (on every read of the registry and every flush). */
  private publish(): void {
    this.readKernelDrops();
    const c = this.agg.takeCounts();
    if (this.packets > 0) this.metrics.packets.inc({ protocol: this.protocolLabel }, this.packets);
    this.packets = 0;
    this.metrics.series.set({ instance: String(this.ctx.instance) }, this.agg.size);
    this.metrics.connections.set({ instance: String(this.ctx.instance) }, this.listener.connections);
    for (const [reason, n] of c.malformed) this.metrics.malformed.inc({ reason }, n);
    for (const [reason, n] of c.dropped) this.metrics.dropped.inc({ reason }, n);
    for (const [reason, n] of this.listenerDrops) this.metrics.dropped.inc({ reason }, n);
    this.listenerDrops.clear();
    for (const [type, n] of c.metrics) this.metrics.metrics.inc({ type }, n);
  }
}
