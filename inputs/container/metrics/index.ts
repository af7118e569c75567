/** Placeholder until the container-metrics engineer lands the real implementation. */
import type { Input, InputContext } from '../../../agent/input.js';
import type { ContainerConfig } from '../config.js';

export function createContainerMetrics(_config: ContainerConfig, _ctx: InputContext): Input {
  return { start: async () => {}, stop: async () => {} };
}
