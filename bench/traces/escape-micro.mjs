// Micro-benchmark for the core (agent/model/lineproto.ts): escaping JSON span messages for line-protocol
// string fields. Every tracing message contains `"`. Usage: node bench/traces/escape-micro.mjs
import { Unpackr } from 'msgpackr';
import { ddtraceBody } from './payloads.mjs';
const msgs = new Unpackr({ int64AsType: 'string', mapsAsObjects: true, useRecords: false }).unpack(ddtraceBody()).flat().map((s) => JSON.stringify(s));
const RE = /["\\]/;
const variants = {
  'replace(/["\\\\]/g, "\\\\$&") (current)': (s) => (RE.test(s) ? s.replace(/["\\]/g, '\\$&') : s),
  'replaceAll x2': (s) => (RE.test(s) ? s.replaceAll('\\', '\\\\').replaceAll('"', '\\"') : s),
  'split/join x2': (s) => (RE.test(s) ? s.split('\\').join('\\\\').split('"').join('\\"') : s),
  'JSON.stringify when no control char or lone surrogate (agent/model/lineproto.ts quoteStr, with quotes)': (s) => (/[\x00-\x1f\ud800-\udfff]/u.test(s) ? s : JSON.stringify(s)),
};
function rate(fn) { const c0 = process.cpuUsage(); let n = 0; const t0 = performance.now(); while (performance.now() - t0 < 300) { for (const m of msgs) fn(m).charCodeAt(3); n += msgs.length; } const c = process.cpuUsage(c0); return Math.round(n / ((c.user + c.system) / 1e6)); }
for (let i = 0; i < 3; i++) for (const [k, f] of Object.entries(variants)) console.log(k, rate(f), 'messages per CPU-s');
