import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LineBuf } from '../../agent/model/linebuf.js';
import { TraceProcessor } from '../../agent/services/trace/processor.js';
import type { TraceRequest } from '../../agent/services/trace/offthread.js';
import { validConfig } from '../../test/helpers/fake-context.js';
import { fastLines, genericLines } from '../../test/helpers/trace-generic.js';
import { schema, type OtelConfig } from './config.js';
import { OtlpLineWriter } from './lines.js';
import { otelDecoder } from './request.js';

const require = createRequire(import.meta.url);
const T = require('otlp-proto-root/build/src/generated/root.js').opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest as {
  fromObject(o: unknown): unknown;
  encode(m: unknown): { finish(): Uint8Array };
};

const NOW = 1_700_000_000_000_000_000n;
const CORE = { host: 'node-1', env: 'core-env', cluster: 'c 1', 'a,b': 'x=y', span_kind: 'core' };

/** The generic path as a trace worker runs it: decoder, pipeline, core tags, LineBuf.point. Texts are latin1, one char per byte: compared byte for byte. */
function generic(cfg: OtelConfig, pipeline: TraceProcessor, req: TraceRequest, tags: Record<string, string>): { text: string; dropped: Record<string, number>; lines: number } {
  const { out, dropped } = genericLines(otelDecoder(cfg), pipeline, req, tags, NOW);
  return { text: out.data.toString('latin1', 0, out.off), dropped, lines: out.ends.length };
}

const fast = (w: OtlpLineWriter, req: TraceRequest, tags: Record<string, string>) => fastLines(w, req, tags, NOW, 'latin1');

const request = (body: Uint8Array): TraceRequest => ({ route: '/otel/v1/traces', contentType: 'application/x-protobuf', headers: {}, body: Buffer.from(body) });

const KEYS = ['http.method', 'http.status_code', 'http.url', 'http.route', 'db.system', 'db.statement', 'rpc.system', 'messaging.system', 'error.msg', 'error_message', 'span_kind', 'service.name', 'k8s.pod.name', 'istio.mesh_id', 'component', 'node_id', 'message', 'trace_id', 'project', '', '0', '7', '__proto__', 'a b,c=d', 'quo"te\\', 'ünï.cödé', 'exception.message', 'exception.stacktrace', 'exception.type'];
const STRINGS = ['GET', '200', 'prod', '', 'a,b=c d', 'back\\slash', 'quote"d', 'new\nline\r', 'tab\there\u0001\u001f', 'ünïcödé', '日本語', '😀 emoji', 'x'.repeat(40), 'L'.repeat(1030), 'é'.repeat(600), 'lone\ud800surrogate'];

const str = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...STRINGS) }, { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) });
const anyValue = fc.oneof(
  { weight: 60, arbitrary: str.map((s) => ({ stringValue: s })) },
  { weight: 10, arbitrary: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((v) => ({ intValue: v.toString() })) },
  { weight: 10, arbitrary: fc.constantFrom(0, 200, 404, -1, 2 ** 31, 2 ** 40).map((v) => ({ intValue: v })) },
  { weight: 10, arbitrary: fc.double().map((v) => ({ doubleValue: v })) },
  { weight: 10, arbitrary: fc.boolean().map((v) => ({ boolValue: v })) },
  { weight: 5, arbitrary: fc.constant({}) },
  { weight: 5, arbitrary: fc.constant(undefined) },
  // not modelled: the whole request goes to the generic path
  { weight: 1, arbitrary: fc.constant({ arrayValue: { values: [{ stringValue: 'a' }] } }) },
);
const kv = fc.record({ key: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...KEYS) }, { weight: 1, arbitrary: str }), value: anyValue }, { requiredKeys: [] });
const attrs = fc.array(kv, { maxLength: 8 });
const idPool = fc.constantFrom('00000000000000000000000000000001', '463ac35c9f6413ad48485a3953bb6124', '0000000000000000', 'a2fb4a1d1a96d312', 'b0c1d2e3f4a5b6c7', '0011223344556677', '');
const bytesId = fc.oneof({ weight: 6, arbitrary: idPool }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 9 }).map((b) => Buffer.from(b).toString('hex')) }).map((h) => Buffer.from(h, 'hex'));
const u64 = fc.oneof(fc.constantFrom('0', '1732000000100000000', '1732000000148210000', '999', '18446744073709551615', '9007199254740993000'), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String));
const event = fc.record({ timeUnixNano: u64, name: fc.constantFrom('exception', 'log', '', 'ev"1', 'x\udc00'), attributes: attrs }, { requiredKeys: [] });
const span = fc.record(
  {
    traceId: bytesId,
    spanId: bytesId,
    parentSpanId: bytesId,
    name: str,
    kind: fc.constantFrom(0, 1, 2, 3, 4, 5, 7, -1),
    startTimeUnixNano: u64,
    endTimeUnixNano: u64,
    attributes: attrs,
    events: fc.array(event, { maxLength: 3 }),
    links: fc.oneof({ weight: 40, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.constant([{ traceId: Buffer.from('01', 'hex'), spanId: Buffer.from('02', 'hex') }]) }),
    status: fc.record({ code: fc.constantFrom(0, 1, 2, 3), message: fc.constantFrom('', 'boom "x"', 'ok') }, { requiredKeys: [] }),
  },
  { requiredKeys: ['traceId', 'spanId'] },
);
const exportRequest = fc.record({
  resourceSpans: fc.array(
    fc.record(
      {
        resource: fc.record({ attributes: attrs }, { requiredKeys: [] }),
        scopeSpans: fc.array(fc.record({ scope: fc.record({ name: str, version: str, attributes: attrs }, { requiredKeys: [] }), spans: fc.array(span, { maxLength: 20 }) }, { requiredKeys: [] }), { maxLength: 3 }),
      },
      { requiredKeys: [] },
    ),
    { maxLength: 3 },
  ),
});

