import type { Input, InputContext } from '../../agent/input.js';
import type { ContainerConfig } from './config.js';

export function createContainerLogs(_config: ContainerConfig, _ctx: InputContext): Input {
  return { start: async () => {}, stop: async () => {} };
}
