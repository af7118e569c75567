/**
 * Loads input instances from conf.d (every `*.conf`, recursively, DataKit's
 * `conf.d/<input>/<input>.conf` layout), the optional main file,
 * ENV_DATAKIT_INPUTS and ENV_DEFAULT_ENABLED_INPUTS (+ ENV_INPUT_<NAME>_<OPTION>).
 *
 * Every problem is collected with its file, line and key; the caller refuses
 * to start (or to apply a reload) when there is any error, so the agent is
 * never half-configured. Unknown inputs are warnings: DataKit users carry
 * confs for inputs telekit does not have, and those must not stop the node.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseToml } from './toml.js';
import type { InputDefinition } from '../input/contract.js';
import { validate, type Issue } from './schema.js';
import type { Env } from './env.js';

export interface ConfigProblem {
  severity: 'error' | 'warning';
  /** File path, or a pseudo-source such as `ENV_DATAKIT_INPUTS`. */
  file: string;
  line?: number;
  /** Dotted key, e.g. `inputs.statsd[0].percentiles`. */
  key?: string;
  message: string;
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.line !== undefined ? `${p.file}:${p.line}` : p.file;
  return `${where}: ${p.severity}: ${p.key ? `${p.key}: ` : ''}${p.message}`;
}

export interface InstanceConfig {
  def: InputDefinition;
  /** Validated, frozen config. */
  config: unknown;
  /** Where it came from, for logs: `conf.d/statsd/statsd.conf` or `ENV_DEFAULT_ENABLED_INPUTS`. */
  source: string;
  /** Index among the instances of this input. */
  instance: number;
  /** Canonical JSON of the config: equal keys mean an unchanged instance on reload. */
  key: string;
}

export interface LoadResult {
  instances: InstanceConfig[];
  problems: ConfigProblem[];
  /** The main file's settings translated to ENV_ names (the environment wins). */
  mainEnv: Env;
  files: string[];
}

/** Lists `*.conf` under dir recursively, following symlinks, skipping Kubernetes' `..data` internals. */
export function listConfFiles(dir: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const walk = (d: string, depth: number) => {
    if (depth > 8) return;
    let real: string;
    try {
      real = fs.realpathSync(d);
    } catch {
      return;
    }
    if (seen.has(real)) return;
    seen.add(real);
    let entries: string[];
    try {
      entries = fs.readdirSync(d).sort();
    } catch {
      return;
    }
    for (const name of entries) {
      // A ConfigMap volume holds `..data -> ..2024_..._12345/` plus symlinks to it; read the symlinks only.
      if (name.startsWith('..') || name.startsWith('.')) continue;
      const p = path.join(d, name);
      let st: fs.Stats;
      try {
        st = fs.statSync(p);
      } catch {
        continue; // dangling symlink during a ConfigMap swap
      }
      if (st.isDirectory()) walk(p, depth + 1);
      else if (st.isFile() && name.endsWith('.conf')) out.push(p);
    }
  };
  walk(dir, 0);
  return out;
}

interface RawInstance {
  name: string;
  table: unknown;
  file: string;
  text: string;
  /** nth table of this input name in this file. */
  nth: number;
}

/** Finds the line of `key` inside the nth `[[inputs.<name>]]` / `[inputs.<name>]` block of text. */
export function locate(text: string, input: string, nth: number, key?: string): number | undefined {
  const lines = text.split('\n');
  const header = new RegExp(`^\\s*\\[\\[?\\s*inputs\\.${input.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*\\]\\]?\\s*(#.*)?$`);
  let seen = -1;
  let start = -1;
  for (let i = 0; i < lines.length; i++) {
    if (header.test(lines[i]!)) {
      seen++;
      if (seen === nth) {
        start = i;
        break;
      }
    }
  }
  if (start < 0) return undefined;
  if (key === undefined || key === '') return start + 1;
  const segs = key.replace(/\[\d+\]/g, '').split('.');
  const last = segs[segs.length - 1]!;
  const keyRe = new RegExp(`^\\s*["']?${last.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}["']?\\s*=`);
  const tableRe = new RegExp(`^\\s*\\[\\[?[^\\]]*\\b${last.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*\\]\\]?`);
  for (let i = start + 1; i < lines.length; i++) {
    const l = lines[i]!;
    if (/^\s*\[\[?\s*inputs\.[^.\]]+\s*\]\]?/.test(l) && i > start) break; // next input
    if (keyRe.test(l) || tableRe.test(l)) return i + 1;
  }
  return start + 1;
}

