// telekit's statsd input (compiled, dist/) in its own process for bench/statsd:
// a counting accumulator reports the running sum of the `bench` counter fields.
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { validate } from '../../dist/agent/config/schema.js';
import { schema } from '../../dist/inputs/statsd/config.js';
import { StatsdInput } from '../../dist/inputs/statsd/statsd.js';

const [port, intervalMs] = process.argv.slice(2).map(Number);
let total = 0;
const acc = {
  add(points) {
    for (const p of points) if (p.name === 'bench') for (const v of Object.values(p.fields)) total += Number(v);
    return points.length;
  },
  async addWait() {},
  overloaded: () => false,
  error: (kind, err) => console.error(kind, err),
};
const v = validate(schema, { service_address: `127.0.0.1:${port}`, interval: `${intervalMs}ms` });
if (!v.ok) throw new Error(JSON.stringify(v.issues));
const reg = new Registry();
const ctx = { name: 'statsd', instance: 0, acc, log: pino({ level: 'warn' }), http: {}, host: { hostname: 'b', ip: '127.0.0.1', nodeName: '' }, dataDir: '/tmp', k8s: undefined, metrics: reg, signal: new AbortController().signal };
const input = new StatsdInput(v.value, ctx);
await input.start();
setInterval(() => process.send({ type: 'count', total, cpu: process.cpuUsage() }), intervalMs).unref();
process.on('message', async (m) => {
  if (m.type === 'stop') {
    await input.stop();
    const dropped = (await reg.getSingleMetric('telekit_statsd_dropped_total').get()).values.reduce((s, x) => s + x.value, 0);
    process.send({ type: 'count', total, cpu: process.cpuUsage(), dropped }, () => process.exit(0));
  }
});
process.send({ type: 'ready' });
