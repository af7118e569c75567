/**
 * The pipeline directory: loads every script, keeps them current, counts
 * what they do.
 *
 * DataKit's layout: `*.p` files at the top are logging scripts; subfolders
 * named after a category (`logging/`, `metric/`, `tracing/`, `object/`, …) hold
 * that category's. A ConfigMap mounted as the folder (`..data` symlinks) or as
 * single files (`subPath`) both work: names starting with `.` are skipped and
 * symlinks are followed. The folder is watched; on a change every file is read
 * again and a script whose text changed is compiled again. A script that no
 * longer loads keeps its last good version running (the error is logged and
 * counted); the other scripts are not affected.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import chokidar, { type FSWatcher } from 'chokidar';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { PipelineError } from './errors.js';
import { Script, type ScriptOptions, type ScriptStats } from './script.js';
import type { PipelineScripts } from './types.js';

export const CATEGORY_DIRS = ['logging', 'metric', 'tracing', 'object', 'custom_object', 'network', 'keyevent', 'rum', 'security', 'profiling', 'dialtesting'] as const;

export interface ScriptFile {
  category: string;
  name: string;
  file: string;
}

/** The script files of a pipeline directory (no reading of their text). */
export function listScripts(dir: string): ScriptFile[] {
  const out: ScriptFile[] = [];
  const entries = (d: string): string[] => {
    try {
      return fs.readdirSync(d).filter((n) => !n.startsWith('.')).sort();
    } catch {
      return [];
    }
  };
  const isFile = (p: string) => fs.statSync(p, { throwIfNoEntry: false })?.isFile() ?? false;
  for (const n of entries(dir)) {
    const p = path.join(dir, n);
    if (n.endsWith('.p') && isFile(p)) out.push({ category: 'logging', name: n, file: p });
    else if ((CATEGORY_DIRS as readonly string[]).includes(n) && fs.statSync(p, { throwIfNoEntry: false })?.isDirectory()) {
      for (const m of entries(p)) if (m.endsWith('.p') && isFile(path.join(p, m))) out.push({ category: n, name: m, file: path.join(p, m) });
    }
  }
  return out;
}

/** Loads every script of a directory: the scripts that load and the errors of those that do not. */
export function loadScripts(dir: string, opts: ScriptOptions = {}): { scripts: Script[]; files: ScriptFile[]; errors: PipelineError[] } {
  const scripts: Script[] = [];
  const errors: PipelineError[] = [];
  const files = listScripts(dir);
  for (const f of files) {
    try {
      scripts.push(Script.compile(f.name, f.file, fs.readFileSync(f.file, 'utf8'), opts));
    } catch (e) {
      errors.push(e instanceof PipelineError ? e : new PipelineError((e as Error).message, f.file, 0, 0));
    }
  }
  return { scripts, files, errors };
}

interface Entry {
  script: Script;
  hash: string;
  category: string;
}

export interface ScriptStoreOptions extends ScriptOptions {
  dir: string;
  log: Logger;
  metrics?: Registry;
  /** Watch the directory (default true). */
  watch?: boolean;
  /** See PipelineScripts.workers (default 0). */
  workers?: number;
}

function counter(reg: Registry, name: string, help: string, labelNames: string[], collect?: (this: Counter) => void): Counter {
  return (reg.getSingleMetric(name) as Counter | undefined) ?? new Counter({ name, help, labelNames, registers: [reg], ...(collect ? { collect } : {}) });
}

export class ScriptStore implements PipelineScripts {
  private readonly byKey = new Map<string, Entry>();
  /** Stats of script versions that were replaced, per script, so counters never go back. */
  private readonly retired = new Map<string, ScriptStats>();
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private errorsNow: PipelineError[] = [];
  private readonly reloads: Counter | undefined;
  private readonly loadErrors: Gauge | undefined;

  constructor(private readonly o: ScriptStoreOptions) {
    const reg = o.metrics;
    if (reg) {
      const totals = (pick: (s: ScriptStats) => number) =>
        function (this: Counter) {
          this.reset();
          for (const [name, v] of store.totals()) this.inc({ script: name }, pick(v));
        };
      // eslint-disable-next-line @typescript-eslint/no-this-alias
      const store = this;
      counter(reg, 'telekit_pipeline_lines_total', 'Lines run through a Pipeline script.', ['script'], totals((s) => s.lines));
      counter(reg, 'telekit_pipeline_failed_total', 'Lines a script failed on (sent as they were).', ['script'], totals((s) => s.failed));
      counter(reg, 'telekit_pipeline_timeouts_total', 'Lines that hit the per-line time bound of a script.', ['script'], totals((s) => s.timedOut));
      counter(reg, 'telekit_pipeline_dropped_total', 'Lines a script dropped (drop()).', ['script'], totals((s) => s.dropped));
      this.reloads = counter(reg, 'telekit_pipeline_reloads_total', 'Loads of the pipeline directory, by result.', ['result']);
      this.loadErrors = (reg.getSingleMetric('telekit_pipeline_load_errors') as Gauge | undefined) ?? new Gauge({ name: 'telekit_pipeline_load_errors', help: 'Scripts of the pipeline directory that do not load.', registers: [reg] });
    }
  }

  get dir(): string {
    return this.o.dir;
  }

  get workers(): number {
    return this.o.workers ?? 0;
  }

  get(category: string, name: string): Script | undefined {
    return this.byKey.get(`${category}/${name}`)?.script;
  }