function tomlProblem(file: string, e: unknown): ConfigProblem {
  const err = e as { line?: number; location?: { start?: { line?: number } }; message?: string };
  return { severity: 'error', file, line: err.line ?? err.location?.start?.line, message: `invalid TOML: ${err.message ?? String(e)}` };
}

/** Extracts `[[inputs.X]]` / `[inputs.X]` tables from one parsed TOML document. */
function rawInstances(doc: Record<string, unknown>, file: string, text: string, problems: ConfigProblem[]): RawInstance[] {
  const out: RawInstance[] = [];
  const inputs = doc.inputs;
  if (inputs === undefined) return out;
  if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs)) {
    problems.push({ severity: 'error', file, key: 'inputs', message: 'expected [inputs.<name>] tables' });
    return out;
  }
  for (const [name, v] of Object.entries(inputs)) {
    const tables = Array.isArray(v) ? v : [v];
    tables.forEach((t, nth) => out.push({ name, table: t, file, text, nth }));
  }
  return out;
}

/** Keys in code-unit order (not `localeCompare`: a collator pages ~2 MiB of ICU data into every agent for an order nobody reads). */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x,
  );
}

const MAIN_KEYS: Record<string, Record<string, string>> = {
  dataway: { urls: 'ENV_DATAWAY', url: 'ENV_DATAWAY', content_encoding: 'ENV_DATAWAY_CONTENT_ENCODING', timeout: 'ENV_DATAWAY_TIMEOUT', max_retry_count: 'ENV_DATAWAY_MAX_RETRY_COUNT', retry_delay: 'ENV_DATAWAY_RETRY_DELAY', max_raw_body_size: 'ENV_DATAWAY_MAX_RAW_BODY_SIZE' },
  http_api: { listen: 'ENV_HTTP_LISTEN', body_limit: 'ENV_HTTP_BODY_LIMIT', rum_origin_ip_header: 'ENV_RUM_ORIGIN_IP_HEADER', rum_app_id_white_list: 'ENV_RUM_APP_ID_WHITE_LIST' },
  election: { enable: 'ENV_ENABLE_ELECTION', namespace: 'ENV_NAMESPACE' },
  io: { flush_interval: 'ENV_IO_FLUSH_INTERVAL', max_cache_count: 'ENV_IO_MAX_CACHE_COUNT', queue_capacity: 'ENV_IO_QUEUE_CAPACITY' },
  log: { level: 'ENV_LOG_LEVEL' },
};

/** Translates the main file's agent settings to ENV_ names. */
function mainToEnv(doc: Record<string, unknown>, file: string, problems: ConfigProblem[]): Env {
  const env: Env = {};
  const asText = (v: unknown) => (Array.isArray(v) ? v.join(',') : typeof v === 'boolean' ? (v ? 'on' : '') : String(v));
  for (const [section, v] of Object.entries(doc)) {
    if (section === 'inputs') continue;
    if (section === 'global_host_tags' || section === 'global_election_tags') {
      const name = section === 'global_host_tags' ? 'ENV_GLOBAL_HOST_TAGS' : 'ENV_GLOBAL_ELECTION_TAGS';
      env[name] = Object.entries(v as Record<string, unknown>)
        .map(([k, x]) => `${k}=${String(x)}`)
        .join(',');
    } else if (section === 'default_enabled_inputs') env.ENV_DEFAULT_ENABLED_INPUTS = asText(v);
    else if (section === 'hostname') env.ENV_HOSTNAME = asText(v);
    else if (MAIN_KEYS[section] && typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        const name = MAIN_KEYS[section]![k];
        if (name) env[name] = asText(x);
        else problems.push({ severity: 'error', file, key: `${section}.${k}`, message: 'unknown option' });
      }
    } else problems.push({ severity: 'error', file, key: section, message: 'unknown section' });
  }
  return env;
}

/** Reads the main TOML file (agent settings + inputs). */
export function loadMainFile(file: string): { env: Env; raws: RawInstance[]; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    problems.push({ severity: 'error', file, message: `cannot read: ${(e as Error).message}` });
    return { env: {}, raws: [], problems };
  }
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (e) {
    problems.push(tomlProblem(file, e));
    return { env: {}, raws: [], problems };
  }
  return { env: mainToEnv(doc, file, problems), raws: rawInstances(doc, file, text, problems), problems };
}

