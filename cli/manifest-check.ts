/**
 * `telekit check-config --from-manifest datakit.yaml`: the migration check.
 * Reads a DataKit DaemonSet manifest (multi-document YAML) and reports, for
 * every env var, volume mount, port, input (from ENV_DEFAULT_ENABLED_INPUTS and
 * the ConfigMap confs it mounts), annotation-driven feature and RBAC need,
 * whether telekit honours it as it is and what to change where it does not.
 * Nothing is left unreported: an item this table does not know is reported
 * as unknown.
 */
import path from 'node:path';
import { loadAll } from 'js-yaml';
import { parseToml } from '../agent/config/toml.js';
import { validate } from '../agent/config/schema.js';
import type { InputDefinition } from '../agent/input/contract.js';
import { agentEnvNames } from './env-all.js';
import { DATAKIT_DIR } from './datakit-paths.js';

/**
 * `ok`: honoured as it is. `change`: works after the change the note says.
 * `unused`: not read by telekit; harmless, may be removed. `missing`: a DataKit
 * feature telekit does not have; the note says what telekit does instead.
 * `error`: the manifest's configuration is invalid for telekit.
 */
export type Status = 'ok' | 'change' | 'unused' | 'missing' | 'error';

export interface Finding {
  status: Status;
  /** env, mount, port, input, annotation, rbac, object, container, pod. */
  kind: string;
  name: string;
  note: string;
}

type Obj = { apiVersion?: string; kind?: string; metadata?: { name?: string; namespace?: string; annotations?: Record<string, string> }; [k: string]: any };

const TELEKIT_CONF = '/usr/local/telekit/conf.d';

/** DataKit env vars telekit does not read, with what to do instead. */
const ENV_NOTES: Record<string, [Status, string]> = {
  POD_NAME: ['unused', 'not read by telekit (harmless)'],
  HOST_VAR: ['unused', 'not read: telekit finds host paths under HOST_ROOT (harmless)'],
  HOST_RUN: ['unused', 'not read: telekit finds host paths under HOST_ROOT (harmless)'],
  HOST_DEV: ['unused', 'not read: telekit finds host paths under HOST_ROOT (harmless)'],
  ENV_K8S_CLUSTER_NODE_NAME: ['missing', 'not read: the host tag is ENV_HOSTNAME, else ENV_K8S_NODE_NAME; set ENV_HOSTNAME to the value you want'],
  ENV_IPDB: ['missing', 'no IP geolocation database in telekit: remove it'],
  ENV_GIT_URL: ['missing', 'no git-synced configuration in telekit: mount the confs from a ConfigMap instead'],
  ENV_GIT_BRANCH: ['missing', 'no git-synced configuration in telekit: mount the confs from a ConfigMap instead'],
  ENV_GIT_INTERVAL: ['missing', 'no git-synced configuration in telekit: mount the confs from a ConfigMap instead'],
  ENV_REMOTE_JOB_ENABLE: ['missing', 'no remote jobs in telekit: remove it'],
  ENV_REMOTE_JOB_ENVS: ['missing', 'no remote jobs in telekit: remove it'],
  ENV_REMOTE_JOB_INTERVAL: ['missing', 'no remote jobs in telekit: remove it'],
};

/** What telekit does with the env vars it reads, where more than "honoured" is worth saying. */
const ENV_OK_NOTES: Record<string, string> = {
  ENV_DATAWAY: 'dataway URL(s) with ?token=; prefer a Secret (valueFrom.secretKeyRef) over a literal token',
  ENV_GLOBAL_HOST_TAGS: '__datakit_hostname and __datakit_ip are replaced as in DataKit',
  ENV_DEFAULT_ENABLED_INPUTS: 'each input is listed below',
  ENV_HTTP_LISTEN: 'HTTP inputs (ddtrace, zipkin), /v1/write, /v1/ping, /metrics',
  HOST_PROC: 'host inputs read /proc here',
  HOST_SYS: 'host inputs read /sys here',
  HOST_ROOT: 'host inputs resolve mount points under it; the container input finds containers\' rootfs and emptyDir volumes under it',
  HOST_ETC: 'host_processes reads the host\'s passwd here',
  ENV_K8S_NODE_NAME: 'the host tag and the pod discovery filter',
  ENV_K8S_NODE_IP: 'the node IP (__datakit_ip, the kubelet address)',
};

