/**
 * Agent-level settings from the environment (DataKit's ENV_* names) and the
 * optional main TOML file. Environment wins over the file. Every name the core
 * reads is listed in {@link CORE_ENV} (the deploy test checks the DaemonSet
 * against the agent's list).
 */
import os from 'node:os';
import { parseDuration } from './schema.js';
import { redactUrl } from '../telemetry/redact.js';

export interface EnvDoc {
  name: string;
  default: string;
  doc: string;
}

/** Every ENV_ variable the core reads, with its default and meaning (README table). */
export const CORE_ENV: readonly EnvDoc[] = [
  { name: 'ENV_DATAWAY', default: '(none: files under <data dir>/out/)', doc: 'Dataway URL(s) with `?token=`, comma-separated; every URL receives every batch.' },
  { name: 'ENV_DATAWAY_CONTENT_ENCODING', default: 'v1', doc: 'Body encoding: `v1` line protocol or `v2` protobuf points.' },
  { name: 'ENV_DATAWAY_TIMEOUT', default: '30s', doc: 'Timeout of one dataway request.' },
  { name: 'ENV_DATAWAY_MAX_RETRY_COUNT', default: '8', doc: 'Attempts per batch before it goes to the disk buffer.' },
  { name: 'ENV_DATAWAY_RETRY_DELAY', default: '1s', doc: 'First retry delay; doubles per attempt with jitter, capped at 30s.' },
  { name: 'ENV_DATAWAY_MAX_RAW_BODY_SIZE', default: '1048576', doc: 'Max bytes of one body before gzip; larger batches are split.' },
  { name: 'ENV_DATAWAY_GZIP_LEVEL', default: '3', doc: 'gzip level of dataway bodies (1 fastest, 9 smallest).' },
  { name: 'ENV_DATAWAY_GZIP_LEVEL_BUSY', default: '2', doc: 'gzip level while the agent uses over 60 % of its CPU (its limit, or the cores it may run on), if lower than ENV_DATAWAY_GZIP_LEVEL: bursts go faster for ~6–15 % more bytes while it lasts; set it to ENV_DATAWAY_GZIP_LEVEL for one level.' },
  { name: 'ENV_DATAWAY_MAX_CONNECTIONS', default: '4', doc: 'Concurrent requests per dataway.' },
  { name: 'ENV_GLOBAL_HOST_TAGS', default: 'host=__datakit_hostname', doc: 'Tags added to every point: `k=v,k=v`; `__datakit_hostname`/`$datakit_hostname` and `__datakit_ip`/`$datakit_ip` are replaced.' },
  { name: 'ENV_GLOBAL_TAGS', default: '', doc: 'Old name of ENV_GLOBAL_HOST_TAGS.' },
  { name: 'ENV_GLOBAL_ELECTION_TAGS', default: '(host tags when election is off)', doc: 'Tags added to points of cluster-level (election) inputs.' },
  { name: 'ENV_GLOBAL_ENV_TAGS', default: '', doc: 'Old name of ENV_GLOBAL_ELECTION_TAGS.' },
  { name: 'ENV_CLUSTER_NAME_K8S', default: '', doc: 'Adds `cluster_name_k8s=<value>` to the host and election tags.' },
  { name: 'ENV_NAMESPACE', default: 'default', doc: 'Election scope (one leader per value); the Lease, in the agent\'s own namespace, is named after it.' },
  { name: 'ENV_ENABLE_ELECTION', default: '', doc: 'Any non-empty value turns on Lease election for cluster-level inputs.' },
  { name: 'ENV_DEFAULT_ENABLED_INPUTS', default: '', doc: 'Inputs started with defaults when conf.d has none: names separated by `,` or spaces; `-` none; `-name` removes one.' },
  { name: 'ENV_DATAKIT_INPUTS', default: '', doc: 'Raw TOML with extra `[[inputs.X]]` tables.' },
  { name: 'ENV_HTTP_LISTEN', default: '0.0.0.0:9529', doc: 'Address of the HTTP server (HTTP inputs, /v1/ping, /metrics, /v1/write).' },
  { name: 'ENV_HTTP_BODY_LIMIT', default: '33554432', doc: 'Largest accepted request body in bytes (after decompression); routes may set less (gitlab 16 MiB, ddtrace stats 4 MiB, trace inputs `max_trace_body_mb`). A larger declared Content-Length is answered 413 before the body is read.' },
  { name: 'ENV_HTTP_TIMEOUT', default: '30s', doc: 'A request (headers and body) must arrive within this, else 408 and the connection is closed; idle keep-alive connections are closed after it too (as DataKit with `ENV_HTTP_CLOSE_IDLE_CONNECTION`).' },
  { name: 'ENV_HTTP_HEADER_TIMEOUT', default: '10s', doc: 'A request\'s headers must arrive within this (at most ENV_HTTP_TIMEOUT).' },
  { name: 'ENV_HTTP_MAX_BODY_BYTES_IN_FLIGHT', default: '(2 × ENV_HTTP_BODY_LIMIT: 64 MiB)', doc: 'Request body bytes held at once across all connections (declared Content-Length reserved before reading, chunked and inflated bytes as they come); beyond it 503 + Retry-After without reading the body. Bodies over 1 MiB share 3/4 of it, so small writes keep being accepted.' },
  { name: 'ENV_HOSTNAME', default: '(node name, else os.hostname())', doc: 'The agent\'s hostname (the `host` tag).' },
  { name: 'ENV_K8S_NODE_NAME', default: '', doc: 'This node\'s name (from spec.nodeName): the host name and the pod discovery filter.' },
  { name: 'ENV_K8S_NODE_IP', default: '(first non-internal IPv4)', doc: 'This node\'s IP (from status.hostIP).' },
  { name: 'ENV_LOG_LEVEL', default: 'info', doc: 'debug, info, warn or error.' },
  { name: 'ENV_CONF_DIR', default: './conf.d', doc: 'The conf.d folder (also `--conf-dir`).' },
  { name: 'ENV_DATA_DIR', default: './data', doc: 'Data folder: default sink files, checkpoints, disk buffer (also `--data-dir`).' },
  { name: 'ENV_MAIN_CONF', default: '', doc: 'Optional main TOML file (also `--config`).' },
  { name: 'ENV_IO_FLUSH_INTERVAL', default: '10s', doc: 'A category\'s batch is sent at least this often.' },
  { name: 'ENV_IO_MAX_CACHE_COUNT', default: '1000', doc: 'A category\'s batch is sent when it holds this many points.' },
  { name: 'ENV_IO_QUEUE_CAPACITY', default: '100000', doc: 'Points per category queued or in flight before producers wait or drop.' },
  { name: 'ENV_IO_QUEUE_MAX_BYTES', default: '33554432', doc: 'Estimated bytes of points per category queued or in flight before producers wait or drop (bounds memory for large log and trace points).' },
  { name: 'ENV_SHUTDOWN_TIMEOUT', default: '10s', doc: 'How long SIGTERM waits for queues to flush; then sends in flight are aborted, what is unsent is spilled to the disk buffer (replayed on the next start) and the agent exits (a second SIGTERM: at once). Keep the pod\'s terminationGracePeriodSeconds at least 2 s longer.' },
  { name: 'ENV_MAX_INPUT_INSTANCES', default: '64', doc: 'Most instances of one input (`[[inputs.X]]` tables); more is a configuration error.' },
  { name: 'ENV_OTLP_TRACES_ENDPOINT', default: '', doc: 'When set, tracing points are also forwarded to this OTLP/HTTP traces endpoint (e.g. http://tempo:4318/v1/traces).' },
  { name: 'ENV_OTLP_TRACES_HEADERS', default: '', doc: 'Extra headers for the OTLP endpoint: `k=v,k2=v2` (e.g. an authorization header).' },
  { name: 'ENV_OTLP_TRACES_TIMEOUT', default: '10s', doc: 'Timeout of one OTLP export.' },
  // The disk buffer's and the memory guard's names are documented beside their readers
  // (BUFFER_ENV, MEMORY_ENV); cli/env-all.ts gathers every list.
];

