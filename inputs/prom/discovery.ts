/**
 * Pure functions from a pod to the prom instances it asks for (STYLE §14:
 * discovery is separate from collection):
 *
 * - `datakit/prom.instances`: TOML with one or more `[[inputs.prom]]` tables,
 *   `$IP`, `$NAMESPACE`, `$PODNAME`, `$NODENAME` replaced first (DataKit);
 * - `prometheus.io/scrape: "true"` with `/port` (required), `/path` (default
 *   `/metrics`) and `/scheme` (default `http`; DataKit ignores it).
 *
 * Only Running pods with an IP produce instances.
 */
import { parseToml } from '../../agent/config/toml.js';
import type { PodInfo } from '../../agent/services/k8s/types.js';
import { validate } from '../../agent/config/schema.js';
import { schema, type PromConfig } from './config.js';

export const ANNOTATION = 'datakit/prom.instances';

export interface PodInstance {
  /** Stable id: `<namespace>/<pod>#<index>`. */
  key: string;
  config: PromConfig;
  /** Tags for every point: the pod's tags, then the instance's `[inputs.prom.tags]`. */
  tags: Record<string, string>;
  /** A canonical form of the instance: a changed fingerprint means reconfigure. */
  fingerprint: string;
}

export type PodInstancesResult = { instances: PodInstance[]; errors: string[] };

/** The tags every point scraped from a pod carries. */
export function podTags(pod: PodInfo): Record<string, string> {
  const t: Record<string, string> = { namespace: pod.namespace, pod_name: pod.name };
  if (pod.nodeName) t.node_name = pod.nodeName;
  if (pod.owner) t[pod.owner.kind] = pod.owner.name;
  return t;
}

export function shouldScrape(pod: PodInfo): boolean {
  return pod.phase === 'Running' && pod.ip !== '' && (pod.annotations[ANNOTATION] !== undefined || pod.annotations['prometheus.io/scrape'] === 'true');
}

/** Replaces DataKit's pod variables in annotation text. */
export function resolveVars(text: string, pod: PodInfo): string {
  return text
    .replaceAll('$IP', pod.ip)
    .replaceAll('$NAMESPACE', pod.namespace)
    .replaceAll('$PODNAME', pod.name)
    .replaceAll('$NODENAME', pod.nodeName);
}

function finish(pod: PodInfo, key: string, config: PromConfig): PodInstance {
  const tags = { ...podTags(pod), ...config.tags };
  return { key, config, tags, fingerprint: JSON.stringify([config, tags]) };
}

/** The instances of a pod's `datakit/prom.instances` annotation. */
export function annotationInstances(pod: PodInfo): PodInstancesResult {
  const raw = pod.annotations[ANNOTATION];
  if (raw === undefined || pod.phase !== 'Running' || pod.ip === '') return { instances: [], errors: [] };
  let doc: unknown;
  try {
    doc = parseToml(resolveVars(raw, pod));
  } catch (e) {
    const err = e as Error & { line?: number; column?: number };
    return { instances: [], errors: [`${ANNOTATION}: invalid TOML${err.line ? ` at line ${err.line}` : ''}: ${err.message}`] };
  }
  const tables = ((doc as { inputs?: { prom?: unknown } }).inputs?.prom ?? []) as unknown;
  const list = Array.isArray(tables) ? tables : [tables];
  const instances: PodInstance[] = [];
  const errors: string[] = [];
  if (list.length === 0) errors.push(`${ANNOTATION}: no [[inputs.prom]] table`);
  list.forEach((t, i) => {
    const src = { source: `${pod.namespace}/${pod.name}`, ...(t as Record<string, unknown>) };
    const r = validate(schema, src);
    if (!r.ok) {
      errors.push(`${ANNOTATION} [[inputs.prom]] #${i + 1}: ${r.issues.map((x) => `${x.key}: ${x.message}`).join('; ')}`);
      return;
    }
    instances.push(finish(pod, `${pod.namespace}/${pod.name}#${i}`, r.value));
  });
  return { instances, errors };
}

/** The instance of a pod's `prometheus.io/*` annotations, when opted in. */
export function prometheusInstances(pod: PodInfo): PodInstancesResult {
  const a = pod.annotations;
  if (a['prometheus.io/scrape'] !== 'true' || pod.phase !== 'Running' || pod.ip === '') return { instances: [], errors: [] };
  const port = Number(a['prometheus.io/port']);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return { instances: [], errors: ['prometheus.io/port: missing or not a port number'] };
  const scheme = (a['prometheus.io/scheme'] ?? 'http').toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') return { instances: [], errors: [`prometheus.io/scheme: unsupported ${JSON.stringify(scheme)}`] };
  let p = a['prometheus.io/path'] ?? '/metrics';
  if (!p.startsWith('/')) p = `/${p}`;
  const host = pod.ip.includes(':') ? `[${pod.ip}]` : pod.ip;
  const r = validate(schema, { urls: [`${scheme}://${host}:${port}${p}`], source: `${pod.namespace}/${pod.name}` });
  if (!r.ok) return { instances: [], errors: r.issues.map((x) => x.message) };
  return { instances: [finish(pod, `${pod.namespace}/${pod.name}#prometheus.io`, r.value)], errors: [] };
}
