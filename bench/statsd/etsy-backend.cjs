// Etsy statsd backend for bench/statsd: reports the running sum of the
// `bench.*` counters (what statsd received, sample rate applied) to the parent.
let total = 0;
exports.init = function (_startup, _config, events) {
  events.on('flush', (_ts, metrics) => {
    for (const [k, v] of Object.entries(metrics.counters)) if (k.startsWith('bench')) total += v;
    process.send?.({ type: 'count', total, cpu: process.cpuUsage() });
  });
  return true;
};
