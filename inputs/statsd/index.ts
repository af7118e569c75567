/**
 * `[[inputs.statsd]]`: a StatsD / DogStatsD server (UDP or TCP) that aggregates
 * what it receives and emits metric points every `interval` (README.md).
 */
import type { InputDefinition } from '../../agent/input/contract.js';
import { lazyInput } from '../../agent/input/lazy.js';
import { parseAddress, schema, type StatsdConfig } from './config.js';

export const statsd: InputDefinition<StatsdConfig> = {
  name: 'statsd',
  description: 'StatsD/DogStatsD server: counters, gauges, sets, timings, histograms, distributions, events and service checks',
  schema,
  ports: (config) => {
    const a = parseAddress(config.service_address);
    return a ? [{ protocol: config.protocol.startsWith('udp') ? 'udp' : 'tcp', host: a.host, port: a.port, key: 'service_address' }] : [];
  },
  // the listener and aggregator are loaded when an instance starts (agent/input/lazy.ts)
  create: (config, ctx) => lazyInput(async () => new (await import('./statsd.js')).StatsdInput(config, ctx)),
};

export default statsd;
