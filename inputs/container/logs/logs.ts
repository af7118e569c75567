/**
 * The log part of `[inputs.container]`: discovers this node's container log
 * files, decides per container whether and how to collect them, and runs one
 * {@link Tailer} per live file.
 */
import path from 'node:path';
import fs from 'node:fs';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Input, InputContext } from '../../../agent/input/contract.js';
import type { Point } from '../../../agent/model/point.js';
import { AUTO_MULTILINE_PATTERNS, type LogRecord } from './assembler.js';
import { Checkpoints } from './checkpoint.js';
import type { ContainerConfig } from '../config.js';
import { keepUnderRoots, scanDockerLogs, scanPodLogs, type LogTarget } from './discovery.js';
import { ContainerFilter, isPauseImage, parseImage } from '../filter.js';
import { resolveLogConfig, type ContainerLogConfig } from './logs-config.js';
import { detectStatus } from './parse.js';
import { ReadPool } from './pool.js';
import { Tailer, type TailStats } from './tailer.js';
import { LogLines, type LinesThreads } from './lines.js';
import { defaultScriptWorkers, ScriptThreads } from './script-pool.js';
import { workerScript } from '../../../agent/services/threads.js';
import { FileRoots } from '../../../agent/services/files/safe-open.js';
import type { Script } from '../../../agent/services/pipeline/script.js';
import type { PipelineScripts } from '../../../agent/services/pipeline/types.js';
import { runScript } from './scripted.js';
import { globInside, insidePath, resolveInside, type InsideDirs } from './inside.js';
import { RuntimeRootfs } from './rootfs.js';
import { hostPaths, underRoot, type HostPaths } from '../../../agent/services/host/paths.js';

/** Files one `type: file` entry's glob matches at most. */
const MAX_FILES_PER_ENTRY = 64;
/** `type: file` entries read per container at most. */
const MAX_ENTRIES_PER_CONTAINER = 16;

function counter(reg: Registry, name: string, help: string, labelNames: string[] = []): Counter {
  return (reg.getSingleMetric(name) as Counter | undefined) ?? new Counter({ name, help, labelNames, registers: [reg] });
}

function gauge(reg: Registry, name: string, help: string, labelNames: string[] = []): Gauge {
  return (reg.getSingleMetric(name) as Gauge | undefined) ?? new Gauge({ name, help, labelNames, registers: [reg] });
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
  // are decorated once and escaped once, not per line (agent/input/running-input.ts, lineproto.ts).
  const byStream = new Map<string, Readonly<Record<string, string>>>();
  return (stream: string) => {
    let tags = byStream.get(stream);
    if (!tags) byStream.set(stream, (tags = Object.freeze(stream ? { ...base, stream } : { ...base })));
    return tags;
  };
}

/**
 * The script of a container's logs, looked up when asked (scripts reload): the
 * `pipeline` key of its logs config, else `<source>.p` when that exists.
 * Undefined when the agent has no pipeline directory.
 */
export function scriptLookup(pipelines: PipelineScripts | undefined, lc: ContainerLogConfig): (() => Script | undefined) | undefined {
  if (pipelines === undefined) return undefined;
  const name = lc.pipeline ?? `${lc.source}.p`;
  return () => pipelines.get('logging', name);
}

/** Builds the point of one record (measurement = source), through the source's script when it has one. */
export function makePointBuilder(
  t: LogTarget,
  lc: ContainerLogConfig,
  nodeName: string,
  withFilepath: boolean,
  scriptOf?: () => Script | undefined,
): (recs: LogRecord[], filepath: string, linesBefore: number) => Point[] {
  const tagsOf = streamTags(t, lc, nodeName);
  const source = lc.source;
  return (recs, filepath, linesBefore) => {
    const now = BigInt(Date.now()) * 1_000_000n;
    const script = scriptOf?.();
    const out: Point[] = [];
    let read = linesBefore;
    for (let i = 0; i < recs.length; i++) {
      const r = recs[i]!;
      read += r.lines;
      if (script !== undefined) {
        const s = runScript(script, typeof r.message === 'string' ? r.message : r.message.toString(), source, tagsOf(r.stream), r.time ?? now);
        if (s.kind === 'dropped') continue;
        if (s.kind === 'point') {
          s.point.fields.log_read_lines = BigInt(read);
          if (withFilepath) s.point.fields.filepath = filepath;
          out.push(s.point);
          continue;
        }
      }
      const fields: Point['fields'] = { message: r.message, status: detectStatus(r.message), log_read_lines: BigInt(read) };
      if (withFilepath) fields.filepath = filepath;
      out.push({ category: 'logging', name: source, tags: tagsOf(r.stream) as Record<string, string>, fields, time: r.time ?? now });
    }
    return out;
  };
}

