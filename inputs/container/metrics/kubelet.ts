/**
 * The kubelet Summary API (`GET /stats/summary`, statsapi v1alpha1) and a
 * small client for it. Only the fields telekit reads are typed; every field is
 * optional because the kubelet omits what it has not measured yet.
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

export interface CpuStats {
  time?: string;
  usageNanoCores?: number;
  usageCoreNanoSeconds?: number;
}

export interface MemoryStats {
  time?: string;
  availableBytes?: number;
  usageBytes?: number;
  workingSetBytes?: number;
  rssBytes?: number;
  pageFaults?: number;
  majorPageFaults?: number;
}

export interface FsStats {
  time?: string;
  availableBytes?: number;
  capacityBytes?: number;
  usedBytes?: number;
  inodesFree?: number;
  inodes?: number;
  inodesUsed?: number;
}

export interface InterfaceStats {
  name?: string;
  rxBytes?: number;
  rxErrors?: number;
  txBytes?: number;
  txErrors?: number;
}

export interface NetworkStats extends InterfaceStats {
  time?: string;
  interfaces?: InterfaceStats[];
}

export interface ContainerStats {
  name: string;
  startTime?: string;
  cpu?: CpuStats;
  memory?: MemoryStats;
  rootfs?: FsStats;
  logs?: FsStats;
}

export interface PodStats {
  podRef: { name: string; namespace: string; uid: string };
  startTime?: string;
  containers?: ContainerStats[];
  cpu?: CpuStats;
  memory?: MemoryStats;
  network?: NetworkStats;
  volume?: (FsStats & { name?: string })[];
  'ephemeral-storage'?: FsStats;
}

export interface NodeStats {
  nodeName?: string;
  startTime?: string;
  cpu?: CpuStats;
  memory?: MemoryStats;
  network?: NetworkStats;
  fs?: FsStats;
}

export interface Summary {
  node?: NodeStats;
  pods?: PodStats[];
}

/** Checks the outer shape (node object, pods array with podRef) so conversion can trust it. */
export function isSummary(v: unknown): v is Summary {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const s = v as { pods?: unknown; node?: unknown };
  if (s.node !== undefined && (typeof s.node !== 'object' || s.node === null)) return false;
  if (s.pods === undefined) return true;
  if (!Array.isArray(s.pods)) return false;
  return s.pods.every((p: unknown) => {
    const ref = (p as { podRef?: { name?: unknown; namespace?: unknown; uid?: unknown } } | null)?.podRef;
    return typeof ref === 'object' && ref !== null && typeof ref.name === 'string' && typeof ref.namespace === 'string' && typeof ref.uid === 'string';
  });
}

/** A Summary larger than this is refused (110 pods make ~256 KiB). */
const MAX_SUMMARY_BYTES = 64 * 1024 * 1024;

/**
 * `GET url` over node:http(s): the answer's status and body text, at most
 * {@link MAX_SUMMARY_BYTES}. Connection and timeout failures throw
 * ScrapeError('connect') with `what` in the message.
 */
