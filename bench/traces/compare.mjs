// Handler-only comparison in one process, alternating: naive floor (decode + points, no encode), the floor with
// JSON.stringify messages, and telekit's input handler. Median of 7 × 400 ms, as spans per CPU-second. Usage: node bench/traces/compare.mjs ddtrace|zipkin
import { Unpackr } from 'msgpackr';
import { fakeContext } from '../../dist/test/helpers/fake-context.js';
import { DdtraceInput } from '../../dist/inputs/ddtrace/input.js';
import { schema as ddSchema } from '../../dist/inputs/ddtrace/config.js';
import { ZipkinInput } from '../../dist/inputs/zipkin/input.js';
import { schema as zkSchema } from '../../dist/inputs/zipkin/config.js';
import { ddtraceBody, zipkinBody } from './payloads.mjs';
const kind = process.argv[2];
const body = kind === 'ddtrace' ? ddtraceBody() : zipkinBody();
const unpackr = new Unpackr({ int64AsType: 'string', mapsAsObjects: true, useRecords: false });
function floor(withMsg) {
  const points = [];
  if (kind === 'ddtrace') for (const t of unpackr.unpack(body)) for (const s of t) {
    const fields = { trace_id: String(s.trace_id), span_id: String(s.span_id), parent_id: String(s.parent_id), resource: s.resource, start: BigInt(Math.floor(Number(s.start) / 1000)), duration: BigInt(Math.floor(Number(s.duration) / 1000)) };
    if (withMsg) fields.message = JSON.stringify(s);
    points.push({ category: 'tracing', name: 'ddtrace', tags: { service: s.service, operation: s.name, env: s.meta.env, version: s.meta.version, status: s.error ? 'error' : 'ok' }, fields, time: BigInt(s.start) });
  }
  else for (const s of JSON.parse(body.toString('utf8'))) {
      const tags = { service: s.localEndpoint?.serviceName ?? '', operation: s.name, status: s.tags?.error ? 'error' : 'ok' };
      for (const k in s.tags) tags[k.replaceAll('.', '_')] = s.tags[k];
      const fields = { trace_id: s.traceId, span_id: s.id, parent_id: s.parentId ?? '0', resource: s.name, start: BigInt(s.timestamp), duration: BigInt(s.duration) };
      if (withMsg) fields.message = JSON.stringify(s);
      points.push({ category: 'tracing', name: 'zipkin', tags, fields, time: BigInt(s.timestamp) * 1000n });
  }
  return points;
}
const ctx = fakeContext(kind);
const input = kind === 'ddtrace' ? new DdtraceInput(ddSchema.defaultValue(), ctx) : new ZipkinInput(zkSchema.defaultValue(), ctx);
await input.start();
const route = kind === 'ddtrace' ? '/v0.4/traces' : '/api/v2/spans';
const h = ctx.routes.get(`POST ${route}`);
const hd = { 'content-type': kind === 'ddtrace' ? 'application/msgpack' : 'application/json' };
const tel = () => { ctx.points.length = 0; h({ method: 'POST', path: route, query: {}, headers: hd, body, remoteAddress: '' }); };
// Spans per CPU-second of this process (user+system), over fixed work: steadier than wall time on a shared box.
function rate(fn) { const c0 = process.cpuUsage(); let n = 0; const t0 = performance.now(); while (performance.now() - t0 < 400) { fn(); n += 500; } const c = process.cpuUsage(c0); return n / ((c.user + c.system) / 1e6); }
const r = { floor: [], floorMsg: [], telekit: [] };
for (let i = 0; i < 7; i++) { r.floor.push(rate(() => floor(false))); r.floorMsg.push(rate(() => floor(true))); r.telekit.push(rate(tel)); }
const med = (x) => Math.round(x.sort((a, b) => a - b)[3]);
console.log(kind, 'spans per CPU-s: floor(no encode)', med(r.floor), 'floor+JSON.stringify', med(r.floorMsg), 'telekit handler', med(r.telekit));
