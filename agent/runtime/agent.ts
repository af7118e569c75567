/**
 * The agent: settings, sinks, sender, HTTP server, Kubernetes services and the
 * running inputs, with hot reload and graceful shutdown.
 *
 * Lifecycle: start() validates everything before anything binds (a bad config
 * never leaves a half-configured agent), then listens, then starts inputs.
 * stop() stops accepting (server, inputs), flushes queues within the shutdown
 * deadline, then closes sinks. Several agents may run in one process (tests).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import chokidar, { type FSWatcher } from 'chokidar';
import type { Logger } from 'pino';
import type { Input, InputContext, InputDefinition } from '../input/contract.js';
import { CoreMetrics } from '../telemetry/metrics.js';
import { createLogger } from '../telemetry/log.js';
import { readSettings, redactUrl, type AgentSettings, type Env } from '../config/env.js';
import { loadInputs, loadMainFile, formatProblem, type ConfigProblem, type InstanceConfig } from '../config/load.js';
import { portConflicts } from '../config/ports.js';
import { Sender, type SpillHook } from '../delivery/sender.js';
import type { Sink } from '../delivery/sinks/types.js';
import { DatawaySink } from '../delivery/sinks/dataway.js';
import { FileSink } from '../delivery/sinks/file.js';
import { UploadForwarder } from '../delivery/uploads.js';
import { AgentServer } from '../server/server.js';
import { corsOriginsFromEnv } from '../server/cors.js';
import { RunningInput } from '../input/running-input.js';
import { DiskBuffer, bufferSettingsFromEnv } from '../delivery/buffer/disk-buffer.js';
import { MemoryGuard, memoryLimitFromEnv } from './memlimit.js';
import type { K8sServices } from '../services/k8s/types.js';
import type { K8sRuntime } from '../services/k8s/index.js';
import { findKubeApi } from '../services/k8s/detect.js';
import { registerWriteRoutes } from './write-route.js';
import { CpuPressure } from './cpu-pressure.js';
import { pipelineDirOf, ScriptStore } from '../services/pipeline/store.js';
import { parseZone } from '../services/pipeline/timeparse.js';
import { parseDuration } from '../config/schema.js';
import type { Registry } from 'prom-client';

/** The package version, from the package.json above this file (agent/runtime/ in source, dist/agent/runtime/ when built). */
export const VERSION: string = (() => {
  const require = createRequire(import.meta.url);
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = require(rel) as { name?: string; version?: string };
      if (pkg.name === 'telekit' && pkg.version) return pkg.version;
    } catch {
      // try the next level
    }
  }
  return '0.0.0';
})();

export interface AgentOptions {
  /** conf.d folder(s), read and watched in order. */
  confDir?: string | readonly string[];
  dataDir: string;
  mainConf?: string;
  /** Defaults to process.env. */
  env?: Env;
  /** The inputs this agent can run: the composition root (cli/main.ts) passes `inputs/index.ts`'s list. */
  registry: readonly InputDefinition[];
  log?: Logger;
  /** Watch conf.d and reload on change (default true when confDir is set). */
  watch?: boolean;
  /** Folder of Pipeline scripts (default: ENV_PIPELINE_DIR, else `pipeline/` beside confDir). */
  pipelineDir?: string;
  /** Disk buffer hook for undeliverable batches (issue 8 wires the disk queue here). */
  spill?: SpillHook;
  /** Whether the agent is busy, for the dataway's busy gzip level (default: its own CPU time against its limit; tests). */
  cpuPressure?: { busy(): boolean };
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(`invalid configuration:\n${problems.filter((p) => p.severity === 'error').map(formatProblem).join('\n')}`);
  }
}

interface Running {
  cfg: InstanceConfig;
  acc: RunningInput;
  input: Input | undefined;
  abort: AbortController;
  started: boolean;
  unsubscribe?: () => void;
}

const STOP_INPUT_TIMEOUT_MS = 5000;

