/**
 * The explicit input registry: every input folder under inputs/ is listed here
 * (a test checks that each folder is registered and has sample.conf and README.md).
 */
import type { InputDefinition } from '../agent/input.js';
import { container } from './container/index.js';

export const inputs: readonly InputDefinition[] = [
  // one line per input, alphabetical
  container,
];

export function findInput(name: string): InputDefinition | undefined {
  return inputs.find((d) => d.name === name);
}
