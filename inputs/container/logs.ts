/**
 * The log part of `[inputs.container]`: discovers this node's container log
 * files, decides per container whether and how to collect them, and runs one
 * {@link Tailer} per live file.
 */
import path from 'node:path';
import fs from 'node:fs';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Input, InputContext } from '../../agent/input.js';
import { nowNs, type Point } from '../../agent/point.js';
import { quoteStr } from '../../agent/lineproto.js';
import { LineBuf, lineHead } from '../../agent/linebuf.js';
import { AUTO_MULTILINE_PATTERNS, type LogRecord, type RecordSink } from './assembler.js';
import { Checkpoints } from './checkpoint.js';
import type { ContainerConfig } from './config.js';
import { keepUnderRoots, scanDockerLogs, scanPodLogs, type LogTarget } from './discovery.js';
import { ContainerFilter, isPauseImage, parseImage } from './filter.js';
import { resolveLogConfig, type ContainerLogConfig } from './logs-config.js';
import { detectStatus, detectStatusRange } from './parse.js';
import { ReadPool } from './pool.js';
import { Tailer, type TailStats } from './tailer.js';

function counter(reg: Registry, name: string, help: string, labelNames: string[] = []): Counter {
  return (reg.getSingleMetric(name) as Counter | undefined) ?? new Counter({ name, help, labelNames, registers: [reg] });
}

function gauge(reg: Registry, name: string, help: string): Gauge {
  return (reg.getSingleMetric(name) as Gauge | undefined) ?? new Gauge({ name, help, registers: [reg] });
}

/** The tags of a container's points, one frozen object per stream (point tags; the core adds its own). */
function streamTags(t: LogTarget, lc: ContainerLogConfig, nodeName: string): (stream: string) => Readonly<Record<string, string>> {
  const img = parseImage(t.image);
  const base: Record<string, string> = { ...lc.tags, service: lc.service, container_name: t.containerName };
  if (t.containerId) base.container_id = t.containerId;
  if (t.image) Object.assign(base, { image: t.image, image_name: img.name, image_short_name: img.shortName, image_tag: img.tag });
  if (t.namespace) base.namespace = t.namespace;
  if (t.podName) base.pod_name = t.podName;
  if (t.pod?.ip) base.pod_ip = t.pod.ip;
  if (t.pod?.owner) base[t.pod.owner.kind] = t.pod.owner.name;
  const node = t.pod?.nodeName || nodeName;
  if (node) base.node_name = node;
  // One frozen tags object per stream, shared by the points of this container:
  // copying ~12 tags per line was the largest cost of tailing, and frozen tags
  // are decorated once and escaped once, not per line (agent/pipeline.ts, lineproto.ts).
  const byStream = new Map<string, Readonly<Record<string, string>>>();
  return (stream: string) => {
    let tags = byStream.get(stream);
    if (!tags) byStream.set(stream, (tags = Object.freeze(stream ? { ...base, stream } : { ...base })));
    return tags;
  };
}

/** Builds the point of one record (measurement = source). */
export function makePointBuilder(t: LogTarget, lc: ContainerLogConfig, nodeName: string, withFilepath: boolean): (recs: LogRecord[], filepath: string, linesBefore: number) => Point[] {
  const tagsOf = streamTags(t, lc, nodeName);
  const source = lc.source;
  return (recs, filepath, linesBefore) => {
    const now = BigInt(Date.now()) * 1_000_000n;
    const out: Point[] = new Array(recs.length);
    let read = linesBefore;
    for (let i = 0; i < recs.length; i++) {
      const r = recs[i]!;
      read += r.lines;
      const fields: Point['fields'] = { message: r.message, status: detectStatus(r.message), log_read_lines: BigInt(read) };
      if (withFilepath) fields.filepath = filepath;
      out[i] = { category: 'logging', name: source, tags: tagsOf(r.stream) as Record<string, string>, fields, time: r.time ?? now };
    }
    return out;
  };
}

const QUOTE = Buffer.from('"');

