// gzip cost per ddtrace span: the bench payload through the input (main-thread path) to line protocol,
// then gzip at several levels, CPU per span. Usage: npm run build && node bench/traces/gzip-micro.mjs
import zlib from 'node:zlib';
import { ddtraceBody } from './payloads.mjs';
import { fakeContext } from '../../dist/test/helpers/fake-context.js';
import { DdtraceInput } from '../../dist/inputs/ddtrace/input.js';
import { schema } from '../../dist/inputs/ddtrace/config.js';
import { encodeV1 } from '../../dist/agent/delivery/sinks/encode.js';
const ctx = fakeContext('ddtrace'); const input = new DdtraceInput(schema.defaultValue(), ctx); await input.start();
await ctx.routes.get('POST /v0.4/traces')({ method: 'POST', path: '/v0.4/traces', query: {}, headers: { 'content-type': 'application/msgpack' }, body: ddtraceBody(), remoteAddress: '' });
const bodies = encodeV1(ctx.points, 0n, 1 << 20);
const raw = Buffer.concat(bodies.map((b) => b.data));
console.log('bytes/span', (raw.length / ctx.points.length).toFixed(0));
for (const lvl of [1, 2, 3, 4, 6]) { const c0 = process.cpuUsage(); let o = 0; for (let i = 0; i < 60; i++) o += zlib.gzipSync(raw, { level: lvl }).length; const c = process.cpuUsage(c0); console.log('level', lvl, 'us/span', ((c.user + c.system) / 60 / ctx.points.length).toFixed(2), 'ratio', (60 * raw.length / o).toFixed(1)); }
for (const strat of [zlib.constants.Z_RLE, zlib.constants.Z_HUFFMAN_ONLY]) { const c0 = process.cpuUsage(); let o = 0; for (let i = 0; i < 60; i++) o += zlib.gzipSync(raw, { level: 1, strategy: strat }).length; const c = process.cpuUsage(c0); console.log('strategy', strat, 'us/span', ((c.user + c.system) / 60 / ctx.points.length).toFixed(2), 'ratio', (60 * raw.length / o).toFixed(1)); }