  /** Load errors of the last (re)load. */
  errors(): readonly PipelineError[] {
    return this.errorsNow;
  }

  names(): string[] {
    return [...this.byKey.keys()];
  }

  private totals(): Map<string, ScriptStats> {
    const out = new Map<string, ScriptStats>();
    const add = (k: string, s: ScriptStats) => {
      const t = out.get(k) ?? { lines: 0, failed: 0, timedOut: 0, dropped: 0 };
      out.set(k, { lines: t.lines + s.lines, failed: t.failed + s.failed, timedOut: t.timedOut + s.timedOut, dropped: t.dropped + s.dropped });
    };
    for (const [k, s] of this.retired) add(k, s);
    for (const [k, e] of this.byKey) add(k, e.script.stats);
    return out;
  }

  /** (Re)reads the directory. */
  load(): void {
    const seen = new Set<string>();
    const errors: PipelineError[] = [];
    for (const f of listScripts(this.o.dir)) {
      const key = `${f.category}/${f.name}`;
      seen.add(key);
      let text: string;
      try {
        text = fs.readFileSync(f.file, 'utf8');
      } catch {
        continue; // removed between the listing and the read: the next event reloads
      }
      const hash = crypto.createHash('sha1').update(text).digest('hex');
      const old = this.byKey.get(key);
      if (old?.hash === hash) continue;
      try {
        const script = Script.compile(f.name, f.file, text, this.o);
        if (old) this.retire(key, old);
        this.byKey.set(key, { script, hash, category: f.category });
        this.o.log.info({ script: key, file: f.file }, old ? 'Pipeline script reloaded.' : 'Pipeline script loaded.');
      } catch (e) {
        const err = e instanceof PipelineError ? e : new PipelineError((e as Error).message, f.file, 0, 0);
        errors.push(err);
        this.o.log.warn({ script: key, error: err.message }, old ? 'Pipeline script does not load: its previous version keeps running.' : 'Pipeline script does not load: lines of its sources are sent unparsed.');
      }
    }
    for (const [key, e] of this.byKey) {
      if (!seen.has(key)) {
        this.retire(key, e);
        this.byKey.delete(key);
        this.o.log.info({ script: key }, 'Pipeline script removed.');
      }
    }
    this.errorsNow = errors;
    this.loadErrors?.set(errors.length);
    this.reloads?.inc({ result: errors.length > 0 ? 'errors' : 'ok' });
  }

  private retire(key: string, e: Entry): void {
    const s = e.script.stats;
    const t = this.retired.get(key) ?? { lines: 0, failed: 0, timedOut: 0, dropped: 0 };
    this.retired.set(key, { lines: t.lines + s.lines, failed: t.failed + s.failed, timedOut: t.timedOut + s.timedOut, dropped: t.dropped + s.dropped });
  }

  async start(): Promise<void> {
    this.load();
    if (this.o.watch === false) return;
    // ConfigMap updates swap the `..data` symlink: watch the folder, follow links, debounce.
    const w = chokidar.watch(this.o.dir, { ignoreInitial: true, followSymlinks: true, depth: 3 });
    this.watcher = w;
    const again = () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        try {
          this.load();
        } catch (e) {
          this.o.log.warn({ err: String(e) }, 'Pipeline directory reload failed.');
        }
      }, 100);
      this.timer.unref();
    };
    w.on('all', again);
    w.on('error', (e) => this.o.log.warn({ err: String(e) }, 'pipeline directory watch error'));
    await new Promise<void>((r) => w.once('ready', () => r()));
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    await this.watcher?.close();
    this.watcher = undefined;
  }
}

/** The environment the pipeline directory reads (cli/env-all.ts gathers it for the README). */
export const PIPELINE_ENV: readonly { name: string; default: string; doc: string }[] = [
  { name: 'ENV_PIPELINE_DIR', default: '(pipeline/ beside the conf.d folder)', doc: 'Folder of Pipeline scripts (`*.p`; subfolders per category), watched for changes (also `--pipeline-dir`).' },
  { name: 'ENV_PIPELINE_TIMEZONE', default: '(the process\'s zone, TZ)', doc: 'Zone of log times without one, for default_time() (`+8`, `Asia/Shanghai`, `UTC`).' },
  { name: 'ENV_PIPELINE_LINE_TIMEOUT', default: '100ms', doc: 'Time bound of one script run on one line; lines past it are sent unparsed (loops) or counted.' },
  { name: 'ENV_PIPELINE_WORKERS', default: '0', doc: 'Worker threads that run the scripts of container logs: 0 = one per CPU the process may use (affinity and the cgroup CPU quota; at most 4), started as scripted lines come; -1 = on the thread that reads the logs.' },
  { name: 'ENV_PIPELINE_MAX_LINE_LENGTH', default: '65536', doc: 'Longest message (characters) a script runs on; longer ones are sent unparsed and counted with the lines past the time bound.' },
];

/** The pipeline directory an agent uses: `--pipeline-dir`, ENV_PIPELINE_DIR, else `pipeline/` beside conf.d. */
export function pipelineDirOf(explicit: string | undefined, env: Record<string, string | undefined>, confDir: string | readonly string[] | undefined): string | undefined {
  const d = explicit ?? (env.ENV_PIPELINE_DIR || undefined);
  if (d) return path.resolve(d);
  // with several conf.d folders (telekit's, then DataKit's), beside the first
  const first = typeof confDir === 'string' ? confDir : confDir?.[0];
  return first ? path.join(path.dirname(path.resolve(first)), 'pipeline') : undefined;
}
