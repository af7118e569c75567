/**
 * `[[inputs.prom]]`: scrapes Prometheus/OpenMetrics endpoints listed in conf.d
 * and, when enabled, those announced by this node's pods (`datakit/prom.instances`,
 * `prometheus.io/*`). See README.md.
 */
import type { Input, InputContext, InputDefinition } from '../../agent/input/contract.js';
import { lazyInput } from '../../agent/input/lazy.js';
import { schema, type PromConfig } from './config.js';

export const prom: InputDefinition<PromConfig> = {
  name: 'prom',
  description: 'Scrapes Prometheus and OpenMetrics endpoints from conf.d and from pod annotations',
  schema,
  // Cluster-level scraping is elected; pod discovery is node-local and never is.
  election: (c) => c.election && !c.discover_pod_annotations && !c.discover_prometheus_annotations,
  create(config: PromConfig, ctx: InputContext): Input {
    // the scheduler, parser and HTTP client (http1.ts) are loaded when an instance starts (agent/input/lazy.ts)
    return lazyInput(async () => new (await import('./input.js')).PromInput(config, ctx));
  },
};

export default prom;