export class Agent {
  readonly startedAt = Date.now();
  httpUrl = '';
  private running: Running[] = [];
  private watcher: FSWatcher | undefined;
  private reloadTimer: NodeJS.Timeout | undefined;
  private reloading: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private warnedNoElection = false;

  private constructor(
    readonly o: AgentOptions,
    readonly env: Env,
    readonly settings: AgentSettings,
    readonly log: Logger,
    readonly metrics: CoreMetrics,
    readonly sender: Sender,
    readonly server: AgentServer,
    private k8s: K8sRuntime | undefined,
  ) {}

  /** The disk buffer (absent when AgentOptions.spill replaces it) and the memory guard. */
  private reliability: { buffer: DiskBuffer | undefined; guard: MemoryGuard } | undefined;
  /** The pipeline directory's scripts, handed to inputs (InputContext.pipelines). */
  pipelines: ScriptStore | undefined;

  /**
   * Everything start() and check() derive from the options before any I/O but
   * reading the configuration: the merged environment, the settings (throwing
   * SettingsError on a bad variable) and the loaded input instances.
   */
  private static prepare(o: Omit<AgentOptions, 'dataDir'> & { dataDir?: string }) {
    const fileEnv = o.mainConf ? loadMainFile(o.mainConf).env : {};
    const env = { ...fileEnv, ...(o.env ?? process.env) };
    const settings = readSettings(env);
    // Reliability (issue 8): settings are checked before anything starts.
    const bufferSettings = bufferSettingsFromEnv(env, o.dataDir ?? '.');
    const memoryLimit = memoryLimitFromEnv(env);
    const loaded = Agent.load(o, env, settings);
    return { env, settings, bufferSettings, memoryLimit, loaded };
  }

  private static load(o: Pick<AgentOptions, 'confDir' | 'mainConf' | 'registry'>, env: Env, settings: AgentSettings) {
    const r = loadInputs({ confDir: o.confDir, mainFile: o.mainConf, env, registry: o.registry, defaultEnabled: settings.defaultEnabledInputs, maxInstancesPerInput: settings.maxInputInstances });
    // before anything binds: what `run` (or a reload) would fail on, check-config reports too
    r.problems.push(...portConflicts(r.instances, settings.httpListen));
    return r;
  }

  /** Loads and validates the configuration without starting anything. */
  static check(o: Omit<AgentOptions, 'dataDir'>): { settings: AgentSettings; instances: InstanceConfig[]; problems: ConfigProblem[] } {
    const { settings, loaded } = Agent.prepare(o);
    return { settings, instances: loaded.instances, problems: loaded.problems };
  }

