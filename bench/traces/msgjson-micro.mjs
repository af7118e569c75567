// Micro-benchmark: every ddtrace span's `message` JSON written from the msgpack bytes
// (inputs/ddtrace/msgjson.ts spanJsons) vs msgpackr decode + JSON.stringify per span, and
// vs msgpackr decode alone, on bench/traces/payloads.mjs ddtraceBody() (500 spans).
// Same process, variants alternated, CPU time (the box is shared), medians of ROUNDS.
// Usage: npm run build && node bench/traces/msgjson-micro.mjs [rounds]
//   --copy: also the ways to copy the payload's strings that were tried (byte loop, scan + buf.copy,
//           scan + byte copy, 4 bytes at a time: the one spanJsons uses);
//   --lp:   also the line-protocol escaping of the resulting messages (agent/model/lineproto.ts LineBuf
//           escaped()'s byte loop vs 4 bytes at a time), the pass that follows spanJsons.
import { Unpackr } from 'msgpackr';
import { spanJsons } from '../../dist/inputs/ddtrace/msgjson.js';
import { ddtraceBody, SPANS_PER_REQUEST } from './payloads.mjs';

const ROUNDS = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 7);
const SLICE_MS = 150;
const body = ddtraceBody();
const unpackr = new Unpackr({ int64AsType: 'string', mapsAsObjects: true, useRecords: false });

let sink = 0;
const variants = {
  'spanJsons(body)': () => {
    const r = spanJsons(body);
    sink += r.ends[r.ends.length - 1];
  },
  'msgpackr decode + JSON.stringify per span': () => {
    for (const t of unpackr.unpack(body)) for (const s of t) sink += JSON.stringify(s).length;
  },
  'msgpackr decode alone': () => {
    sink += unpackr.unpack(body).length;
  },
};

/** Spans per CPU-second of one variant over one slice. */
function rate(fn) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < SLICE_MS) {
    fn();
    n += SPANS_PER_REQUEST;
  }
  const c = process.cpuUsage(c0);
  return n / ((c.user + c.system) / 1e6);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const r = spanJsons(body);
console.log(`payload ${body.length} B msgpack, ${r.ends.length} spans, ${r.arena.length} B of JSON (${Math.round(r.arena.length / r.ends.length)} B/span)`);
for (const fn of Object.values(variants)) rate(fn); // warm up
const runs = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
for (let i = 0; i < ROUNDS; i++) for (const [k, fn] of Object.entries(variants)) runs[k].push(rate(fn));
const med = Object.fromEntries(Object.entries(runs).map(([k, xs]) => [k, median(xs)]));
for (const [k, v] of Object.entries(med)) console.log(`${k.padEnd(44)} ${Math.round(v).toLocaleString('en').padStart(10)} spans/CPU-s  ${(1e6 / v).toFixed(3)} µs/span`);
const stringifyOnly = 1e6 / med['msgpackr decode + JSON.stringify per span'] - 1e6 / med['msgpackr decode alone'];
console.log(`JSON.stringify alone (difference of medians): ${stringifyOnly.toFixed(3)} µs/span; spanJsons: ${(1e6 / med['spanJsons(body)']).toFixed(3)} µs/span`);

/** Medians of alternated CPU-time slices, as ns per span. */
function compare(title, fns) {
  for (const fn of Object.values(fns)) rate(fn);
  const xs = Object.fromEntries(Object.keys(fns).map((k) => [k, []]));
  for (let i = 0; i < ROUNDS; i++) for (const [k, fn] of Object.entries(fns)) xs[k].push(rate(fn));
  console.log(title);
  for (const [k, v] of Object.entries(xs)) console.log(`  ${k.padEnd(44)} ${Math.round(1e9 / median(v)).toString().padStart(6)} ns/span`);
}

/** True when 4 bytes (little-endian uint32) hold none of ≥ 0x80, < 0x20, `"`, `\\`. */
const plain4 = (v) => ((v | (v - 0x2020_2020) | ((v ^ 0x2222_2222) - 0x0101_0101) | ((v ^ 0x5c5c_5c5c) - 0x0101_0101)) & 0x8080_8080) === 0;

