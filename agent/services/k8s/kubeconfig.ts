/**
 * Where the Kubernetes API is: KUBECONFIG (explicit, wins) or the in-cluster
 * service account (KUBERNETES_SERVICE_HOST + token file). Reads only the env
 * it is given, never process.env, so tests and the agent agree.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { KubeConfig } from './client.js';
import { findKubeApi, SERVICE_ACCOUNT_DIR } from './detect.js';

export { SERVICE_ACCOUNT_DIR } from './detect.js';

export interface LoadedKubeConfig {
  kubeConfig: KubeConfig;
  source: 'kubeconfig' | 'in-cluster';
  /** The agent's own namespace: the service account's, or the kubeconfig context's, else `default`. */
  namespace: string;
  server: string;
}

export function loadKubeConfig(env: Record<string, string | undefined>, serviceAccountDir = SERVICE_ACCOUNT_DIR): LoadedKubeConfig | undefined {
  const where = findKubeApi(env, serviceAccountDir);
  if (where?.kind === 'kubeconfig') {
    const kc = new KubeConfig();
    kc.loadFromFile(where.path);
    const ctx = kc.getContextObject(kc.getCurrentContext());
    return { kubeConfig: kc, source: 'kubeconfig', namespace: ctx?.namespace || 'default', server: kc.getCurrentCluster()?.server ?? '' };
  }
  if (where?.kind === 'in-cluster') {
    const { host, tokenFile } = where;
    const port = env.KUBERNETES_SERVICE_PORT || '443';
    const server = `https://${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
    const caFile = path.join(serviceAccountDir, 'ca.crt');
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'in-cluster', server, skipTLSVerify: false, ...(fs.existsSync(caFile) ? { caFile } : {}) }],
      // tokenFile is re-read by client-node, so rotated projected tokens keep working.
      users: [{ name: 'in-cluster', authProvider: { name: 'tokenFile', config: { tokenFile } } }],
      contexts: [{ name: 'in-cluster', cluster: 'in-cluster', user: 'in-cluster' }],
      currentContext: 'in-cluster',
    });
    let namespace = 'default';
    try {
      namespace = fs.readFileSync(path.join(serviceAccountDir, 'namespace'), 'utf8').trim() || 'default';
    } catch {
      /* older clusters do not mount it */
    }
    return { kubeConfig: kc, source: 'in-cluster', namespace, server };
  }
  return undefined;
}