  static async start(o: AgentOptions): Promise<Agent> {
    const { env, settings, bufferSettings, memoryLimit, loaded } = Agent.prepare(o);
    const log = o.log ?? createLogger(settings.logLevel);
    for (const p of loaded.problems) if (p.severity === 'warning') log.warn(formatProblem(p));
    if (loaded.problems.some((p) => p.severity === 'error')) throw new ConfigError(loaded.problems);

    fs.mkdirSync(o.dataDir, { recursive: true });
    const metrics = new CoreMetrics();
    const sinks = await Agent.makeSinks(settings, o, log, metrics);
    const buffer = o.spill ? undefined : new DiskBuffer({ settings: bufferSettings, metrics: metrics.registry, log: log.child({ component: 'buffer' }), minRetryMs: settings.retryDelayMs, maxRetryMs: Math.min(30_000, settings.retryDelayMs * 64) });
    const guard = new MemoryGuard({ limitBytes: memoryLimit, metrics: metrics.registry, log: log.child({ component: 'memory' }) });
    const sender = new Sender({
      sinks,
      metrics,
      log: log.child({ component: 'sender' }),
      flushIntervalMs: settings.flushIntervalMs,
      maxCacheCount: settings.maxCacheCount,
      maxBatchBytes: settings.maxRawBodySize,
      queueCapacity: settings.queueCapacity,
      queueMaxBytes: settings.queueMaxBytes,
      maxRetry: settings.maxRetry,
      retryDelayMs: settings.retryDelayMs,
      concurrency: settings.maxConnections,
      spill: o.spill ?? buffer,
    });
    sender.pressure = () => guard.overloaded();
    sender.uploads = new UploadForwarder({ sinks, registry: metrics.registry, log: log.child({ component: 'uploads' }), maxRetry: settings.maxRetry, retryDelayMs: settings.retryDelayMs, spill: buffer });
    const server = new AgentServer({
      bodyLimit: settings.httpBodyLimit,
      bodyBudget: settings.httpBodyBudget,
      timeouts: { requestMs: settings.httpTimeoutMs, headersMs: settings.httpHeaderTimeoutMs, idleMs: settings.httpTimeoutMs },
      metrics,
      log: log.child({ component: 'http' }),
      overloaded: () => sender.pressure(),
      corsOrigins: corsOriginsFromEnv(env),
    });
    let k8s: K8sRuntime | undefined;
    try {
      const k8sLog = log.child({ component: 'k8s' });
      // the Kubernetes client is loaded only when there is an API to talk to
      if (findKubeApi(env)) k8s = await (await import('../services/k8s/index.js')).startK8s({ env, log: k8sLog, metrics: metrics.registry });
      else k8sLog.info('no Kubernetes API configured; discovery off');
    } catch (e) {
      await sender.close(0);
      throw e;
    }
    const agent = new Agent(o, env, settings, log, metrics, sender, server, k8s);
    agent.reliability = { buffer, guard };
    agent.pipelines = Agent.makePipelines(o, env, log, metrics.registry);
    agent.registerCoreRoutes();
    try {
      guard.start();
      await agent.pipelines?.start();
      await buffer?.start(sinks); // replays what a previous run left on disk
      agent.httpUrl = await server.listen(settings.httpListen.host, settings.httpListen.port);
      log.info({ listen: agent.httpUrl, sinks: sinks.map((s) => (s instanceof DatawaySink ? s.displayUrl : s.name)), version: VERSION }, 'telekit listening');
      await agent.apply(loaded.instances, true);
    } catch (e) {
      await agent.stop().catch(() => undefined);
      throw e;
    }
    if (o.confDir && (o.watch ?? true)) await agent.watch(o.confDir);
    return agent;
  }

  private static makePipelines(o: AgentOptions, env: Env, log: Logger, metrics: Registry): ScriptStore | undefined {
    const dir = pipelineDirOf(o.pipelineDir, env, o.confDir);
    if (dir === undefined) return undefined;
    const tz = env.ENV_PIPELINE_TIMEZONE ? parseZone(env.ENV_PIPELINE_TIMEZONE) : undefined;
    if (env.ENV_PIPELINE_TIMEZONE && tz === undefined) log.warn({ value: env.ENV_PIPELINE_TIMEZONE }, 'ENV_PIPELINE_TIMEZONE is not a time zone: using the process zone.');
    const bound = env.ENV_PIPELINE_LINE_TIMEOUT ? parseDuration(env.ENV_PIPELINE_LINE_TIMEOUT) : undefined;
    const maxLen = Number(env.ENV_PIPELINE_MAX_LINE_LENGTH) || undefined;
    const workers = env.ENV_PIPELINE_WORKERS ? Number(env.ENV_PIPELINE_WORKERS) : 0;
    if (!Number.isInteger(workers) || workers < -1) log.warn({ value: env.ENV_PIPELINE_WORKERS }, 'ENV_PIPELINE_WORKERS is not an integer of -1 or more: one worker per CPU (after the CPU quota).');
    return new ScriptStore({ dir, log: log.child({ component: 'pipeline' }), metrics, watch: (o.watch ?? true) && fs.existsSync(dir), timezone: tz, timeBoundMs: bound, maxLineLength: maxLen, workers: Number.isInteger(workers) && workers >= -1 ? workers : 0 });
  }

