// bench/abuse/loop-delay.mjs: a preload for the agent under the abuse harness that prints its own
// event-loop delay (perf_hooks.monitorEventLoopDelay, 5 ms resolution) to stderr, i.e. the
// agent.log in its data dir: the max and p99 of each second, and over its whole life at exit.
//
//   ABUSE_KEEP_DATA=1 ABUSE_NODE_ARGS="--import $PWD/bench/abuse/loop-delay.mjs" node bench/abuse/run.mjs statsd
import { monitorEventLoopDelay } from 'node:perf_hooks';

const ms = (ns) => (ns / 1e6).toFixed(0);
const second = monitorEventLoopDelay({ resolution: 5 });
const life = monitorEventLoopDelay({ resolution: 5 });
second.enable();
life.enable();
const t0 = Date.now();
setInterval(() => {
  process.stderr.write(`ELD t=${((Date.now() - t0) / 1000).toFixed(0)} max=${ms(second.max)} p99=${ms(second.percentile(99))}\n`);
  second.reset();
}, 1000).unref();
process.on('exit', () => process.stderr.write(`ELD-ALL max=${ms(life.max)} p99=${ms(life.percentile(99))} p999=${ms(life.percentile(99.9))}\n`));
