// Preloaded into the agent by run.mjs (--import): reports the event loop's worst delay every 250 ms on
// stderr, so the agent's own stalls are told apart from the load generator's.
import { monitorEventLoopDelay } from 'node:perf_hooks';
const h = monitorEventLoopDelay({ resolution: 5 });
h.enable();
setInterval(() => {
  process.stderr.write(`telekit-lag ${(h.max / 1e6).toFixed(1)}\n`);
  h.reset();
}, 250).unref();