export interface AgentSettings {
  dataways: string[];
  contentEncoding: 'v1' | 'v2';
  datawayTimeoutMs: number;
  maxRetry: number;
  retryDelayMs: number;
  maxRawBodySize: number;
  gzipLevel: number;
  busyGzipLevel: number;
  maxConnections: number;
  hostTags: Record<string, string>;
  electionTags: Record<string, string>;
  namespace: string;
  enableElection: boolean;
  defaultEnabledInputs: string[];
  datakitInputs: string;
  httpListen: { host: string; port: number };
  httpBodyLimit: number;
  httpTimeoutMs: number;
  httpHeaderTimeoutMs: number;
  httpBodyBudget: number;
  hostname: string;
  nodeName: string;
  nodeIp: string;
  logLevel: string;
  flushIntervalMs: number;
  maxCacheCount: number;
  queueCapacity: number;
  queueMaxBytes: number;
  shutdownTimeoutMs: number;
  maxInputInstances: number;
  otlpTracesEndpoint: string;
  otlpTracesHeaders: Record<string, string>;
  otlpTracesTimeoutMs: number;
}

export type Env = Record<string, string | undefined>;

export class SettingsError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

function firstIPv4(): string {
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/** Parses `k=v,k2=v2` (DataKit's tag list syntax) and resolves the host placeholders. */
export function parseTagList(s: string, hostname: string, ip: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of s.split(',')) {
    const kv = part.trim();
    if (kv === '') continue;
    const i = kv.indexOf('=');
    if (i <= 0) continue;
    let v = kv.slice(i + 1).trim();
    if (v === '__datakit_hostname' || v === '$datakit_hostname') v = hostname;
    else if (v === '__datakit_ip' || v === '$datakit_ip') v = ip;
    out[kv.slice(0, i).trim()] = v;
  }
  return out;
}