/**
 * DataKit's manifest mounts the host's / at /rootfs (HOST_ROOT) and no log directory, and DataKit reads
 * pod logs under it. A log directory left at its default that is absent here but present under the
 * host root is read there, so that manifest works unchanged. A directory set in the config is used as set.
 */
export function logDirUnderRoot(configured: string, dflt: string, hp: HostPaths, exists: (p: string) => boolean = fs.existsSync): string {
  if (configured !== dflt || hp.root === '/' || exists(configured)) return configured;
  const under = underRoot(hp, dflt);
  return exists(under) ? under : configured;
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
    refused: counter(ctx.metrics, 'telekit_container_log_files_refused_total', 'Opens of log files refused on the opened descriptor (symlink out of the roots, not a regular file, …), by reason.', ['reason']),
    pathsRefused: counter(
      ctx.metrics,
      'telekit_container_log_file_paths_refused_total',
      'Paths of datakit/logs type file entries not read, by reason (climbs_out, relative, too_long, volume_unsupported, runtime_unsupported, bad_id, symlink_dir, too_many_files, too_many_entries), at every scan that meets them.',
      ['reason'],
    ),
    scriptWorkers: gauge(ctx.metrics, 'telekit_container_log_script_workers', 'Worker threads running Pipeline scripts of container logs.'),
    scriptWorkerCrashes: counter(ctx.metrics, 'telekit_container_log_script_worker_crashes_total', 'Script worker threads that died or did not answer (replaced; their batches are sent unparsed).'),
    scriptRawLines: counter(ctx.metrics, 'telekit_container_log_script_raw_lines_total', 'Records sent unparsed because the script worker running them died or was stopped.'),
    entries: gauge(ctx.metrics, 'telekit_container_log_file_entries', 'datakit/logs type file entries at the last scan, by state (matched: files found; unmatched: no file yet; refused).', ['state']),
  };
  const hp = hostPaths();
  const podLogsDir = logDirUnderRoot(config.pod_logs_dir, '/var/log/pods', hp);
  const dockerLogsDir = logDirUnderRoot(config.docker_logs_dir, '/var/lib/docker/containers', hp);
  const insideDirs: InsideDirs = {
    containerdTaskDir: config.logging_containerd_task_dir || underRoot(hp, '/run/containerd/io.containerd.runtime.v2.task/k8s.io'),
    kubeletPodsDir: config.logging_kubelet_pods_dir || underRoot(hp, '/var/lib/kubelet/pods'),
    layered: new RuntimeRootfs({
      dockerDataDir: config.logging_docker_data_dir || underRoot(hp, '/var/lib/docker'),
      crioStorageDir: config.logging_crio_storage_dir || underRoot(hp, '/var/lib/containers/storage'),
    }),
  };
  // One FileRoots per container root (rootfs or emptyDir volume): files inside a container are opened
  // with that root as the only root and symlinks refused (a symlink there means a path in the container).
  const insideRoots = new Map<string, FileRoots>();
  const rootsFor = (root: string): FileRoots => {
    let f = insideRoots.get(root);
    if (!f) {
      f = new FileRoots({
        roots: [root],
        symlinks: 'refuse',
        onRefused: (reason, _file, detail) => {
          m.refused.inc({ reason });
          ctx.acc.error('file_refused', new Error(`file inside a container not read (${reason}): ${detail}`));
        },
      });
      insideRoots.set(root, f);
    }
    return f;
  };
  // Every log file is opened through this: a regular file whose real path (of the opened descriptor) is under the roots.
  const files = new FileRoots({
    roots: [podLogsDir, dockerLogsDir],
    symlinks: 'within-roots',
    onRefused: (reason, _file, detail) => {
      m.refused.inc({ reason });
      ctx.acc.error(reason === 'outside_roots' ? 'outside_roots' : 'file_refused', new Error(`log file not read (${reason}): ${detail}`));
    },
  });
  const stats: TailStats = {
    bytes: (n) => m.bytes.inc(n),
    records: (n) => m.records.inc(n),
    parseErrors: (n) => m.parseErrors.inc(n),
    event: (kind) => m.events.inc({ kind }),
  };
  // Script worker threads (script-pool.ts), made with the first tailer of a source that may have a script;
  // each worker starts with the first batch that needs it.
  let threads: ScriptThreads | undefined;
  const maxThreads = ctx.pipelines === undefined || ctx.pipelines.workers === -1 ? 0 : ctx.pipelines.workers || defaultScriptWorkers();
  const workerUrl = maxThreads > 0 ? workerScript(import.meta.url, 'script-worker') : undefined;
  const linesThreads = (): LinesThreads | undefined => {
    if (workerUrl === undefined || stopped) return undefined;
    threads ??= new ScriptThreads({
      script: workerUrl,
      max: maxThreads,
      onCrash: (e) => {
        m.scriptWorkerCrashes.inc();
        ctx.acc.error('script_worker', e);
      },
      onCount: (n) => m.scriptWorkers.set(n),
    });
    return { pool: threads, onRaw: (n) => m.scriptRawLines.inc(n) };
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
    let c: ContainerLogConfig;
    if (t.file) {
      c = { ...t.file.config };
    } else {
      const r = resolveLogConfig(t.containerName, t.env, t.pod?.annotations ?? {});
      if (r.error && !warned.has(t.live)) {
        warned.add(t.live);
        ctx.acc.error('logs_config', new Error(`${r.origin} logs config of ${t.namespace}/${t.podName}/${t.containerName}: ${r.error}`));
      }
      c = r.config;
    }
    if (c.disable) return undefined;
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
          raw: t.file !== undefined,
        },
        displayPath: t.file?.display,
        multilineTimeoutMs: config.logging_multiline_timeout,
        toPoints: makePointBuilder(t, lc, ctx.host.nodeName, config.logging_enable_filepath_field, scriptLookup(ctx.pipelines, lc)),
        // lines straight from the read buffers when the core takes them as they are
        newLines:
          ctx.acc.addLinesWait && ctx.acc.tagsToAdd && ctx.acc.takesLines?.('logging')
            ? () => new LogLines(lc.source, streamTags(t, lc, ctx.host.nodeName), ctx.acc.tagsToAdd!(), config.logging_enable_filepath_field, scriptLookup(ctx.pipelines, lc), linesThreads())
            : undefined,
      },
      {
        acc: ctx.acc,
        checkpoints,
        pool,
        files: t.file?.files ?? files,
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
      if (tailers.get(t.live) === tailer) {
        tailers.delete(t.live);
        entryOf.delete(t.live);
      }
      m.files.set(tailers.size);
    });
  };

  /** Refusals of entry paths, each logged once (counted at every scan). */
  const refusedOnce = new Set<string>();
  const refusePath = (key: string, reason: string, detail: string): void => {
    m.pathsRefused.inc({ reason });
    if (refusedOnce.size > 10_000) refusedOnce.clear();
    if (refusedOnce.has(key)) return;
    refusedOnce.add(key);
    ctx.acc.error('file_path_refused', new Error(`datakit/logs file entry not read (${reason}): ${detail}`));
  };

  /** Entries (pod uid, container, path) resolved at the last scan, and the entry of each file tailer. */
  let liveEntries = new Set<string>();
  const entryOf = new Map<string, string>();
  /** The files of `type: file` entries of this node's pods (pod discovery only: the entries live in pod specs). */
  const scanInside = async (): Promise<LogTarget[]> => {
    const out: LogTarget[] = [];
    const entries = new Set<string>();
    const roots = new Set<string>();
    const state = { matched: 0, unmatched: 0, refused: 0 };
    for (const pod of ctx.k8s?.pods.list() ?? []) {
      for (const c of pod.containers) {
        if (c.init) continue;
        const r = resolveLogConfig(c.name, c.env, pod.annotations);
        if (r.files.length > MAX_ENTRIES_PER_CONTAINER) {
          state.refused += r.files.length - MAX_ENTRIES_PER_CONTAINER;
          refusePath(`${pod.uid}/${c.name}:entries`, 'too_many_entries', `${pod.namespace}/${pod.name}/${c.name}: ${r.files.length} file entries, the first ${MAX_ENTRIES_PER_CONTAINER} are read`);
        }
        for (const f of r.files.slice(0, MAX_ENTRIES_PER_CONTAINER)) {
          const where = `${pod.namespace}/${pod.name}/${c.name} ${JSON.stringify(f.path.slice(0, 200))}`;
          const res = resolveInside(f.path, pod, c, insideDirs);
          if (!res.ok) {
            if (res.reason === 'not_started') continue;
            state.refused++;
            refusePath(`${pod.uid}/${c.name}/${f.path}`, res.reason, `${where}: ${res.detail}`);
            continue;
          }
          const entry = `${pod.uid}/${c.name}/${c.id}/${f.path}`;
          entries.add(entry);
          roots.add(res.root);
          const g = await globInside(res.root, res.glob, MAX_FILES_PER_ENTRY);
          for (const x of g.refused) refusePath(`${x.path}:${x.reason}`, x.reason, `${where}: ${insidePath(res, x.path)} is a ${x.reason === 'symlink_dir' ? 'symlinked directory (not followed)' : 'file over the limit of ' + MAX_FILES_PER_ENTRY}`);
          if (g.files.length === 0) state[g.refused.length > 0 ? 'refused' : 'unmatched']++;
          else state.matched++;
          const display = (p: string): string => insidePath(res, p);
          for (const live of g.files) {
            out.push({ live, namespace: pod.namespace, podName: pod.name, podUid: pod.uid, containerName: c.name, containerId: c.id, image: c.image, env: c.env, pod, container: c, file: { config: f.config, files: rootsFor(res.root), display, entry } });
          }
        }
      }
    }
    for (const [k, v] of Object.entries(state)) m.entries.set({ state: k }, v);
    liveEntries = entries;
    // Roots of containers gone: forgotten (a running tailer keeps its own FileRoots).
    for (const r of insideRoots.keys()) if (!roots.has(r)) insideRoots.delete(r);
    return out;
  };

  const scanOnce = async (): Promise<void> => {
    const scanned = await scanPodLogs(podLogsDir, ctx.k8s?.pods);
    scanned.push(...(await scanDockerLogs(dockerLogsDir, fs.existsSync(podLogsDir), files)));
    scanned.push(...(await scanInside()));
    // Refusals are counted and logged by `files`; here only the skipped target is counted.
    const targets = await keepUnderRoots(scanned, files, (_t, reason) => m.skipped.inc({ reason: reason === 'outside_roots' ? 'outside_roots' : 'refused' }));
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
      if (t.file) entryOf.set(t.live, t.file.entry);
    }
    // A container that is gone (its directory removed) or no longer wanted (filters, `disable`) is
    // read to its end; a live file missing for a moment (between a rename and its re-creation) is not.
    const present = new Set(targets.map((t) => t.live));
    for (const [live, tailer] of tailers) {
      // A file inside a container: its entry is gone (annotation changed, pod or container replaced).
      const entry = entryOf.get(live);
      const entryGone = entry !== undefined && !liveEntries.has(entry);
      if (!wanted.has(live) && (present.has(live) || entryGone || !fs.existsSync(path.dirname(live)))) tailer.drain();
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
      log.info({ podLogsDir, dockerLogsDir, files: tailers.size }, 'Container log tailing started.');
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
      await threads?.close();
      threads = undefined;
      await checkpoints.flush();
      checkpoints.syncWrites = true;
    },
  };
}
