// The floor for bench/statsd: a bare Node UDP socket that only counts lines
// (no parsing, no aggregation), with the same receive buffer as telekit.
import dgram from 'node:dgram';

const [port, intervalMs] = process.argv.slice(2).map(Number);
let total = 0;
const s = dgram.createSocket('udp4');
s.on('message', (m) => {
  let n = 1;
  for (let i = m.indexOf(10); i >= 0; i = m.indexOf(10, i + 1)) n++;
  total += n;
});
s.bind(port, '127.0.0.1', () => {
  s.setRecvBufferSize(8 * 1024 * 1024);
  process.send({ type: 'ready' });
});
setInterval(() => process.send({ type: 'count', total, cpu: process.cpuUsage() }), intervalMs).unref();
process.on('message', (m) => {
  if (m.type === 'stop') process.send({ type: 'count', total, cpu: process.cpuUsage() }, () => process.exit(0));
});