  private static async makeSinks(s: AgentSettings, o: AgentOptions, log: Logger, metrics: CoreMetrics): Promise<Sink[]> {
    const dataDir = o.dataDir;
    const ua = `telekit/${VERSION}/${s.hostname}`;
    const cpu = s.dataways.length > 0 && s.busyGzipLevel < s.gzipLevel ? (o.cpuPressure ?? new CpuPressure()) : undefined;
    const busy =
      cpu &&
      (() => {
        const b = cpu.busy();
        if (b) metrics.busyGzipBodies.inc();
        return b;
      });
    const sinks: Sink[] =
      s.dataways.length > 0
        ? s.dataways.map(
            (url, index) =>
              new DatawaySink({ url, index, encoding: s.contentEncoding, timeoutMs: s.datawayTimeoutMs, maxBodyBytes: s.maxRawBodySize, gzipLevel: s.gzipLevel, busyGzipLevel: s.busyGzipLevel, busy, connections: s.maxConnections, userAgent: ua }),
          )
        : [new FileSink({ dir: path.join(dataDir, 'out') })];
    if (s.dataways.length === 0) log.info({ dir: path.join(dataDir, 'out') }, 'no ENV_DATAWAY: writing line protocol files');
    if (s.otlpTracesEndpoint) {
      // Loaded only when configured: the OpenTelemetry exporter is a large module graph.
      const { createOtlpSink } = await import('../delivery/sinks/otlp.js');
      sinks.push(createOtlpSink({ endpoint: s.otlpTracesEndpoint, headers: s.otlpTracesHeaders, timeoutMs: s.otlpTracesTimeoutMs }));
      log.info({ endpoint: redactUrl(s.otlpTracesEndpoint) }, 'forwarding traces to OTLP');
    }
    return sinks;
  }

  get k8sServices(): K8sServices | undefined {
    return this.k8s?.services;
  }

  private registerCoreRoutes(): void {
    const app = this.server.app;
    app.get('/v1/ping', async () => ({ content: { version: VERSION, uptime: `${Math.round((Date.now() - this.startedAt) / 1000)}s`, host: this.settings.hostname } }));
    app.get('/metrics', async (_req, reply) => {
      for (const c of this.sender.categories()) this.metrics.queuePoints.set({ category: c }, this.sender.queued(c));
      void reply.type(this.metrics.registry.contentType);
      return this.metrics.registry.metrics();
    });
    app.get('/v1/stats', async () => this.stats());
    const writer = new RunningInput('write', 0, {}, () => this.settings.hostTags, () => this.settings.electionTags, this.sender, this.metrics, this.log);
    registerWriteRoutes(this.server, writer);
  }

  /** The JSON snapshot behind /v1/stats (and `telekit monitor`). */
  async stats(): Promise<unknown> {
    const sinkMetrics = (await this.metrics.sinkPoints.get()).values;
    const retries = (await this.metrics.sinkRetries.get()).values;
    const dropped = (await this.metrics.dropped.get()).values;
    const latency = (await this.metrics.sinkSeconds.get()).values;
    const sinks = new Map<string, { name: string; category: string; sent: number; failed: number; retries: number; latencyMsAvg?: number }>();
    const sinkOf = (name: string, category: string) => {
      const k = `${name}/${category}`;
      let s = sinks.get(k);
      if (!s) sinks.set(k, (s = { name, category, sent: 0, failed: 0, retries: 0 }));
      return s;
    };
    for (const v of sinkMetrics) {
      const s = sinkOf(String(v.labels.sink), String(v.labels.category));
      if (v.labels.result === 'sent') s.sent += v.value;
      else s.failed += v.value;
    }
    for (const v of retries) sinkOf(String(v.labels.sink), String(v.labels.category)).retries += v.value;
    const sums = new Map<string, { sum: number; count: number }>();
    for (const v of latency) {
      const k = `${String(v.labels.sink)}/${String(v.labels.category)}`;
      const e = sums.get(k) ?? { sum: 0, count: 0 };
      if (v.metricName?.endsWith('_sum')) e.sum = v.value;
      if (v.metricName?.endsWith('_count')) e.count = v.value;
      sums.set(k, e);
    }
    for (const [k, e] of sums) if (e.count > 0 && sinks.has(k)) sinks.get(k)!.latencyMsAvg = (e.sum / e.count) * 1000;
    return {
      version: VERSION,
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      hostname: this.settings.hostname,
      inputs: this.running.map((r) => ({ name: r.cfg.def.name, instance: r.cfg.instance, running: r.started, points: r.acc.points, errors: r.acc.errors, lastError: r.acc.lastError, lastErrorAt: r.acc.lastErrorAt })),
      queues: this.sender.categories().map((c) => ({ category: c, points: this.sender.queued(c), capacity: this.sender.capacity() })),
      sinks: [...sinks.values()],
      dropped: dropped.map((v) => ({ category: v.labels.category, reason: v.labels.reason, points: v.value })),
    };
  }