/** DataKit inputs telekit has no input for: what it does instead. */
const INPUT_NOTES: Record<string, string> = {
  dk: 'no `dk` input: telekit\'s own metrics are served on /metrics (Prometheus format) and /v1/stats (`telekit monitor`); to send them to the dataway, scrape 127.0.0.1:9529/metrics with [[inputs.prom]]. Remove `dk` from the list (kept, it is skipped with a warning)',
  kubernetesprometheus: 'no `kubernetesprometheus` input: the container input scrapes pods annotated `datakit/prom.instances` (on by default) and `prometheus.io/scrape` (enable_auto_discovery_of_prometheus_pod_annotations = true); Service/ServiceMonitor/PodMonitor discovery needs [[inputs.prom]] entries. Remove it from the list (kept, it is skipped with a warning)',
  ebpf: 'no eBPF input in telekit: remove it',
  pythond: 'no Python inputs in telekit: remove it',
  logfwdserver: 'no logfwd server in telekit: collect the files with datakit/logs annotations instead',
};

/** Where DataKit mounts things and what telekit makes of them. */
function mountNote(mountPath: string, vol: any, env: Record<string, string>): [Status, string] {
  if (vol?.configMap) return ['ok', 'ConfigMap'];
  const host = vol?.hostPath?.path as string | undefined;
  if (mountPath === env.HOST_ROOT || (host === '/' && mountPath !== '/')) {
    return env.HOST_ROOT === mountPath ? ['ok', `the host's / for the host inputs (HOST_ROOT=${mountPath})`] : ['change', `the host's /: set HOST_ROOT=${mountPath} (and HOST_PROC, HOST_SYS) for the host inputs`];
  }
  if (mountPath === '/usr/local/datakit/cache') {
    return ['change', 'DataKit\'s cache; telekit keeps its disk buffer and log positions in ENV_DATA_DIR (/usr/local/telekit/data in the image): set ENV_DATA_DIR=/usr/local/datakit/cache to keep them on this hostPath across restarts'];
  }
  if (mountPath === '/var/run' || mountPath === '/run') return ['unused', 'container runtime sockets: telekit reads container logs from files and metrics from the kubelet, not from docker/containerd (harmless)'];
  if (mountPath.startsWith('/sys/kernel/debug')) return ['unused', 'debugfs for DataKit\'s eBPF inputs: telekit has none (may be removed)'];
  if (mountPath === '/var/lib/containerd/container_logs') return ['unused', 'not read: telekit tails the kubelet\'s /var/log/pods (see container logs below)'];
  if (mountPath === '/var/log/pods' || mountPath === '/var/log/containers' || mountPath === '/var/lib/docker/containers') return ['ok', 'container log files, tailed by the container input'];
  if (mountPath.startsWith(`${DATAKIT_DIR}/data/ipdb`)) return ['unused', 'IP database: telekit has none (may be removed)'];
  if (mountPath.startsWith(`${DATAKIT_DIR}/python.d`)) return ['missing', 'Python inputs: telekit has none'];
  if (mountPath.startsWith(`${DATAKIT_DIR}/pipeline`)) return ['ok', 'Pipeline scripts: read from here when telekit\'s own pipeline/ folder is absent (logging scripts run on container logs; see agent/services/pipeline for the functions implemented)'];
  return ['unused', `not read by telekit${host ? ` (hostPath ${host})` : ''}`];
}

const PORT_NOTES: Record<number, [Status, string]> = {
  9529: ['ok', 'HTTP: ddtrace, zipkin, /v1/write, /v1/ping, /metrics'],
  8125: ['ok', 'StatsD (UDP; telekit also listens on TCP)'],
  9533: ['missing', 'logfwd: telekit has no logfwd server; drop the port'],
};

