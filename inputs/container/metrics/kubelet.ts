/**
 * The kubelet Summary API (`GET /stats/summary`, statsapi v1alpha1) and a
 * small client for it. Only the fields telekit reads are typed; every field is
 * optional because the kubelet omits what it has not measured yet.
 */
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'undici';

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

export class KubeletClient {
  private readonly dispatcher: Agent;
  private token: { value: string | undefined; readAt: number } | undefined;

  constructor(private readonly opts: KubeletClientOptions) {
    this.dispatcher = new Agent({
      connect: { rejectUnauthorized: opts.tlsVerify ?? false },
      keepAliveTimeout: 120_000,
      connections: 2,
    });
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
    const timeout = AbortSignal.timeout(this.opts.timeoutMs ?? 10_000);
    let res;
    try {
      res = await request(url, {
        dispatcher: this.dispatcher,
        headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (e) {
      throw new ScrapeError('connect', `kubelet ${url}: ${(e as Error).message}`);
    }
    if (res.statusCode !== 200) {
      const text = (await res.body.text().catch(() => '')).slice(0, 200);
      throw new ScrapeError('http_status', `kubelet ${url} answered ${res.statusCode}: ${text}`);
    }
    let body: unknown;
    try {
      body = await res.body.json();
    } catch (e) {
      throw new ScrapeError('decode', `kubelet ${url}: invalid JSON: ${(e as Error).message}`);
    }
    if (!isSummary(body)) throw new ScrapeError('shape', `kubelet ${url}: response is not a stats Summary`);
    return body;
  }

  async close(): Promise<void> {
    await this.dispatcher.close().catch(() => undefined);
  }
}

/** The default kubelet URL for this node: ENV_K8S_NODE_IP, else the node name, port 10250. */
export function defaultKubeletUrl(ip: string, nodeName: string): string | undefined {
  const host = ip || nodeName;
  if (!host) return undefined;
  return `https://${host.includes(':') ? `[${host}]` : host}:10250`;
}