  /**
   * Brings the running inputs in line with `instances`: unchanged ones keep
   * running. At start a failure throws. On reload, if a new instance fails to
   * start, the change is rolled back: the instances it started are stopped and
   * the ones it stopped are started again. Returns whether it was applied.
   */
  private async apply(instances: InstanceConfig[], initial: boolean): Promise<boolean> {
    const keep = new Set(instances.map((i) => i.key));
    const stopping = this.running.filter((r) => !keep.has(r.cfg.key));
    const current = new Set(this.running.map((r) => r.cfg.key));
    this.running = this.running.filter((r) => keep.has(r.cfg.key));
    await Promise.all(stopping.map((r) => this.stopOne(r)));
    const started: Running[] = [];
    for (const cfg of instances) {
      if (current.has(cfg.key)) continue;
      const r = this.makeRunning(cfg);
      this.running.push(r);
      try {
        await this.schedule(r);
        started.push(r);
      } catch (e) {
        this.running = this.running.filter((x) => x !== r);
        const msg = `input ${cfg.def.name}[${cfg.instance}] (${cfg.source}) failed to start: ${(e as Error).message}`;
        if (initial) throw new Error(msg);
        this.log.error(msg);
        await this.rollback(started, stopping);
        return false;
      }
    }
    if (stopping.length > 0 || !initial) this.log.info({ inputs: this.running.map((r) => r.cfg.def.name) }, 'inputs applied');
    return true;
  }

  /** Undoes a reload: stops the instances it started, starts again the ones it stopped. */
  private async rollback(started: Running[], stopped: Running[]): Promise<void> {
    await Promise.all(started.map((r) => this.stopOne(r)));
    this.running = this.running.filter((r) => !started.includes(r));
    for (const old of stopped) {
      const r = this.makeRunning(old.cfg);
      try {
        await this.schedule(r);
        this.running.push(r);
      } catch (e) {
        this.log.error({ input: old.cfg.def.name, instance: old.cfg.instance, err: (e as Error).message }, 'input could not be restarted after a rejected reload');
      }
    }
    this.log.error({ inputs: this.running.map((r) => r.cfg.def.name) }, 'configuration change rejected: an input failed to start; the previous inputs run again');
  }

  private makeRunning(cfg: InstanceConfig): Running {
    const election = cfg.def.election?.(cfg.config) ?? false;
    const tags = ((cfg.config as { tags?: Record<string, string> }).tags ?? {}) as Record<string, string>;
    const acc = new RunningInput(cfg.def.name, cfg.instance, tags, () => (election ? this.settings.electionTags : this.settings.hostTags), () => this.settings.electionTags, this.sender, this.metrics, this.log.child({ input: cfg.def.name }));
    return { cfg, acc, input: undefined, abort: new AbortController(), started: false };
  }

