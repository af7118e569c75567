/**
 * `[[inputs.prom]]`: scrapes Prometheus/OpenMetrics endpoints listed in conf.d
 * and, when enabled, those announced by this node's pods (`datakit/prom.instances`,
 * `prometheus.io/*`). See README.md.
 */
import type { Input, InputContext, InputDefinition } from '../../agent/input/contract.js';
import { schema, type PromConfig } from './config.js';
import { PromInput } from './input.js';

export { createPromDiscovery } from './input.js';

export const prom: InputDefinition<PromConfig> = {
  name: 'prom',
  description: 'Scrapes Prometheus and OpenMetrics endpoints from conf.d and from pod annotations',
  schema,
  // Cluster-level scraping is elected; pod discovery is node-local and never is.
  election: (c) => c.election && !c.discover_pod_annotations && !c.discover_prometheus_annotations,
  create(config: PromConfig, ctx: InputContext): Input {
    return new PromInput(config, ctx);
  },
};

export default prom;