if (process.argv.includes('--copy')) {
  // every str of the payload, by a plain recursive walk (the bench payload has no bin, ext or 32-bit headers)
  const strs = [];
  const bdv = new DataView(body.buffer, body.byteOffset, body.length);
  let p = 0;
  const SIZES = { 0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8, 0xd0: 1, 0xd1: 2, 0xd2: 4, 0xd3: 8, 0xca: 4, 0xcb: 8, 0xc0: 0, 0xc2: 0, 0xc3: 0 };
  const skip = () => {
    const b = body[p];
    if (b < 0x80 || b >= 0xe0) p++;
    else if (b < 0xa0 || b === 0xdc || b === 0xde) {
      const n = b < 0xa0 ? b & 15 : bdv.getUint16(p + 1);
      p += b < 0xa0 ? 1 : 3;
      for (let i = 0; i < ((b >= 0x80 && b < 0x90) || b === 0xde ? 2 * n : n); i++) skip();
    } else if (b < 0xc0 || b === 0xd9) {
      const h = b < 0xc0 ? 1 : 2;
      const n = b < 0xc0 ? b & 31 : body[p + 1];
      strs.push(p + h, p + h + n);
      p += h + n;
    } else p += 1 + SIZES[b];
  };
  skip();
  const S = Int32Array.from(strs);
  const CLS = new Uint8Array(256).map((_, c) => (c < 0x20 || c === 0x22 || c === 0x5c || c >= 0x80 ? 1 : 0));
  const out = Buffer.allocUnsafe(body.length * 2);
  const odv = new DataView(out.buffer, out.byteOffset, out.length);
  const each = (f) => () => {
    let o = 0;
    for (let i = 0; i < S.length; i += 2) o = f(S[i], S[i + 1], o);
    sink += o;
  };
  compare(`copying the payload's ${S.length / 2} strings (all plain ASCII), per span:`, {
    'byte loop with a class table': each((s, e, o) => {
      for (let i = s; i < e; i++) {
        const c = body[i];
        if (CLS[c] !== 0) return -1;
        out[o++] = c;
      }
      return o;
    }),
    'scan, then buf.copy (> 24 B) or byte copy': each((s, e, o) => {
      for (let i = s; i < e; i++) if (CLS[body[i]] !== 0) return -1;
      if (e - s > 24) body.copy(out, o, s, e);
      else for (let i = s; i < e; i++) out[o + i - s] = body[i];
      return o + e - s;
    }),
    '4 bytes at a time, then a byte loop': each((s, e, o) => {
      let i = s;
      for (; i + 4 <= e; i += 4, o += 4) {
        const v = bdv.getUint32(i, true);
        if (!plain4(v)) return -1;
        odv.setUint32(o, v, true);
      }
      for (; i < e; i++) out[o++] = body[i];
      return o;
    }),
  });
}

if (process.argv.includes('--lp')) {
  const { arena, ends } = spanJsons(body);
  const adv = new DataView(arena.buffer, arena.byteOffset, arena.length);
  const d = Buffer.allocUnsafe(arena.length * 2 + 8);
  const ddv = new DataView(d.buffer, d.byteOffset, d.length);
  const views = Array.from(ends, (e, i) => arena.subarray(ends[i - 1] ?? 0, e));
  const noQuote4 = (v) => (((((v ^ 0x2222_2222) - 0x0101_0101) & ~(v ^ 0x2222_2222)) | (((v ^ 0x5c5c_5c5c) - 0x0101_0101) & ~(v ^ 0x5c5c_5c5c))) & 0x8080_8080) === 0;
  const byByte = (b) => {
    let o = 0;
    for (let i = 0; i < b.length; i++) {
      const c = b[i];
      if (c === 34 || c === 92) d[o++] = 92;
      d[o++] = c;
    }
    return o;
  };
  const by4 = (s, e) => {
    let i = s;
    let o = 0;
    while (i < e) {
      if (i + 4 <= e) {
        const v = adv.getUint32(i, true);
        if (noQuote4(v)) {
          ddv.setUint32(o, v, true);
          o += 4;
          i += 4;
          continue;
        }
      }
      const c = arena[i++];
      if (c === 34 || c === 92) d[o++] = 92;
      d[o++] = c;
    }
    return o;
  };
  for (let k = 0; k < ends.length; k++) {
    const want = Buffer.from(d.subarray(0, byByte(views[k])));
    if (!want.equals(d.subarray(0, by4(ends[k - 1] ?? 0, ends[k])))) throw new Error(`escaping differs on span ${k}`);
  }
  compare('line-protocol escaping (`"` and `\\` get a backslash) of the spanJsons messages, per span:', {
    'LineBuf.escaped() byte loop': () => {
      for (const b of views) sink += byByte(b);
    },
    '4 bytes at a time when none is " or \\': () => {
      for (let k = 0; k < ends.length; k++) sink += by4(ends[k - 1] ?? 0, ends[k]);
    },
  });
}
if (sink === 0) console.log('');
