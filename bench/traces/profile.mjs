// Profiles telekit's in-process path for one format: node --cpu-prof bench/traces/profile.mjs ddtrace|zipkin [--no-encode]
import zlib from 'node:zlib';
import { encodeV1 } from '../../dist/agent/delivery/sinks/encode.js';
import { fakeContext } from '../../dist/test/helpers/fake-context.js';
import { DdtraceInput } from '../../dist/inputs/ddtrace/input.js';
import { schema as ddSchema } from '../../dist/inputs/ddtrace/config.js';
import { ZipkinInput } from '../../dist/inputs/zipkin/input.js';
import { schema as zkSchema } from '../../dist/inputs/zipkin/config.js';
import { ddtraceBody, zipkinBody } from './payloads.mjs';

const kind = process.argv[2] ?? 'ddtrace';
const encode = !process.argv.includes('--no-encode');
const body = kind === 'ddtrace' ? ddtraceBody() : zipkinBody();
const ctx = fakeContext(kind);
const input = kind === 'ddtrace' ? new DdtraceInput(ddSchema.defaultValue(), ctx) : new ZipkinInput(zkSchema.defaultValue(), ctx);
await input.start();
const route = kind === 'ddtrace' ? '/v0.4/traces' : '/api/v2/spans';
const h = ctx.routes.get(`POST ${route}`);
const t0 = performance.now();
let n = 0;
while (performance.now() - t0 < 3000) {
  ctx.points.length = 0;
  h({ method: 'POST', path: route, query: {}, headers: { 'content-type': kind === 'ddtrace' ? 'application/msgpack' : 'application/json' }, body, remoteAddress: '' });
  if (encode) for (const b of encodeV1(ctx.points, 0n, 1 << 20)) zlib.gzipSync(b.data, { level: 3 });
  n += 500;
}
console.log(kind, Math.round(n / ((performance.now() - t0) / 1000)), 'spans/s');