/** Parses `host:port`, `:port` or `[::]:port`. */
export function parseListen(s: string, variable = 'ENV_HTTP_LISTEN'): { host: string; port: number } {
  const m = /^(?:\[([^\]]*)\]|([^:]*)):(\d+)$/.exec(s.trim());
  if (!m) throw new SettingsError(variable, `expected host:port, got ${JSON.stringify(s)}`);
  const port = Number(m[3]);
  if (port > 65535) throw new SettingsError(variable, `port out of range in ${JSON.stringify(s)}`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

function durationEnv(env: Env, name: string, def: string): number {
  const v = env[name]?.trim() || def;
  const ms = parseDuration(v) ?? (/^\d+$/.test(v) ? Number(v) * 1000 : undefined);
  if (ms === undefined) throw new SettingsError(name, `expected a duration such as "10s", got ${JSON.stringify(v)}`);
  return ms;
}

function intEnv(env: Env, name: string, def: number, min = 0, max = Infinity): number {
  const v = env[name]?.trim();
  if (!v) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new SettingsError(name, `expected an integer ${max === Infinity ? `>= ${min}` : `from ${min} to ${max}`}, got ${JSON.stringify(v)}`);
  return n;
}

/** Splits ENV_DEFAULT_ENABLED_INPUTS: `,` or spaces; `-` alone means none; `-name` removes. */
export function parseEnabledInputs(s: string | undefined): string[] {
  const names = (s ?? '').split(/[\s,]+/).filter((x) => x !== '');
  if (names.includes('-')) return [];
  const removed = new Set(names.filter((n) => n.startsWith('-')).map((n) => n.slice(1)));
  return [...new Set(names.filter((n) => !n.startsWith('-') && !removed.has(n)))];
}

/** Reads the agent settings from the environment; throws SettingsError on a bad value. */
export function readSettings(env: Env): AgentSettings {
  const nodeName = env.ENV_K8S_NODE_NAME?.trim() ?? '';
  const hostname = env.ENV_HOSTNAME?.trim() || nodeName || os.hostname();
  const nodeIp = env.ENV_K8S_NODE_IP?.trim() || firstIPv4();
  const hostTagText = env.ENV_GLOBAL_HOST_TAGS ?? env.ENV_GLOBAL_TAGS ?? '';
  const hostTags = parseTagList(hostTagText, hostname, nodeIp);
  const cluster = env.ENV_CLUSTER_NAME_K8S?.trim();
  if (cluster) hostTags.cluster_name_k8s ??= cluster;
  // `host` is always the agent's hostname (DataKit does the same).
  hostTags.host = hostname;
  const enableElection = (env.ENV_ENABLE_ELECTION ?? '') !== '';
  const electionText = env.ENV_GLOBAL_ELECTION_TAGS ?? env.ENV_GLOBAL_ENV_TAGS;
  let electionTags: Record<string, string>;
  if (!enableElection || electionText === undefined) electionTags = { ...hostTags };
  else {
    electionTags = parseTagList(electionText, hostname, nodeIp);
    if (cluster) electionTags.cluster_name_k8s ??= cluster;
  }
  const enc = (env.ENV_DATAWAY_CONTENT_ENCODING?.trim() || 'v1').toLowerCase();
  if (enc !== 'v1' && enc !== 'v2') throw new SettingsError('ENV_DATAWAY_CONTENT_ENCODING', `expected v1 or v2, got ${JSON.stringify(enc)}`);
  const dataways = (env.ENV_DATAWAY ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const d of dataways) {
    let u: URL;
    try {
      u = new URL(d);
    } catch {
      throw new SettingsError('ENV_DATAWAY', `not a URL: ${redactUrl(d)}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new SettingsError('ENV_DATAWAY', `expected http(s) URL, got ${redactUrl(d)}`);
  }
  const httpBodyLimit = intEnv(env, 'ENV_HTTP_BODY_LIMIT', 32 << 20, 1024);
  const httpTimeoutMs = durationEnv(env, 'ENV_HTTP_TIMEOUT', '30s');
  if (httpTimeoutMs < 100) throw new SettingsError('ENV_HTTP_TIMEOUT', 'expected at least 100ms');
  // Large bodies may use 3/4 of the budget: it must hold at least one body of the largest size.
  const httpBodyBudget = intEnv(env, 'ENV_HTTP_MAX_BODY_BYTES_IN_FLIGHT', 2 * httpBodyLimit, Math.ceil((httpBodyLimit * 4) / 3));
  return {
    dataways,
    contentEncoding: enc,
    datawayTimeoutMs: durationEnv(env, 'ENV_DATAWAY_TIMEOUT', '30s'),
    maxRetry: intEnv(env, 'ENV_DATAWAY_MAX_RETRY_COUNT', 8, 1),
    retryDelayMs: durationEnv(env, 'ENV_DATAWAY_RETRY_DELAY', '1s'),
    maxRawBodySize: intEnv(env, 'ENV_DATAWAY_MAX_RAW_BODY_SIZE', 1 << 20, 1024),
    gzipLevel: intEnv(env, 'ENV_DATAWAY_GZIP_LEVEL', 3, 0, 9),
    busyGzipLevel: intEnv(env, 'ENV_DATAWAY_GZIP_LEVEL_BUSY', 2, 0, 9),
    maxConnections: intEnv(env, 'ENV_DATAWAY_MAX_CONNECTIONS', 4, 1),
    hostTags,
    electionTags,
    namespace: env.ENV_NAMESPACE?.trim() || 'default',
    enableElection,
    defaultEnabledInputs: parseEnabledInputs(env.ENV_DEFAULT_ENABLED_INPUTS),
    datakitInputs: env.ENV_DATAKIT_INPUTS ?? '',
    httpListen: parseListen(env.ENV_HTTP_LISTEN?.trim() || '0.0.0.0:9529'),
    httpBodyLimit,
    httpTimeoutMs,
    httpHeaderTimeoutMs: Math.min(httpTimeoutMs, durationEnv(env, 'ENV_HTTP_HEADER_TIMEOUT', '10s')),
    httpBodyBudget,
    hostname,
    nodeName,
    nodeIp,
    logLevel: env.ENV_LOG_LEVEL?.trim().toLowerCase() || 'info',
    flushIntervalMs: durationEnv(env, 'ENV_IO_FLUSH_INTERVAL', '10s'),
    maxCacheCount: intEnv(env, 'ENV_IO_MAX_CACHE_COUNT', 1000, 1),
    queueCapacity: intEnv(env, 'ENV_IO_QUEUE_CAPACITY', 100_000, 1),
    queueMaxBytes: intEnv(env, 'ENV_IO_QUEUE_MAX_BYTES', 32 << 20, 1024),
    shutdownTimeoutMs: durationEnv(env, 'ENV_SHUTDOWN_TIMEOUT', '10s'),
    maxInputInstances: intEnv(env, 'ENV_MAX_INPUT_INSTANCES', 64, 1),
    otlpTracesEndpoint: env.ENV_OTLP_TRACES_ENDPOINT?.trim() ?? '',
    otlpTracesHeaders: parseTagList(env.ENV_OTLP_TRACES_HEADERS ?? '', hostname, nodeIp),
    otlpTracesTimeoutMs: durationEnv(env, 'ENV_OTLP_TRACES_TIMEOUT', '10s'),
  };
}

/** One shared redaction for every URL the agent prints (agent/telemetry/redact.ts). */
export { redactUrl } from '../telemetry/redact.js';