  /** Starts an instance now, or, for election inputs under election, whenever this agent leads. */
  private async schedule(r: Running): Promise<void> {
    const wantsElection = this.settings.enableElection && (r.cfg.def.election?.(r.cfg.config) ?? false);
    const election = wantsElection ? this.k8s?.services.election : undefined;
    if (wantsElection && !election && !this.warnedNoElection) {
      // Without a Kubernetes API there is no Lease to elect with: every agent runs its cluster-level inputs.
      this.warnedNoElection = true;
      this.log.warn({ input: r.cfg.def.name }, 'ENV_ENABLE_ELECTION is set but no Kubernetes API is configured: election inputs run on this agent without election');
    }
    if (!election) return this.startOne(r);
    const follow = (leader: boolean) => {
      if (leader && !r.started) this.startOne(r).catch((e: Error) => this.log.error({ input: r.cfg.def.name, err: e.message }, 'input failed to start on leadership'));
      else if (!leader && r.started) void this.stopOne(r, false);
    };
    r.unsubscribe = election.onChange(follow);
    follow(election.isLeader());
  }

  private async startOne(r: Running): Promise<void> {
    r.abort = new AbortController();
    const cfg = r.cfg;
    const ctx: InputContext = {
      name: cfg.def.name,
      instance: cfg.instance,
      acc: r.acc,
      log: this.log.child({ input: cfg.def.name, instance: cfg.instance }),
      http: this.server,
      host: { hostname: this.settings.hostname, ip: this.settings.nodeIp, nodeName: this.settings.nodeName },
      dataDir: this.o.dataDir,
      k8s: this.k8s?.services,
      pipelines: this.pipelines,
      metrics: this.metrics.registry,
      signal: r.abort.signal,
      checkToken: (token) => datawayTokenIs(this.settings.dataways[0], token),
    };
    r.input = cfg.def.create(cfg.config, ctx);
    r.started = true;
    try {
      await r.input.start();
    } catch (e) {
      r.started = false;
      await r.input.stop().catch(() => undefined);
      throw e;
    }
  }