function getText(url: URL, opts: https.RequestOptions, timeoutMs: number, what: string, signal?: AbortSignal): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).request(url, { ...opts, method: 'GET', headers: { ...opts.headers, accept: 'application/json' }, timeout: timeoutMs, signal }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_SUMMARY_BYTES) req.destroy(new ScrapeError('decode', `${what}: answer larger than ${MAX_SUMMARY_BYTES} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (e) => reject(e instanceof ScrapeError ? e : new ScrapeError('connect', `${what}: ${e.message}`)));
    });
    req.on('timeout', () => req.destroy(new ScrapeError('connect', `${what}: timed out after ${timeoutMs} ms`)));
    req.on('error', (e) => reject(e instanceof ScrapeError ? e : new ScrapeError('connect', `${what}: ${e.message}`)));
    req.end();
  });
}

export const SA_TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export interface KubeletClientOptions {
  /** Base URL, e.g. `https://10.0.0.5:10250`. */
  url: string;
  /** Bearer token file (re-read at most once a minute: projected tokens rotate). */
  tokenFile?: string;
  /** Verify the kubelet's serving certificate (kubelets often use self-signed ones). */
  tlsVerify?: boolean;
  timeoutMs?: number;
}

/** Error kinds for counters: bounded set. */
export type ScrapeErrorKind = 'connect' | 'http_status' | 'decode' | 'shape';

export class ScrapeError extends Error {
  constructor(
    readonly kind: ScrapeErrorKind,
    message: string,
  ) {
    super(message);
  }
}

export class KubeletClient implements SummarySource {
  readonly describe: string;
  private readonly agent: https.Agent | http.Agent;
  private token: { value: string | undefined; readAt: number } | undefined;

  constructor(private readonly opts: KubeletClientOptions) {
    this.describe = opts.url;
    const agentOpts = { keepAlive: true, timeout: 120_000, maxSockets: 2 };
    this.agent = opts.url.startsWith('https:') ? new https.Agent({ ...agentOpts, rejectUnauthorized: opts.tlsVerify ?? false }) : new http.Agent(agentOpts);
  }

  private async bearer(): Promise<string | undefined> {
    const file = this.opts.tokenFile;
    if (!file) return undefined;
    const now = Date.now();
    if (this.token && now - this.token.readAt < 60_000) return this.token.value;
    let value: string | undefined;
    try {
      value = (await readFile(file, 'utf8')).trim() || undefined;
    } catch {
      value = undefined; // outside a pod: no token
    }
    this.token = { value, readAt: now };
    return value;
  }

  /** Fetches and shape-checks one Summary. Throws {@link ScrapeError}. */
  async summary(signal?: AbortSignal): Promise<Summary> {
    const token = await this.bearer();
    const url = this.opts.url.replace(/\/+$/, '') + '/stats/summary';
    const timeoutMs = this.opts.timeoutMs ?? 10_000;
    const deadline = AbortSignal.timeout(timeoutMs); // the whole exchange, not only silences
    const res = await getText(new URL(url), { agent: this.agent, headers: token ? { authorization: `Bearer ${token}` } : {} }, timeoutMs, `kubelet ${url}`, signal ? AbortSignal.any([signal, deadline]) : deadline);
    if (res.status !== 200) throw new ScrapeError('http_status', `kubelet ${url} answered ${res.status}: ${res.text.slice(0, 200)}`);
    let body: unknown;
    try {
      body = JSON.parse(res.text);
    } catch (e) {
      throw new ScrapeError('decode', `kubelet ${url}: invalid JSON: ${(e as Error).message}`);
    }
    if (!isSummary(body)) throw new ScrapeError('shape', `kubelet ${url}: response is not a stats Summary`);
    return body;
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}

/** The default kubelet URL for this node: ENV_K8S_NODE_IP, else the node name, port 10250. */
export function defaultKubeletUrl(ip: string, nodeName: string): string | undefined {
  const host = ip || nodeName;
  if (!host) return undefined;
  return `https://${host.includes(':') ? `[${host}]` : host}:10250`;
}

/** Where Summaries come from: the kubelet directly, or through the API server's node proxy. */
export interface SummarySource {
  /** For logs: the URL or `apiserver proxy to <node>`. */
  readonly describe: string;
  summary(signal?: AbortSignal): Promise<Summary>;
  close(): Promise<void>;
}

/**
 * `GET /api/v1/nodes/<node>/proxy/stats/summary` on the API server (RBAC
 * `get nodes/proxy`): for clusters where pods cannot reach the kubelet port,
 * with the API server's verified TLS and the KubeConfig's credentials.
 */
export class ApiServerProxySource implements SummarySource {
  readonly describe: string;

  constructor(
    private readonly kc: KubeConfig,
    private readonly nodeName: string,
    private readonly timeoutMs = 10_000,
  ) {
    this.describe = `apiserver proxy to node ${nodeName}`;
  }

  async summary(signal?: AbortSignal): Promise<Summary> {
    const server = this.kc.getCurrentCluster()?.server;
    if (!server) throw new ScrapeError('connect', `${this.describe}: the kubeconfig has no server`);
    const url = new URL(`${server.replace(/\/+$/, '')}/api/v1/nodes/${encodeURIComponent(this.nodeName)}/proxy/stats/summary`);
    const opts: https.RequestOptions = {};
    await this.kc.applyToHTTPSOptions(opts);
    const res = await getText(url, opts, this.timeoutMs, this.describe, signal);
    if (res.status !== 200) throw new ScrapeError('http_status', `${this.describe} answered ${res.status}: ${res.text.slice(0, 200)}`);
    const text = res.text;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (e) {
      throw new ScrapeError('decode', `${this.describe}: invalid JSON: ${(e as Error).message}`);
    }
    if (!isSummary(body)) throw new ScrapeError('shape', `${this.describe}: response is not a stats Summary`);
    return body;
  }

  async close(): Promise<void> {}
}
