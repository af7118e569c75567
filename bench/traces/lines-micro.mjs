// Worker-side CPU per span of the ddtrace fast path (inputs/ddtrace/lines.ts) against the generic path
// and against msgjson alone, on the bench payload, in one process (no HTTP, no gzip):
//   npm run build && node bench/traces/lines-micro.mjs
import { LineBuf } from '../../dist/agent/model/linebuf.js';
import { TraceProcessor } from '../../dist/agent/services/trace/processor.js';
import { schema } from '../../dist/inputs/ddtrace/config.js';
import { DdLineWriter } from '../../dist/inputs/ddtrace/lines.js';
import { spanJsons } from '../../dist/inputs/ddtrace/msgjson.js';
import { ddDecoder } from '../../dist/inputs/ddtrace/request.js';
import { cpuPerItem } from './measure.mjs';
import { ddtraceBody, SPANS_PER_REQUEST } from './payloads.mjs';

const body = ddtraceBody();
const cfg = schema.defaultValue();
const tags = { host: 'node-1', host_ip: '10.0.0.1', cluster: 'prod' };
const req = { route: '/v0.4/traces', contentType: 'application/msgpack', headers: {}, body };
const now = 1_700_000_000_000_000_000n;
const out = new LineBuf(1 << 20);
const writer = new DdLineWriter(cfg, new TraceProcessor('ddtrace', cfg));
const decode = ddDecoder(cfg);
const pipeline = new TraceProcessor('ddtrace', cfg);

const cases = {
  'fast path (lines.ts)': () => {
    out.reset();
    if (writer.write(req, out, tags, now) === undefined) throw new Error('fast path declined the bench payload');
  },
  'msgjson alone (spanJsons)': () => spanJsons(body),
  'generic (decode + pipeline + LineBuf.point)': () => {
    out.reset();
    for (const p of pipeline.process(decode(req).traces).points) {
      for (const k in tags) if (p.tags[k] === undefined) p.tags[k] = tags[k];
      out.point(p, now);
    }
  },
};
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const results = {};
for (let round = 0; round < 5; round++) {
  for (const [name, fn] of Object.entries(cases)) (results[name] ??= []).push(cpuPerItem(fn, SPANS_PER_REQUEST));
}
console.log(`CPU µs per span, median of 5 rounds (${SPANS_PER_REQUEST} spans a request, node ${process.version})`);
for (const [name, xs] of Object.entries(results)) console.log(`${name.padEnd(45)} ${median(xs).toFixed(2)}`);