/**
 * A container's records written straight as line protocol, without points:
 * the sink of an assembler in direct mode (inputs/container/assembler.ts),
 * used when the core takes lines as they are (Accumulator.addLinesWait).
 * A whole line's message is escaped from the read buffer itself. The lines
 * are what the core would write for makePointBuilder's points, the core's
 * tags (`extra`) added where a point's own are absent.
 */
export class LogLines {
  readonly buf = new LineBuf(256 << 10);
  /** Records written since the last take. */
  records = 0;
  /** Raw lines read so far (DataKit's `log_read_lines`). */
  linesRead = 0;
  private readonly heads = new Map<string, Buffer>();
  /** `",status="<s>",log_read_lines=` per status, as bytes. */
  private readonly statusBytes = new Map<string, Buffer>();
  /** `i,filepath="..." ` per file (`i ` without the field), as bytes. */
  private readonly afterCount = new Map<string, Buffer>();
  private lastSec = -1;
  private lastSecBytes = Buffer.alloc(0);

  constructor(
    private readonly source: string,
    private readonly tagsOf: (stream: string) => Readonly<Record<string, string>>,
    private readonly extra: Readonly<Record<string, string>>,
    private readonly withFilepath: boolean,
  ) {}

  /** `source,tags message=` of a stream, as bytes. */
  private head(stream: string): Buffer {
    let h = this.heads.get(stream);
    if (h === undefined) {
      const tags: Record<string, string> = { ...this.tagsOf(stream) };
      for (const k in this.extra) if (tags[k] === undefined) tags[k] = this.extra[k]!;
      h = Buffer.concat([lineHead(this.source, tags), Buffer.from(' message=')]);
      this.heads.set(stream, h);
    }
    return h;
  }

  private statusPart(s: string): Buffer {
    let b = this.statusBytes.get(s);
    if (b === undefined) this.statusBytes.set(s, (b = Buffer.from(`",status="${s}",log_read_lines=`)));
    return b;
  }

  private countPart(filepath: string): Buffer {
    let b = this.afterCount.get(filepath);
    if (b === undefined) {
      if (this.afterCount.size > 64) this.afterCount.clear();
      this.afterCount.set(filepath, (b = Buffer.from(`i${this.withFilepath ? ',filepath=' + quoteStr(filepath) : ''} `)));
    }
    return b;
  }

  /**
   * One record: the message's UTF-8 `msg[start, end)`, escaped, then status,
   * count, file and time. Every piece but the message is cached bytes or
   * digits: nothing is allocated for a whole line.
   */
  private write(stream: string, msg: Buffer, start: number, end: number, lines: number, filepath: string): LineBuf {
    const b = this.buf;
    this.records++;
    this.linesRead += lines;
    b.appendBytes(this.head(stream));
    b.appendBytes(QUOTE);
    b.appendEscaped(msg, start, end);
    b.appendBytes(this.statusPart(detectStatusRange(msg, start, end)));
    b.appendUint(this.linesRead);
    b.appendBytes(this.countPart(filepath));
    return b;
  }

  /** The record sink of an assembler reading `filepath`. */
  sinkFor(filepath: string): RecordSink {
    return {
      line: (buf, start, end, time, stream) => {
        const b = this.write(stream, buf, start, end, 1, filepath);
        if (time.sec >= 0) {
          if (time.sec !== this.lastSec) {
            // lines of the same second share the digits of their seconds
            this.lastSec = time.sec;
            this.lastSecBytes = Buffer.from(String(time.sec));
          }
          b.appendBytes(this.lastSecBytes);
          b.appendUint(time.ns, 9);
        } else b.append(String(BigInt(time.sec) * 1_000_000_000n + BigInt(time.ns)));
        b.endLine();
      },
      record: (r) => {
        const msg = typeof r.message === 'string' ? Buffer.from(r.message) : r.message.bytes;
        const b = this.write(r.stream, msg, 0, msg.length, r.lines, filepath);
        b.append(String(r.time ?? nowNs()));
        b.endLine();
      },
    };
  }
}