/** Pod annotations DataKit reads on workloads, and telekit's answer. */
export const ANNOTATION_FEATURES: [string, Status, string][] = [
  ['datakit/prom.instances', 'ok', 'scraped by the container input (enable_prom_instances_annotation, on by default)'],
  ['prometheus.io/scrape', 'ok', 'scraped when the container input sets enable_auto_discovery_of_prometheus_pod_annotations = true (off by default, as in DataKit)'],
  ['datakit/logs', 'ok', 'stdout/stderr entries honoured (source, service, multiline_match, tags, disable, `pipeline`: the named script runs on the lines); entries with "type": "file" and a path glob are collected from the container\'s own files (its emptyDir volume or its root filesystem: containerd\'s task rootfs, docker\'s or CRI-O\'s overlay layer; see the feature "log files inside containers"), with the same rules; a path reaching outside that container is refused and counted'],
  ['datakit/<container>.logs', 'ok', 'per-container form of datakit/logs, honoured'],
];

const RBAC_NEEDS = [
  { group: '', resource: 'pods', verbs: ['get', 'list', 'watch'], why: 'pod discovery for logs and annotations' },
  { group: '', resource: 'nodes', verbs: ['get', 'list', 'watch'], why: 'node metrics' },
  { group: '', resource: 'nodes/stats', verbs: ['get'], why: 'the kubelet Summary API' },
];

function envOf(c: any): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of c.env ?? []) out[e.name] = e.value !== undefined ? String(e.value) : e.valueFrom ? `(${Object.keys(e.valueFrom)[0]})` : '';
  return out;
}

/** Input names of a conf's TOML (`[inputs.x]` / `[[inputs.x]]`), with validation problems. */
function confInputs(text: string, registry: readonly InputDefinition[]): { name: string; problems: string[] }[] | string {
  let doc: { inputs?: Record<string, unknown> };
  try {
    doc = parseToml(text) as typeof doc;
  } catch (e) {
    return `invalid TOML: ${(e as Error).message}`;
  }
  return Object.entries(doc.inputs ?? {}).map(([name, t]) => {
    const def = registry.find((d) => d.name === name);
    if (!def) return { name, problems: [] };
    const problems: string[] = [];
    for (const table of Array.isArray(t) ? t : [t]) {
      const v = validate(def.schema, table);
      if (!v.ok) problems.push(...v.issues.map((i) => `${i.key}: ${i.message}`));
    }
    return { name, problems };
  });
}

/** Parses the manifest text: every document that is an object. */
export function parseManifest(text: string): Obj[] {
  return loadAll(text).filter((x): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x));
}

