/**
 * `[inputs.container]`: one singleton input with two parts, container log
 * tailing (./logs.ts) and container/pod/Kubernetes metrics (./metrics/).
 */
import type { Input, InputContext, InputDefinition } from '../../agent/input/contract.js';
import { COMPAT_ONLY, schema, type ContainerConfig } from './config.js';

/**
 * The parts this config runs, each imported when the input starts: an agent
 * outside Kubernetes never loads the metrics' API clients or prom discovery.
 */
async function loadParts(config: ContainerConfig, ctx: InputContext): Promise<Input[]> {
  const parts: Input[] = [(await import('./logs/logs.js')).createContainerLogs(config, ctx)];
  if (config.enable_container_metric || config.enable_pod_metric || config.enable_k8s_metric) {
    parts.push((await import('./metrics/index.js')).createContainerMetrics(config, ctx));
  }
  // DataKit scrapes `datakit/prom.instances` pods with no prom config: the container input starts the
  // prom input's pod discovery (one per agent; a [[inputs.prom]] asking for it too shares this one).
  if (ctx.k8s && (config.enable_prom_instances_annotation || config.enable_auto_discovery_of_prometheus_pod_annotations)) {
    parts.push(
      (await import('../prom/input.js')).createPromDiscovery(ctx, {
        podAnnotations: config.enable_prom_instances_annotation,
        prometheusAnnotations: config.enable_auto_discovery_of_prometheus_pod_annotations,
      }),
    );
  }
  return parts;
}

export const container: InputDefinition<ContainerConfig> = {
  name: 'container',
  description: 'Tails the stdout/stderr logs of this node\'s containers and collects container, pod and Kubernetes metrics',
  schema,
  singleton: true,
  create(config: ContainerConfig, ctx: InputContext): Input {
    let started: Input[] = [];
    return {
      async start() {
        const unused = COMPAT_ONLY.filter((k) => config[k] !== undefined);
        if (unused.length > 0) ctx.log.info({ options: unused }, 'These [inputs.container] options are accepted for compatibility and not used.');
        const parts = await loadParts(config, ctx);
        for (const p of parts) {
          try {
            await p.start();
            started.push(p);
          } catch (e) {
            await Promise.allSettled(started.map((s) => s.stop()));
            started = [];
            throw e;
          }
        }
      },
      async stop() {
        const s = started;
        started = [];
        await Promise.allSettled(s.map((p) => p.stop()));
      },
    };
  },
};

export default container;
