/**
 * Every environment variable the agent reads, gathered from the modules that
 * read them: the README's reference table (scripts/env-table.mjs) and the
 * deploy test use this list.
 */
import { CORE_ENV, type EnvDoc } from '../agent/config/env.js';
import { BUFFER_ENV } from '../agent/delivery/buffer/disk-buffer.js';
import { MEMORY_ENV } from '../agent/runtime/memlimit.js';
import { K8S_ENV } from '../agent/services/k8s/index.js';
import { HOST_ENV } from '../agent/services/host/paths.js';
import { CORS_ENV } from '../agent/server/cors.js';
import { PIPELINE_ENV } from '../agent/services/pipeline/store.js';
import { inputs } from '../inputs/index.js';

/** Docs of the names that Kubernetes discovery and the host inputs read (their modules list names only). */
const OTHER_DOCS: Record<string, Omit<EnvDoc, 'name'>> = {
  KUBECONFIG: { default: '', doc: 'kubeconfig file for the Kubernetes API outside a cluster; wins over in-cluster credentials.' },
  KUBERNETES_SERVICE_HOST: { default: '(set by Kubernetes)', doc: 'In-cluster API address; with the service-account token and CA it turns on pod discovery.' },
  KUBERNETES_SERVICE_PORT: { default: '(set by Kubernetes)', doc: 'In-cluster API port.' },
  ENV_K8S_LEASE_NAMESPACE: { default: '(the agent\'s namespace)', doc: 'Namespace of the election Lease.' },
  ENV_K8S_LEASE_NAME: { default: 'telekit[-<ENV_NAMESPACE>]', doc: 'Name of the election Lease.' },
  ENV_K8S_LEASE_DURATION: { default: '15s', doc: 'Lease duration; renew and retry periods scale with it.' },
  HOST_ROOT: { default: '/', doc: 'Host root filesystem for the host inputs (e.g. /rootfs in a pod).' },
  HOST_PROC: { default: '/proc (or $HOST_ROOT/proc)', doc: 'Host procfs for the host inputs.' },
  HOST_SYS: { default: '/sys (or $HOST_ROOT/sys)', doc: 'Host sysfs for the host inputs.' },
  HOST_ETC: { default: '/etc (or $HOST_ROOT/etc)', doc: 'Host /etc: host_processes reads user names from its passwd.' },
};

export function agentEnvDocs(): EnvDoc[] {
  const out = new Map<string, EnvDoc>([...CORE_ENV, ...CORS_ENV, ...BUFFER_ENV, ...MEMORY_ENV, ...PIPELINE_ENV].map((e) => [e.name, e]));
  // agent-wide variables that set input options (InputDefinition.agentEnv)
  for (const def of inputs) for (const a of def.agentEnv ?? []) if (!out.has(a.env)) out.set(a.env, { name: a.env, default: a.default, doc: a.doc });
  for (const name of [...K8S_ENV, ...HOST_ENV]) {
    if (!out.has(name)) out.set(name, { name, ...(OTHER_DOCS[name] ?? { default: '', doc: '' }) });
  }
  return [...out.values()];
}

export function agentEnvNames(): string[] {
  return agentEnvDocs().map((e) => e.name);
}

/** The README's environment reference table (scripts/env-table.mjs writes it; a test compares). */
export function envTable(docs: EnvDoc[] = agentEnvDocs()): string {
  const esc = (x: string) => x.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return ['| Variable | Default | Meaning |', '|---|---|---|', ...docs.map((e) => `| \`${e.name}\` | ${esc(e.default)} | ${esc(e.doc)} |`)].join('\n');
}