export interface LoadOptions {
  /** conf.d folders, read in order (telekit's, then DataKit's /usr/local/datakit/conf.d when present). */
  confDir?: string | readonly string[];
  mainFile?: string;
  env: Env;
  registry: readonly InputDefinition[];
  /** Names from ENV_DEFAULT_ENABLED_INPUTS (already parsed). */
  defaultEnabled: readonly string[];
  /** More instances of one input is an error (default DEFAULT_MAX_INSTANCES). */
  maxInstancesPerInput?: number;
}

/** Loads and validates every input instance. */
export function loadInputs(opts: LoadOptions): LoadResult {
  const problems: ConfigProblem[] = [];
  const raws: RawInstance[] = [];
  const files: string[] = [];
  let mainEnv: Env = {};
  if (opts.mainFile) {
    const m = loadMainFile(opts.mainFile);
    problems.push(...m.problems);
    raws.push(...m.raws);
    mainEnv = m.env;
    files.push(opts.mainFile);
  }
  for (const confDir of typeof opts.confDir === 'string' ? [opts.confDir] : (opts.confDir ?? [])) {
    if (!fs.existsSync(confDir)) problems.push({ severity: 'warning', file: confDir, message: 'conf.d folder does not exist' });
    for (const file of listConfFiles(confDir)) {
      files.push(file);
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (e) {
        problems.push({ severity: 'error', file, message: `cannot read: ${(e as Error).message}` });
        continue;
      }
      try {
        const doc = parseToml(text) as Record<string, unknown>;
        unknownTables(doc, file, text, problems);
        raws.push(...rawInstances(doc, file, text, problems));
      } catch (e) {
        problems.push(tomlProblem(file, e));
      }
    }
  }
  const extra = opts.env.ENV_DATAKIT_INPUTS;
  if (extra && extra.trim() !== '') {
    try {
      const doc = parseToml(extra) as Record<string, unknown>;
      unknownTables(doc, 'ENV_DATAKIT_INPUTS', extra, problems);
      raws.push(...rawInstances(doc, 'ENV_DATAKIT_INPUTS', extra, problems));
    } catch (e) {
      problems.push(tomlProblem('ENV_DATAKIT_INPUTS', e));
    }
  }

  const instances: InstanceConfig[] = [];
  const counts = new Map<string, number>();
  const add = (def: InputDefinition, config: unknown, source: string) => {
    const n = counts.get(def.name) ?? 0;
    counts.set(def.name, n + 1);
    instances.push({ def, config, source, instance: n, key: `${def.name}:${canonical(config)}` });
  };

  /** An input's options from agent-wide variables, or undefined (each problem reported) when one of them is bad. */
  const agentWideOptions = (def: InputDefinition): Record<string, unknown> | undefined => {
    const { table, issues } = agentEnvOptions(def, opts.env);
    for (const is of issues) problems.push({ severity: 'error', file: 'environment', key: is.key, message: is.message });
    return issues.length > 0 ? undefined : table;
  };

  for (const r of raws) {
    const def = opts.registry.find((d) => d.name === r.name);
    if (!def) {
      problems.push({ severity: 'warning', file: r.file, line: locate(r.text, r.name, r.nth), key: `inputs.${r.name}`, message: 'unknown input: skipped' });
      continue;
    }
    if (def.singleton && (counts.get(def.name) ?? 0) > 0) {
      problems.push({ severity: 'error', file: r.file, line: locate(r.text, r.name, r.nth), key: `inputs.${r.name}`, message: `[inputs.${r.name}] may appear only once` });
      continue;
    }
    const agentWide = agentWideOptions(def);
    if (agentWide === undefined) continue;
    const table = typeof r.table === 'object' && r.table !== null && !Array.isArray(r.table) ? { ...agentWide, ...(r.table as Record<string, unknown>) } : r.table;
    const v = validate(def.schema, table);
    if (!v.ok) {
      for (const is of v.issues) problems.push(issueProblem(r, is));
      continue;
    }
    add(def, v.value, r.file);
  }

  for (const name of opts.defaultEnabled) {
    const def = opts.registry.find((d) => d.name === name);
    if (!def) {
      problems.push({ severity: 'warning', file: 'ENV_DEFAULT_ENABLED_INPUTS', key: name, message: 'unknown input: skipped' });
      continue;
    }
    if ((counts.get(name) ?? 0) > 0) continue; // conf.d configures it already
    const agentWide = agentWideOptions(def);
    if (agentWide === undefined) continue;
    const { table, issues } = envOverrides(def, opts.env);
    const v = validate(def.schema, { ...agentWide, ...table });
    const all = [...issues, ...(v.ok ? [] : v.issues)];
    if (all.length > 0) {
      for (const is of all) problems.push({ severity: 'error', file: 'environment', key: envName(def.envName ?? name, is.key), message: is.message });
      continue;
    }
    if (v.ok) add(def, v.value, 'ENV_DEFAULT_ENABLED_INPUTS');
  }
  const cap = opts.maxInstancesPerInput ?? DEFAULT_MAX_INSTANCES;
  for (const [name, n] of counts) {
    if (n <= cap) continue;
    const over = instances.filter((i) => i.def.name === name)[cap]!;
    problems.push({ severity: 'error', file: over.source, key: `inputs.${name}`, message: `${n} instances, more than ENV_MAX_INPUT_INSTANCES (${cap})` });
  }
  return { instances, problems, mainEnv, files };
}