  private async stopOne(r: Running, final = true): Promise<void> {
    if (final) r.unsubscribe?.();
    if (!r.started || !r.input) return;
    r.started = false;
    r.abort.abort();
    let timer: NodeJS.Timeout | undefined;
    const ok = await Promise.race([
      r.input.stop().then(
        () => true,
        (e: Error) => {
          this.log.error({ input: r.cfg.def.name, err: e.message }, 'input stop failed');
          return true;
        },
      ),
      new Promise<boolean>((res) => (timer = setTimeout(() => res(false), STOP_INPUT_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    if (!ok) this.log.warn({ input: r.cfg.def.name }, 'input did not stop in time');
  }

  private async watch(dir: string | readonly string[]): Promise<void> {
    // ConfigMap updates swap the `..data` symlink: watch the folder (not single files) and debounce.
    const w = chokidar.watch(typeof dir === 'string' ? dir : [...dir], { ignoreInitial: true, followSymlinks: true, depth: 8 });
    this.watcher = w;
    w.on('all', () => {
      clearTimeout(this.reloadTimer);
      this.reloadTimer = setTimeout(() => void this.reload(), 300);
    });
    w.on('error', (e) => this.log.warn({ err: String(e) }, 'conf.d watch error'));
    await new Promise<void>((r) => w.once('ready', () => r()));
  }

  /**
   * Reloads conf.d: on any error the running configuration stays as it is.
   * Changed instances restart; unchanged ones keep running; queued points are untouched.
   */
  reload(): Promise<{ ok: boolean; problems: ConfigProblem[] }> {
    const run = async () => {
      if (this.stopped) return { ok: false, problems: [] };
      const loaded = Agent.load(this.o, this.env, this.settings);
      if (loaded.problems.some((p) => p.severity === 'error')) {
        this.metrics.configReloads.inc({ result: 'rejected' });
        this.log.error({ problems: loaded.problems.map(formatProblem) }, 'configuration change rejected; keeping the running configuration');
        return { ok: false, problems: loaded.problems };
      }
      const ok = await this.apply(loaded.instances, false);
      this.metrics.configReloads.inc({ result: ok ? 'applied' : 'rejected' });
      return { ok, problems: loaded.problems };
    };
    const p = this.reloading.then(run, run);
    this.reloading = p;
    return p;
  }

  /** Names of the running input instances (for tests and check-config). */
  runningInputs(): string[] {
    return this.running.filter((r) => r.started).map((r) => r.cfg.def.name);
  }

  /** Set by stop(); a second signal aborts it (expedite()). */
  private stopping: Promise<void> | undefined;
  private readonly hurry = new AbortController();

  /**
   * Skips what is left of the shutdown's waits: in-flight sends are aborted and
   * whatever is unsent goes to the disk buffer now (a second SIGTERM).
   */
  expedite(): void {
    if (!this.hurry.signal.aborted) this.log.warn('second signal: skipping the rest of the flush; spilling what is unsent to the disk buffer');
    this.hurry.abort();
  }

  /**
   * Stops accepting, stops inputs (they flush into the queues), drains the
   * queues; the deadline (ENV_SHUTDOWN_TIMEOUT, counted from the call) holds
   * whatever the inputs, the server or the sinks do: every step waits at
   * most until it, then in-flight sends are aborted and what is unsent is
   * spilled to the disk buffer (replayed on the next start). expedite() moves
   * the deadline to now.
   */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.stopped = true;
    const deadline = Date.now() + this.settings.shutdownTimeoutMs;
    const hurry = this.hurry.signal;
    /** Waits for `p` until the deadline or a second signal, whichever comes first. */
    const bounded = async (what: string, p: Promise<unknown> | undefined): Promise<void> => {
      if (!p) return;
      const guarded = p.catch(() => undefined);
      const ms = deadline - Date.now();
      if (ms <= 0 || hurry.aborted) return;
      let timer: NodeJS.Timeout | undefined;
      let onHurry: (() => void) | undefined;
      const late = await Promise.race([
        guarded.then(() => false),
        new Promise<boolean>((r) => {
          timer = setTimeout(() => r(true), ms);
          onHurry = () => r(true);
          hurry.addEventListener('abort', onHurry, { once: true });
        }),
      ]);
      clearTimeout(timer);
      if (onHurry) hurry.removeEventListener('abort', onHurry);
      if (late) this.log.warn({ step: what }, 'shutdown step cut short by the deadline');
    };
    clearTimeout(this.reloadTimer);
    await bounded('conf.d watcher', this.watcher?.close());
    await bounded('reload', this.reloading);
    await bounded('http server', this.server.close());
    await bounded('inputs', Promise.all(this.running.map((r) => this.stopOne(r))));
    this.running = [];
    await bounded('kubernetes', this.k8s?.stop());
    await bounded('uploads', this.sender.uploads?.close(Math.max(0, deadline - Date.now())));
    await bounded('pipelines', this.pipelines?.stop());
    const buffer = this.reliability?.buffer;
    buffer?.release(); // no-drop spills must not hold the shutdown past its deadline
    buffer?.pauseReplay(); // a replay in flight would hold the sinks' connections (and the exit) open
    await this.sender.close(Math.max(0, deadline - Date.now()), hurry);
    await buffer?.close();
    this.reliability?.guard.stop();
    this.log.info({ overranMs: Math.max(0, Date.now() - deadline) }, 'telekit stopped');
  }
}

/** Whether `token` is the `token` query parameter of a dataway URL (compared in constant time). */
function datawayTokenIs(url: string | undefined, token: string): boolean {
  if (url === undefined || token === '') return false;
  let want: string | null;
  try {
    want = new URL(url).searchParams.get('token');
  } catch {
    return false;
  }
  if (!want) return false;
  const a = Buffer.from(want);
  const b = Buffer.from(token);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}