export function checkManifest(docs: readonly Obj[], registry: readonly InputDefinition[]): Finding[] {
  const out: Finding[] = [];
  const add = (status: Status, kind: string, name: string, note: string) => out.push({ status, kind, name, note });
  const known = new Set(agentEnvNames());
  const ds = docs.find((d) => d.kind === 'DaemonSet');
  if (!ds) {
    add('error', 'object', 'DaemonSet', 'no DaemonSet in the manifest');
    return out;
  }
  const pod = ds.spec?.template?.spec ?? {};
  const containers: any[] = pod.containers ?? [];
  const c = containers.find((x) => /datakit/.test(String(x.image ?? '')) || x.name === 'datakit') ?? containers[0];
  if (!c) {
    add('error', 'container', '-', 'the DaemonSet has no container');
    return out;
  }
  const env = envOf(c);
  add('change', 'container', `image ${c.image ?? '(none)'}`, 'replace with telekit\'s image; command/args may stay unset (the image runs `telekit run`)');

  // ---- env ----
  const enabledInputs: string[] = [];
  for (const e of c.env ?? []) {
    const name = String(e.name);
    if (name === 'ENV_DEFAULT_ENABLED_INPUTS') enabledInputs.push(...String(e.value ?? '').split(/[,\s]+/).filter((x) => x !== '' && x !== '-'));
    if (ENV_NOTES[name]) {
      const [st, note] = ENV_NOTES[name];
      add(st, 'env', name, note);
    } else if (name === 'ENV_ENABLE_ELECTION') {
      add('change', 'env', name, 'election uses a Kubernetes Lease in the agent\'s namespace: grant get/create/update on coordination.k8s.io leases there (a Role and RoleBinding; DataKit\'s ClusterRole has none)');
    } else if (known.has(name)) {
      add('ok', 'env', name, ENV_OK_NOTES[name] ?? 'honoured');
    } else {
      const m = /^ENV_INPUT_([A-Z0-9_]+?)_([A-Z0-9_]+)$/.exec(name);
      const def = m ? registry.find((d) => name.startsWith(`ENV_INPUT_${d.name.toUpperCase()}_`)) : undefined;
      const opt = def ? name.slice(`ENV_INPUT_${def.name.toUpperCase()}_`.length).toLowerCase() : undefined;
      if (def && opt && def.schema.shape?.[opt]) add('ok', 'env', name, `option ${opt} of ${def.name}`);
      else add('unused', 'env', name, 'not read by telekit');
    }
  }

  // ---- mounts (and the inputs their confs hold) ----
  const vols = new Map<string, any>((pod.volumes ?? []).map((v: any) => [v.name, v]));
  const confInputsSeen: { name: string; file: string }[] = [];
  for (const m of c.volumeMounts ?? []) {
    const vol = vols.get(m.name);
    const mp = String(m.mountPath);
    if (vol?.configMap) {
      const cm = docs.find((d) => d.kind === 'ConfigMap' && d.metadata?.name === vol.configMap.name);
      const underDk = mp.startsWith(`${DATAKIT_DIR}/conf.d/`);
      const underTk = mp.startsWith(`${TELEKIT_CONF}/`);
      if (!underDk && !underTk) {
        add('unused', 'mount', mp, `ConfigMap ${vol.configMap.name}: not under a conf.d telekit reads (${TELEKIT_CONF}, ${DATAKIT_DIR}/conf.d)`);
        continue;
      }
      const keys = m.subPath ? [m.subPath] : Object.keys(cm?.data ?? {});
      if (!cm) {
        add('error', 'mount', mp, `ConfigMap ${vol.configMap.name} is not in the manifest`);
        continue;
      }
      const where = underDk ? `read from DataKit's conf.d (after ${TELEKIT_CONF})` : 'read from telekit\'s conf.d';
      let problems = 0;
      for (const k of keys) {
        const text = cm.data?.[k];
        if (text === undefined) {
          add('error', 'mount', mp, `ConfigMap ${cm.metadata?.name} has no key ${k}`);
          problems++;
          continue;
        }
        if (!String(k).endsWith('.conf') && m.subPath) continue;
        const ins = confInputs(String(text), registry);
        if (typeof ins === 'string') {
          add('error', 'mount', mp, `${k}: ${ins}`);
          problems++;
          continue;
        }
        for (const i of ins) {
          confInputsSeen.push({ name: i.name, file: m.subPath ? mp : path.posix.join(mp, k) });
          if (i.problems.length > 0) {
            add('error', 'input', i.name, `${k}: ${i.problems.join('; ')}`);
            problems++;
          }
        }
      }
      if (problems === 0) add('ok', 'mount', mp, `ConfigMap ${vol.configMap.name}${m.subPath ? ` key ${m.subPath}` : ''}: ${where}`);
    } else {
      const [st, note] = mountNote(mp, vol, env);
      add(st, 'mount', mp, note);
    }
  }
  for (const v of pod.volumes ?? []) {
    if (!(c.volumeMounts ?? []).some((m: any) => m.name === v.name)) add('unused', 'volume', v.name, 'not mounted by the container');
  }

  // ---- inputs ----
  const inputs = new Map<string, string>();
  for (const n of enabledInputs) inputs.set(n, 'ENV_DEFAULT_ENABLED_INPUTS');
  for (const i of confInputsSeen) inputs.set(i.name, i.file);
  for (const [name, from] of inputs) {
    const def = registry.find((d) => d.name === name);
    if (def) {
      if (!out.some((f) => f.kind === 'input' && f.name === name && f.status === 'error')) add('ok', 'input', name, `${def.description} (from ${from})`);
    } else add('missing', 'input', name, INPUT_NOTES[name] ?? `not in telekit: skipped with a warning (from ${from})`);
  }

  // ---- container logs: where telekit looks for them ----
  const mounts = new Set<string>((c.volumeMounts ?? []).map((m: any) => String(m.mountPath)));
  if (inputs.has('container')) {
    if (mounts.has('/var/log/pods')) add('ok', 'feature', 'container logs', 'tailed from /var/log/pods');
    else if (env.HOST_ROOT) {
      add('ok', 'feature', 'container logs', `this manifest mounts no log directory: with pod_logs_dir and docker_logs_dir left at their defaults, telekit reads them under HOST_ROOT (${env.HOST_ROOT}/var/log/pods, ${env.HOST_ROOT}/var/lib/docker/containers), as DataKit does`);
    } else add('change', 'feature', 'container logs', 'mount the host\'s /var/log/pods read-only at /var/log/pods');
    // datakit/logs entries of type file: containerd's task rootfs and the kubelet's emptyDir volumes, under HOST_ROOT.
    const tasks = '/run/containerd/io.containerd.runtime.v2.task/k8s.io';
    const under = (p: string) => (env.HOST_ROOT ? `${env.HOST_ROOT.replace(/\/$/, '')}${p}` : p);
    const seen = (p: string) => [...mounts].some((m: string) => under(p) === m || under(p).startsWith(m.endsWith('/') ? m : `${m}/`));
    if (seen(tasks) && seen('/var/lib/kubelet/pods')) {
      add('ok', 'feature', 'log files inside containers', `datakit/logs "type": "file" entries are read from containerd's task rootfs (${under(tasks)}/<id>/rootfs) or the pod's emptyDir volume (${under('/var/lib/kubelet/pods')}), never outside that container's files; docker (overlay2) and CRI-O containers from their overlay layer (${under('/var/lib/docker')}/overlay2/<layer>/merged, ${under('/var/lib/containers/storage')}/overlay/<layer>/merged: mount those read-only with mountPropagation: HostToContainer where the host's / is not mounted)`);
    } else {
      add('change', 'feature', 'log files inside containers', `datakit/logs "type": "file" entries need the host's ${tasks} and /var/lib/kubelet/pods: mount them read-only (mountPropagation: HostToContainer) at the same paths, or mount the host's / and set HOST_ROOT`);
    }
  }
  if (inputs.has('host_processes')) {
    add(pod.hostPID ? 'ok' : 'change', 'pod', 'hostPID', pod.hostPID ? 'host_processes sees the node\'s processes' : 'set hostPID: true for host_processes to see the node\'s processes');
  }

  // ---- pod settings and ports ----
  for (const k of ['hostNetwork', 'hostIPC', 'dnsPolicy', 'serviceAccountName', 'tolerations', 'restartPolicy', 'workingDir']) {
    const v = k === 'workingDir' ? c.workingDir : pod[k];
    if (v === undefined) continue;
    const notes: Record<string, [Status, string]> = {
      hostNetwork: ['ok', 'the agent listens on the node\'s addresses, as DataKit'],
      hostIPC: ['unused', 'not needed by telekit (harmless)'],
      dnsPolicy: ['ok', 'kept'],
      serviceAccountName: ['ok', 'the API client uses the pod\'s service account'],
      tolerations: ['ok', 'kept'],
      restartPolicy: ['ok', 'kept'],
      workingDir: ['ok', 'any working directory works: the image uses absolute paths'],
    };
    const [st, note] = notes[k]!;
    add(st, 'pod', k, note);
  }
  if (c.securityContext?.privileged) add('ok', 'pod', 'securityContext.privileged', 'works; telekit only reads host files, so read-only mounts and dropped capabilities suffice');
  if (c.resources?.limits?.memory) add('ok', 'pod', 'resources.limits.memory', 'telekit\'s soft memory limit defaults to 80% of the cgroup limit (ENV_MEMORY_LIMIT_MB)');
  for (const p of c.ports ?? []) {
    const port = Number(p.containerPort);
    const otlp: [Status, string] = inputs.has('opentelemetry')
      ? ['ok', 'OTLP/gRPC: the opentelemetry input ([inputs.opentelemetry.grpc] addr, default 0.0.0.0:4317)']
      : ['unused', 'OTLP/gRPC: telekit listens here when the opentelemetry input is enabled (add it to ENV_DEFAULT_ENABLED_INPUTS or mount its conf); harmless otherwise'];
    const [st, note] = port === 4317 ? otlp : (PORT_NOTES[port] ?? ['unused', 'no telekit listener on this port']);
    add(st, 'port', `${p.containerPort}/${p.protocol ?? 'TCP'}${p.name ? ` (${p.name})` : ''}`, note);
  }

  // ---- annotation-driven features, and annotations found in the manifest ----
  for (const [a, st, note] of ANNOTATION_FEATURES) add(st, 'annotation', a, note);
  const seen = new Set<string>();
  for (const d of docs) {
    const tmpl = d.spec?.template?.metadata?.annotations ?? {};
    for (const a of [...Object.keys(d.metadata?.annotations ?? {}), ...Object.keys(tmpl)]) {
      if (seen.has(a) || ANNOTATION_FEATURES.some(([x]) => x === a)) continue;
      seen.add(a);
      if (/^datakit\/.+\.logs$/.test(a)) continue;
      add('unused', 'annotation', a, 'not read by telekit');
    }
  }

  // ---- RBAC and the other objects ----
  const roles = docs.filter((d) => d.kind === 'ClusterRole' || d.kind === 'Role');
  for (const need of RBAC_NEEDS) {
    const granted = roles.some((r) => (r.rules ?? []).some((rule: any) => (rule.apiGroups ?? []).includes(need.group) && (rule.resources ?? []).includes(need.resource) && need.verbs.every((v) => (rule.verbs ?? []).includes(v))));
    add(granted ? 'ok' : 'change', 'rbac', `${need.group || 'core'}/${need.resource}`, granted ? need.why : `grant ${need.verbs.join('/')} for ${need.why}`);
  }
  for (const d of docs) {
    if (d.kind === 'DaemonSet') continue;
    const name = `${d.kind} ${d.metadata?.namespace ? `${d.metadata.namespace}/` : ''}${d.metadata?.name ?? ''}`;
    const note: Record<string, [Status, string]> = {
      Namespace: ['ok', 'kept'],
      ClusterRole: ['ok', 'grants more than telekit reads (harmless); see the rbac lines'],
      ClusterRoleBinding: ['ok', 'kept'],
      ServiceAccount: ['ok', 'kept'],
      Service: ['ok', 'kept; ports without a telekit listener are listed above'],
      ConfigMap: ['ok', 'its mounted keys are listed above'],
    };
    const [st, n] = note[d.kind ?? ''] ?? ['unused', 'not used by telekit'];
    add(st, 'object', name, n);
  }
  return out;
}

/** One line per finding, grouped by status. */
export function formatFindings(file: string, found: readonly Finding[]): string {
  const order: Status[] = ['error', 'change', 'missing', 'unused', 'ok'];
  const lines = [`migration check of ${file}: ${order.map((s) => `${found.filter((f) => f.status === s).length} ${s}`).join(', ')}`];
  for (const s of order) for (const f of found.filter((x) => x.status === s)) lines.push(`${f.status.padEnd(7)} ${f.kind} ${f.name}: ${f.note}`);
  return lines.join('\n') + '\n';
}
