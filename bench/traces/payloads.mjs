// Payloads shared by the trace benches: a dd-trace-like v0.4 msgpack body and
// an Envoy/Istio-like Zipkin v2 JSON body, 500 spans each.
import fs from 'node:fs';
import path from 'node:path';
import { Packr } from 'msgpackr';

const here = path.dirname(new URL(import.meta.url).pathname);
export const SPANS_PER_REQUEST = 500;
const T0 = 1_732_000_000_000_000_000n;

/** 100 traces × 5 spans: a web request, two DB queries, a cache call, an outgoing HTTP call. */
export function ddtraceBody() {
  const packr = new Packr({ useRecords: false });
  const traces = [];
  for (let t = 0; t < SPANS_PER_REQUEST / 5; t++) {
    const traceId = 1_000_000_000_000_000_000n + BigInt(t) * 7919n;
    const root = traceId + 1n;
    const base = {
      meta: { env: 'prod', version: '1.4.2', language: 'javascript', 'runtime-id': '8c6bd0e4-7d3b-4b8c-9a6c-1f0e2d3c4b5a', '_dd.p.dm': '-0', '_dd.p.tid': '6750a1b200000000' },
      metrics: { _sampling_priority_v1: 1, '_dd.agent_psr': 1, process_id: 4242, '_dd.top_level': 1 },
    };
    const span = (i, parent, name, resource, type, extra) => ({
      service: i === 0 ? 'reviews' : type === 'sql' ? 'reviews-postgres' : type === 'redis' ? 'reviews-redis' : 'reviews',
      name,
      resource,
      trace_id: traceId,
      span_id: root + BigInt(i),
      parent_id: parent,
      start: T0 + BigInt(t * 1_000_000 + i * 1000),
      duration: BigInt(50_000 + i * 1234),
      error: 0,
      meta: { ...base.meta, ...extra },
      metrics: base.metrics,
      type,
    });
    traces.push([
      span(0, 0n, 'express.request', 'GET /reviews/:id', 'web', { component: 'express', 'span.kind': 'server', 'http.url': `http://reviews.prod:9080/reviews/${t}`, 'http.method': 'GET', 'http.status_code': '200', 'http.route': '/reviews/:id', 'http.useragent': 'Envoy/1.27' }),
      span(1, root, 'pg.query', 'SELECT * FROM reviews WHERE product_id = $1', 'sql', { component: 'pg', 'span.kind': 'client', 'db.type': 'postgres', 'db.name': 'reviews', 'out.host': 'postgres.prod', 'out.port': '5432' }),
      span(2, root, 'pg.query', 'SELECT avg(stars) FROM ratings WHERE product_id = $1', 'sql', { component: 'pg', 'span.kind': 'client', 'db.type': 'postgres', 'db.name': 'reviews', 'out.host': 'postgres.prod' }),
      span(3, root, 'redis.command', 'GET', 'redis', { component: 'redis', 'span.kind': 'client', 'redis.raw_command': `GET review:${t}`, 'out.host': 'redis.prod' }),
      span(4, root, 'http.request', 'GET', 'http', { component: 'http', 'span.kind': 'client', 'http.url': 'http://ratings.prod:9080/ratings/0', 'http.method': 'GET', 'http.status_code': '200' }),
    ]);
  }
  return packr.pack(traces);
}

/** The Istio golden trace (4 spans) repeated with fresh ids: 500 spans. */
export function zipkinBody() {
  const tmpl = JSON.parse(fs.readFileSync(path.join(here, '../../inputs/zipkin/testdata/istio/v2.json'), 'utf8'));
  const out = [];
  for (let t = 0; out.length < SPANS_PER_REQUEST; t++) {
    const tid = t.toString(16).padStart(8, '0') + '9f6413ad48485a3953bb6124';
    const remap = (id) => (id ? t.toString(16).padStart(4, '0') + id.slice(4) : id);
    for (const s of tmpl) {
      if (out.length >= SPANS_PER_REQUEST) break;
      out.push({ ...s, traceId: tid, id: remap(s.id), ...(s.parentId ? { parentId: remap(s.parentId) } : {}), timestamp: s.timestamp + t * 1000 });
    }
  }
  return Buffer.from(JSON.stringify(out));
}

/** OTLP protobuf (ExportTraceServiceRequest) with the generated definitions the input decodes with. */
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const otlp = require('otlp-proto-root/build/src/generated/root.js').opentelemetry.proto.collector;

/**
 * The Envoy/Istio OTLP request (testdata: 3 spans of 2 sidecars) repeated with
 * fresh ids: 500 spans in one request, one resource per sidecar as a sidecar
 * (or an SDK's batch processor) sends them.
 */
export function otlpTraceRequest() {
  const tmpl = JSON.parse(fs.readFileSync(path.join(here, '../../inputs/opentelemetry/testdata/istio/otlp.json'), 'utf8'));
  const spansOf = tmpl.resourceSpans.map(() => []);
  let n = 0;
  for (let t = 0; n < SPANS_PER_REQUEST; t++) {
    const tid = Buffer.from(t.toString(16).padStart(8, '0') + '9f6413ad48485a3953bb6124', 'hex');
    const remap = (id) => Buffer.from(t.toString(16).padStart(4, '0') + id.slice(4), 'hex');
    tmpl.resourceSpans.forEach((rs, i) => {
      for (const s of rs.scopeSpans[0].spans) {
        if (n >= SPANS_PER_REQUEST) break;
        const ns = BigInt(s.startTimeUnixNano) + BigInt(t) * 1_000_000n;
        const d = BigInt(s.endTimeUnixNano) - BigInt(s.startTimeUnixNano);
        spansOf[i].push({ ...s, traceId: tid, spanId: remap(s.spanId), parentSpanId: s.parentSpanId ? remap(s.parentSpanId) : undefined, startTimeUnixNano: String(ns), endTimeUnixNano: String(ns + d) });
        n++;
      }
    });
  }
  return { resourceSpans: tmpl.resourceSpans.map((rs, i) => ({ resource: rs.resource, scopeSpans: [{ scope: rs.scopeSpans[0].scope, spans: spansOf[i] }] })) };
}

export function otlpProtoBody() {
  const T = otlp.trace.v1.ExportTraceServiceRequest;
  return Buffer.from(T.encode(T.fromObject(otlpTraceRequest())).finish());
}