const CONFIGS: [Record<string, unknown>, string][] = [
  [{}, 'opentelemetry'],
  [{ del_message: true }, 'opentelemetry'],
  [{ customer_tags: ['k8s.pod.name', 'reg:^istio', 'message'] }, 'opentelemetry'],
  [{ customer_tags_all: true }, 'opentelemetry'],
  [{ ignore_tags: ['^http_'] }, 'opentelemetry'],
  [{}, 'otel,x y'],
];

describe('the OTLP protobuf fast path', () => {
  for (const [raw, source] of CONFIGS) {
    it(`writes the generic path's lines, byte for byte (${JSON.stringify(raw)}, ${source})`, () => {
      const cfg = validConfig(schema, raw);
      const pipeline = new TraceProcessor(source, cfg);
      const w = new OtlpLineWriter(cfg, pipeline);
      let took = 0;
      let runs = 0;
      fc.assert(
        fc.property(exportRequest, fc.boolean(), (obj, withCore) => {
          runs++;
          const body = T.encode(T.fromObject(obj)).finish();
          const tags = withCore ? CORE : {};
          const f = fast(w, request(body), tags);
          if (f === undefined) return;
          took++;
          const g = generic(cfg, pipeline, request(body), tags);
          expect(f.text).toBe(g.text);
          expect(f.dropped).toEqual(g.dropped.invalid ? { invalid: g.dropped.invalid } : {});
          expect(f.lines).toBe(g.lines);
        }),
        { numRuns: 300, seed: 19 },
      );
      // the fast path takes most requests (it declines links and array values)
      expect(took).toBeGreaterThan(runs / 3);
      console.log(`fast path took ${took} of ${runs}`);
    });
  }

  it('declines a malformed body the generic path refuses, and matches it on the ones it accepts', () => {
    const cfg = validConfig(schema, {});
    const pipeline = new TraceProcessor('opentelemetry', cfg);
    const w = new OtlpLineWriter(cfg, pipeline);
    fc.assert(
      fc.property(exportRequest, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(), (obj, flips, cut) => {
        const body = Buffer.from(T.encode(T.fromObject(obj)).finish());
        if (body.length === 0) return;
        for (const [at, v] of flips) body[at % body.length] = v;
        const b = body.subarray(0, body.length - (cut % 3 === 0 ? cut % body.length : 0));
        let g: { text: string } | undefined;
        try {
          g = generic(cfg, pipeline, request(b), {});
        } catch {
          g = undefined;
        }
        const f = fast(w, request(b), {});
        if (g === undefined) expect(f).toBeUndefined();
        else if (f !== undefined) expect(f.text).toBe(g.text);
      }),
      { numRuns: 400, seed: 7 },
    );
  });

  it('takes the bench payload (an Envoy/Istio export) and leaves OTLP/JSON to the generic path', async () => {
    const { otlpProtoBody } = (await import('../../bench/traces/payloads.mjs' as string)) as { otlpProtoBody(): Buffer };
    const cfg = validConfig(schema, {});
    const pipeline = new TraceProcessor('opentelemetry', cfg);
    const w = new OtlpLineWriter(cfg, pipeline);
    const body = otlpProtoBody();
    const f = fast(w, request(body), CORE);
    expect(f?.lines).toBe(500);
    expect(f?.text).toBe(generic(cfg, pipeline, request(body), CORE).text);
    expect(w.write({ ...request(Buffer.from('{}')), contentType: 'application/json' }, new LineBuf(64), {}, NOW)).toBeUndefined();
  });
});