/** Instances of one input at most, unless ENV_MAX_INPUT_INSTANCES says otherwise. */
export const DEFAULT_MAX_INSTANCES = 64;

/** A conf.d file holds `[[inputs.<name>]]` tables: anything else at the top is a mistake worth a warning (DataKit ignores it). */
function unknownTables(doc: Record<string, unknown>, file: string, text: string, problems: ConfigProblem[]): void {
  for (const k of Object.keys(doc)) {
    if (k === 'inputs') continue;
    const esc = k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const i = text.split('\n').findIndex((l) => new RegExp(`^\\s*(\\[\\[?\\s*["']?${esc}["']?\\s*[.\\]]|["']?${esc}["']?\\s*=)`).test(l));
    problems.push({ severity: 'warning', file, line: i >= 0 ? i + 1 : undefined, key: k, message: 'unknown top-level table or key: ignored (conf.d files hold [[inputs.<name>]] tables)' });
  }
}

function issueProblem(r: RawInstance, is: Issue): ConfigProblem {
  const key = `inputs.${r.name}${Array.isArray(r.table) ? '' : ''}[${r.nth}]${is.key ? `.${is.key}` : ''}`;
  return { severity: 'error', file: r.file, line: locate(r.text, r.name, r.nth, is.key), key, message: is.message };
}

function envName(input: string, key: string): string {
  return `ENV_INPUT_${input.toUpperCase()}_${key.split('.')[0]!.replace(/\[\d+\]/g, '').toUpperCase()}`;
}

/**
 * The options an input's agent-wide variables set (InputDefinition.agentEnv),
 * typed through the schema; an instance's own option wins over them.
 */
export function agentEnvOptions(def: InputDefinition, env: Env): { table: Record<string, unknown>; issues: Issue[] } {
  const table: Record<string, unknown> = {};
  const issues: Issue[] = [];
  for (const a of def.agentEnv ?? []) {
    const v = env[a.env];
    const field = def.schema.shape?.[a.option];
    if (v === undefined || v.trim() === '' || !field) continue;
    const found: Issue[] = [];
    const x = field.fromEnv(v, a.option, found);
    for (const is of found) issues.push({ key: a.env, message: is.message });
    if (x !== undefined && found.length === 0) table[a.option] = x;
  }
  return { table, issues };
}

/** Builds an input table from `ENV_INPUT_<NAME>_<OPTION>` variables, typed through the schema. */
export function envOverrides(def: InputDefinition, env: Env): { table: Record<string, unknown>; issues: Issue[] } {
  const table: Record<string, unknown> = {};
  const issues: Issue[] = [];
  const prefix = `ENV_INPUT_${(def.envName ?? def.name).toUpperCase()}_`;
  const shape = def.schema.shape ?? {};
  // Env names are upper case; options may be camelCase (zipkin's pathV1): match case-insensitively.
  const byLower = new Map(Object.keys(shape).map((k) => [k.toLowerCase(), k]));
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith(prefix) || v === undefined) continue;
    const opt = byLower.get(k.slice(prefix.length).toLowerCase());
    if (opt === undefined) {
      issues.push({ key: k.slice(prefix.length).toLowerCase(), message: 'unknown option' });
      continue;
    }
    const x = shape[opt]!.fromEnv(v, opt, issues);
    if (x !== undefined) table[opt] = x;
  }
  return { table, issues };
}
