/** default_time() and parse_duration(). */
import type { Run } from '../runtime.js';
import { parseTimeText, parseZone, type Zone } from '../timeparse.js';
import type { FnSpec } from './types.js';

export const default_time: FnSpec = {
  params: ['key', 'timezone'],
  min: 1,
  compile(args, c) {
    const key = c.key(args[0]!);
    let zone: Zone = c.defaultZone;
    if (args[1] !== undefined) {
      const tz = c.literal(args[1]);
      if (tz === undefined) return c.fail(args[1], 'the timezone must be a string literal');
      const z = parseZone(tz);
      if (z === undefined) return c.fail(args[1], `unknown timezone ${JSON.stringify(tz)}`);
      if (tz.trim() !== '') zone = z;
    }
    // lines of the same second carry the same text: keep the last answers (two: a log
    // interleaving two formats, such as nginx's access and error lines, keeps both)
    let lastText: string | undefined;
    let lastNs: bigint | undefined;
    let prevText: string | undefined;
    let prevNs: bigint | undefined;
    const known = c.known([key]);
    return (r: Run) => {
      const v = r.getKnown(known, 0);
      if (typeof v === 'bigint') return null;
      if (typeof v !== 'string') return null;
      let ns: bigint | undefined;
      if (v === lastText) ns = lastNs;
      else if (v === prevText) {
        ns = prevNs;
        prevText = lastText;
        prevNs = lastNs;
        lastText = v;
        lastNs = ns;
      } else {
        ns = parseTimeText(v, zone);
        prevText = lastText;
        prevNs = lastNs;
        lastText = v;
        lastNs = ns;
      }
      if (ns === undefined) throw new Error(`default_time: cannot parse ${JSON.stringify(v.length > 64 ? v.slice(0, 64) + '…' : v)} as a time`);
      r.setKnown(known, 0, ns);
      return null;
    };
  },
};

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration: `[-+]?(\d*\.?\d+unit)+`, e.g. `1h2m3.5s`, `-2.3s`, `123ms`. */
export function parseGoDuration(s: string): bigint | undefined {
  const m = /^([-+]?)((?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)$/.exec(s.trim());
  if (!m) return s.trim() === '0' ? 0n : undefined;
  let total = 0;
  for (const p of m[2]!.matchAll(/(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) total += Number(p[1]) * UNIT_NS[p[2]!]!;
  const ns = BigInt(Math.round(total));
  return m[1] === '-' ? -ns : ns;
}

export const parse_duration: FnSpec = {
  params: ['key'],
  min: 1,
  compile(args, c) {
    const key = c.key(args[0]!);
    return (r: Run) => {
      const v = r.get(key);
      if (typeof v !== 'string') return null;
      const ns = parseGoDuration(v);
      if (ns !== undefined) r.set(key, ns);
      return null;
    };
  },
};

const PRECISION_NS: Record<string, bigint> = { s: 1_000_000_000n, ms: 1_000_000n, us: 1000n, ns: 1n };

/** duration_precision(key, old, new): an int duration from one of s, ms, us, ns to another. */
export const duration_precision: FnSpec = {
  params: ['key', 'old_precision', 'new_precision'],
  min: 3,
  compile(args, c) {
    const key = c.key(args[0]!);
    const from = c.literal(args[1]!);
    const to = c.literal(args[2]!);
    if (from === undefined || PRECISION_NS[from] === undefined) return c.fail(args[1]!, 'precision must be "s", "ms", "us" or "ns"');
    if (to === undefined || PRECISION_NS[to] === undefined) return c.fail(args[2]!, 'precision must be "s", "ms", "us" or "ns"');
    const a = PRECISION_NS[from]!;
    const b = PRECISION_NS[to]!;
    return (r: Run) => {
      const v = r.get(key);
      if (typeof v === 'bigint') r.set(key, (v * a) / b);
      return null;
    };
  },
};
