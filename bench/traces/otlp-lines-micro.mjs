// The opentelemetry trace workers' two paths on the bench's OTLP payload, one thread:
// generic (protobufjs → mapTraces → TraceProcessor → LineBuf.point) vs the byte-level
// fast path (inputs/opentelemetry/lines.ts). Spans per CPU-second.
//   npm run build && node --expose-gc bench/traces/otlp-lines-micro.mjs [seconds]
import { LineBuf } from '../../dist/agent/model/linebuf.js';
import { TraceProcessor } from '../../dist/agent/services/trace/processor.js';
import { validate } from '../../dist/agent/config/schema.js';
import { schema } from '../../dist/inputs/opentelemetry/config.js';
import { OtlpLineWriter } from '../../dist/inputs/opentelemetry/lines.js';
import { otelDecoder } from '../../dist/inputs/opentelemetry/request.js';
import { otlpProtoBody, SPANS_PER_REQUEST } from './payloads.mjs';

const seconds = Number(process.argv[2] ?? 2);
const cfg = validate(schema, {}).value;
const pipeline = new TraceProcessor('opentelemetry', cfg);
const body = otlpProtoBody();
const req = { route: '/otel/v1/traces', contentType: 'application/x-protobuf', headers: {}, body };
const tags = { host: 'node-1', cluster: 'c1' };
const decode = otelDecoder(cfg);
const writer = new OtlpLineWriter(cfg, pipeline);
const out = new LineBuf(1 << 20);
const paths = {
  generic() {
    const { points } = pipeline.process(decode(req).traces);
    for (const p of points) {
      for (const k in tags) if (p.tags[k] === undefined) p.tags[k] = tags[k];
      out.point(p, 1n);
    }
  },
  fast() {
    if (writer.write(req, out, tags, 1n) === undefined) throw new Error('declined');
  },
};
for (let round = 0; round < 2; round++) {
  for (const [name, f] of Object.entries(paths)) {
    globalThis.gc?.();
    const c0 = process.cpuUsage();
    let n = 0;
    const until = Date.now() + seconds * 1000;
    while (Date.now() < until) {
      out.reset();
      f();
      n += SPANS_PER_REQUEST;
    }
    const c = process.cpuUsage(c0);
    const cpu = (c.user + c.system) / 1e6;
    console.log(`${name.padEnd(8)} ${Math.round(n / cpu).toLocaleString('en')} spans per CPU-second (${(out.off / SPANS_PER_REQUEST) | 0} B/line)`);
  }
}
