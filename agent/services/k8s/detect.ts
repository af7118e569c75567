/**
 * Whether a Kubernetes API is configured, without loading the client: the
 * runtime imports the Kubernetes client (services/k8s/index.ts, ~16 MiB of RSS)
 * only when this finds one. loadKubeConfig() reads the same places.
 */
import fs from 'node:fs';
import path from 'node:path';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export type KubeApiLocation = { kind: 'kubeconfig'; path: string } | { kind: 'in-cluster'; host: string; tokenFile: string };

/** KUBECONFIG's first existing file (explicit, wins), else the in-cluster service account (KUBERNETES_SERVICE_HOST + token file). */
export function findKubeApi(env: Record<string, string | undefined>, serviceAccountDir = SERVICE_ACCOUNT_DIR): KubeApiLocation | undefined {
  const kubeconfigPath = (env.KUBECONFIG ?? '')
    .split(path.delimiter)
    .filter(Boolean)
    .find((p) => fs.existsSync(p));
  if (kubeconfigPath) return { kind: 'kubeconfig', path: kubeconfigPath };
  const host = env.KUBERNETES_SERVICE_HOST;
  const tokenFile = path.join(serviceAccountDir, 'token');
  if (host && fs.existsSync(tokenFile)) return { kind: 'in-cluster', host, tokenFile };
  return undefined;
}
