/**
 * The explicit input registry: every input folder under inputs/ is listed here
 * (a test checks that each folder is registered and has sample.conf and README.md).
 */
import type { InputDefinition } from '../agent/input/contract.js';
import { cpu } from './cpu/index.js';
import { disk } from './disk/index.js';
import { diskio } from './diskio/index.js';
import { gitlab } from './gitlab/index.js';
import { host_processes } from './host_processes/index.js';
import { hostobject } from './hostobject/index.js';
import { mem } from './mem/index.js';
import { net } from './net/index.js';
import { opentelemetry } from './opentelemetry/index.js';
import { prom } from './prom/index.js';
import { rum } from './rum/index.js';
import { swap } from './swap/index.js';
import { system } from './system/index.js';
import { statsd } from './statsd/index.js';
import { container } from './container/index.js';
import { ddtrace } from './ddtrace/index.js';
import { zipkin } from './zipkin/index.js';

export const inputs: readonly InputDefinition[] = [
  // one line per input, alphabetical
  container,
  cpu,
  ddtrace,
  disk,
  diskio,
  gitlab,
  host_processes,
  hostobject,
  mem,
  net,
  opentelemetry,
  prom,
  rum,
  statsd,
  swap,
  system,
  zipkin,
];
