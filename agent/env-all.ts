/**
 * Every environment variable the agent reads, gathered from the modules that
 * read them: the README's reference table and the deploy test use this list.
 */
import { CORE_ENV } from './env.js';
import { K8S_ENV } from './k8s/index.js';
import { HOST_ENV } from './host/paths.js';

export function agentEnvNames(): string[] {
  return [...new Set([...CORE_ENV.map((e) => e.name), ...K8S_ENV, ...HOST_ENV])];
}