export function createContainerLogs(config: ContainerConfig, ctx: InputContext): Input {
  const log = ctx.log.child({ part: 'logs' });
  const filter = new ContainerFilter(config.container_include_log, config.container_exclude_log);
  const sourceMap = Object.entries(config.logging_extra_source_map).map(([re, src]) => [new RegExp(re), src] as const);
  const autoPatterns = [...config.logging_auto_multiline_extra_patterns.map((p) => new RegExp(p)), ...AUTO_MULTILINE_PATTERNS];
  const checkpoints = Checkpoints.for(path.join(ctx.dataDir, 'container'));
  const cutSize = config.logging_max_line_bytes + 256;
  const pool = new ReadPool(4, config.logging_read_buffer_size, cutSize);
  const tailers = new Map<string, Tailer>();
  const m = {
    bytes: counter(ctx.metrics, 'telekit_container_log_bytes_total', 'Bytes read from container log files.'),
    records: counter(ctx.metrics, 'telekit_container_log_records_total', 'Log records handed to the pipeline.'),
    parseErrors: counter(ctx.metrics, 'telekit_container_log_parse_errors_total', 'Lines that were neither CRI nor docker json (sent as raw text).'),
    events: counter(ctx.metrics, 'telekit_container_log_file_events_total', 'Rotations, truncations, resumed and lost files.', ['kind']),
    skipped: counter(ctx.metrics, 'telekit_container_log_skipped_files_total', 'Files not tailed, by reason.', ['reason']),
    errors: counter(ctx.metrics, 'telekit_container_log_errors_total', 'Tailing errors.', ['kind']),
    files: gauge(ctx.metrics, 'telekit_container_log_open_files', 'Log files being tailed.'),
  };
  const stats: TailStats = {
    bytes: (n) => m.bytes.inc(n),
    records: (n) => m.records.inc(n),
    parseErrors: (n) => m.parseErrors.inc(n),
    event: (kind) => m.events.inc({ kind }),
  };
  let initialDone = false;
  let timer: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;
  let scanning: Promise<void> | undefined;
  let rescan = false;
  let stopped = false;
  const warned = new Set<string>();

  const configFor = (t: LogTarget): ContainerLogConfig | undefined => {
    if (config.exclude_pause_container !== false && (t.containerName === 'POD' || (t.image && isPauseImage(t.image)))) return undefined;
    if (!filter.allows({ image: t.image, namespace: t.namespace })) return undefined;
    const r = resolveLogConfig(t.containerName, t.env, t.pod?.annotations ?? {});
    if (r.error && !warned.has(t.live)) {
      warned.add(t.live);
      ctx.acc.error('logs_config', new Error(`${r.origin} logs config of ${t.namespace}/${t.podName}/${t.containerName}: ${r.error}`));
    }
    if (r.config.disable) return undefined;
    const c = r.config;
    for (const [re, src] of sourceMap) {
      if (re.test(c.source)) {
        if (c.service === c.source) c.service = src;
        c.source = src;
        break;
      }
    }
    return c;
  };

  const startTailer = (t: LogTarget, lc: ContainerLogConfig): void => {
    const pattern = config.logging_enable_multiline ? (lc.multilineMatch ?? config.logging_source_multiline_map[lc.source]) : undefined;
    const fromBeginning = lc.fromBeginning ?? config.logging_file_from_beginning;
    const tailer = new Tailer(
      {
        live: t.live,
        firstSight: !initialDone || fromBeginning ? (fromBeginning ? 'beginning' : 'threshold') : 'beginning',
        thresholdBytes: config.logging_file_from_beginning_threshold_size,
        assembler: {
          maxBytes: config.logging_max_line_bytes,
          multiline: pattern ? new RegExp(pattern) : undefined,
          multilineMaxLines: config.logging_multiline_max_lines,
          multilineMaxBytes: config.logging_multiline_max_bytes,
          autoMultiline: config.logging_enable_multiline && config.logging_auto_multiline_detection ? autoPatterns : undefined,
          removeAnsi: lc.removeAnsi ?? config.logging_remove_ansi_escape_codes,
        },
        multilineTimeoutMs: config.logging_multiline_timeout,
        toPoints: makePointBuilder(t, lc, ctx.host.nodeName, config.logging_enable_filepath_field),
        // lines straight from the read buffers when the core takes them as they are
        newLines:
          ctx.acc.addLinesWait && ctx.acc.tagsToAdd && ctx.acc.takesLines?.('logging')
            ? () => new LogLines(lc.source, streamTags(t, lc, ctx.host.nodeName), ctx.acc.tagsToAdd!(), config.logging_enable_filepath_field)
            : undefined,
      },
      {
        acc: ctx.acc,
        checkpoints,
        pool,
        stats,
        onError: (e) => {
          m.errors.inc({ kind: 'tail' });
          ctx.acc.error('tail', e);
        },
      },
    );
    tailers.set(t.live, tailer);
    m.files.set(tailers.size);
    tailer.start();
    void tailer.finished.then(() => {
      if (tailers.get(t.live) === tailer) tailers.delete(t.live);
      m.files.set(tailers.size);
    });
  };

  const scanOnce = async (): Promise<void> => {
    const scanned = await scanPodLogs(config.pod_logs_dir, ctx.k8s?.pods);
    scanned.push(...(await scanDockerLogs(config.docker_logs_dir, fs.existsSync(config.pod_logs_dir))));
    const targets = await keepUnderRoots(scanned, [config.pod_logs_dir, config.docker_logs_dir], (t, real) => {
      m.skipped.inc({ reason: 'outside_roots' });
      ctx.acc.error('outside_roots', new Error(`${t.live} resolves to ${real}, outside pod_logs_dir and docker_logs_dir: not read`));
    });
    if (stopped) return;
    const wanted = new Set<string>();
    for (const t of targets) {
      const lc = configFor(t);
      if (!lc) continue;
      wanted.add(t.live);
      if (tailers.has(t.live)) continue;
      if (config.logging_max_open_files >= 0 && tailers.size >= config.logging_max_open_files) {
        m.skipped.inc({ reason: 'max_open_files' });
        continue;
      }
      startTailer(t, lc);
    }
    // A container that is gone (its directory removed) or no longer wanted (filters, `disable`) is
    // read to its end; a live file missing for a moment (between a rename and its re-creation) is not.
    const present = new Set(targets.map((t) => t.live));
    for (const [live, tailer] of tailers) {
      if (!wanted.has(live) && (present.has(live) || !fs.existsSync(path.dirname(live)))) tailer.drain();
    }
    // Positions of families that no longer exist anywhere.
    for (const p of checkpoints.all()) {
      if (!tailers.has(p.live) && !fs.existsSync(path.dirname(p.live))) checkpoints.delete(`${p.dev}:${p.ino}`);
    }
    initialDone = true;
  };

  const scan = (): Promise<void> => {
    if (scanning) {
      rescan = true;
      return scanning;
    }
    scanning = (async () => {
      try {
        do {
          rescan = false;
          await scanOnce();
        } while (rescan && !stopped);
      } catch (e) {
        m.errors.inc({ kind: 'scan' });
        ctx.acc.error('scan', e);
      } finally {
        scanning = undefined;
      }
    })();
    return scanning;
  };

  return {
    async start() {
      stopped = false;
      await checkpoints.flush();
      checkpoints.syncWrites = false;
      await checkpoints.load();
      if (ctx.k8s) {
        await Promise.race([ctx.k8s.pods.synced(), new Promise((r) => setTimeout(r, 5000).unref())]);
        let pending: NodeJS.Timeout | undefined;
        unsubscribe = ctx.k8s.pods.subscribe(() => {
          pending ??= setTimeout(() => {
            pending = undefined;
            void scan();
          }, 200);
        });
      }
      await scan();
      timer = setInterval(() => void scan(), config.logging_search_interval);
      timer.unref();
      log.info({ podLogsDir: config.pod_logs_dir, files: tailers.size }, 'Container log tailing started.');
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (timer) clearInterval(timer);
      unsubscribe?.();
      await scanning;
      await Promise.all([...tailers.values()].map((t) => t.stop()));
      tailers.clear();
      m.files.set(0);
      await checkpoints.flush();
      checkpoints.syncWrites = true;
    },
  };
}
