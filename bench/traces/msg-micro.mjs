// Micro-benchmark: ddtrace span message by the specialised serializer vs JSON.stringify. node bench/traces/msg-micro.mjs
import { Unpackr } from 'msgpackr';
import { spanMessage } from '../../dist/inputs/ddtrace/convert.js';
import { ddtraceBody } from './payloads.mjs';
const spans = new Unpackr({ int64AsType: 'string', mapsAsObjects: true, useRecords: false }).unpack(ddtraceBody()).flat();
function rate(fn) { const t0 = performance.now(); let n = 0; while (performance.now() - t0 < 400) { for (const s of spans) fn(s); n += spans.length; } return Math.round(n / ((performance.now() - t0) / 1000)); }
for (let i = 0; i < 6; i++) console.log('spanMessage', rate((s) => spanMessage(s, String(s.trace_id), String(s.span_id), String(s.parent_id)).charCodeAt(5)), "JSON.stringify", rate((s) => JSON.stringify(s).charCodeAt(5)));
const RE = /"(trace_id|span_id|parent_id|start|duration)":"(-?\d+)"/g;
for (let i = 0; i < 4; i++) console.log('stringify+unquote', rate((s) => JSON.stringify(s).replace(RE, '"$1":$2').charCodeAt(5)), 'stringify', rate((s) => JSON.stringify(s).charCodeAt(5)));
