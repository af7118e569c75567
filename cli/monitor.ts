/**
 * `telekit monitor`: a terminal view of a running agent, read from its
 * `/v1/stats` (inputs, queues, sinks, drops) and `/metrics` (sink latency
 * histogram), refreshing in place. Rates and latency percentiles are computed
 * between two snapshots, so they describe the last interval, not the agent's
 * whole life.
 */
import { redactUrl } from '../agent/telemetry/redact.js';

export interface InputStats {
  name: string;
  instance: number;
  running?: boolean;
  points: number;
  errors: number;
  lastError?: string;
  lastErrorAt?: string | number;
}

export interface Stats {
  version: string;
  uptimeSeconds: number;
  hostname: string;
  inputs: InputStats[];
  queues: { category: string; points: number; capacity: number }[];
  sinks: { name: string; category: string; sent: number; failed: number; retries: number; latencyMsP50?: number; latencyMsAvg?: number }[];
  dropped: { category: string; reason: string; points: number }[];
}

/** Cumulative histogram buckets of telekit_sink_request_seconds, by `sink/category`. */
export type LatencyBuckets = Map<string, { le: number; count: number }[]>;

export interface Snapshot extends Stats {
  /** When the snapshot was taken (ms since the epoch); rates use it. */
  fetchedAt?: number;
  latency?: LatencyBuckets;
}

/** Parses the `telekit_sink_request_seconds_bucket` lines of a Prometheus text exposition. */
export function parseLatencyBuckets(text: string): LatencyBuckets {
  const out: LatencyBuckets = new Map();
  const re = /^telekit_sink_request_seconds_bucket\{([^}]*)\}\s+(\S+)/;
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of m[1]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    const key = `${labels.sink ?? ''}/${labels.category ?? ''}`;
    const le = labels.le === '+Inf' ? Infinity : Number(labels.le);
    const arr = out.get(key) ?? [];
    arr.push({ le, count: Number(m[2]) });
    out.set(key, arr);
  }
  for (const arr of out.values()) arr.sort((a, b) => a.le - b.le);
  return out;
}

/**
 * The q-quantile (0..1) in milliseconds of cumulative buckets, optionally minus
 * an earlier copy (the last interval only); linear inside a bucket, as
 * Prometheus' histogram_quantile does. Undefined when no request was observed.
 */
export function quantileMs(cur: { le: number; count: number }[], prev: { le: number; count: number }[] | undefined, q: number): number | undefined {
  const counts = cur.map((b) => b.count - (prev?.find((p) => p.le === b.le)?.count ?? 0));
  const total = counts.at(-1) ?? 0;
  if (!(total > 0)) return undefined;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (let i = 0; i < cur.length; i++) {
    const c = counts[i]!;
    const le = cur[i]!.le;
    if (c >= rank) {
      if (le === Infinity) return lower * 1000;
      const inBucket = c - below;
      return (lower + (inBucket > 0 ? ((rank - below) / inBucket) * (le - lower) : 0)) * 1000;
    }
    below = c;
    lower = le === Infinity ? lower : le;
  }
  return lower * 1000;
}

function fmtNum(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}

function fmtRate(n: number | undefined): string {
  if (n === undefined) return '-';
  return n >= 100 ? fmtNum(n) : n.toFixed(1);
}

function fmtMs(n: number | undefined): string {
  if (n === undefined) return '-';
  return n >= 1000 ? `${(n / 1000).toFixed(2)}s` : `${n.toFixed(n >= 10 ? 0 : 1)}ms`;
}

export function fmtDuration(s: number): string {
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d${h}h`;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  return `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
}

function ago(at: string | number | undefined, now: number): string {
  if (at === undefined) return '';
  const t = typeof at === 'number' ? at : Date.parse(at);
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, Math.round((now - t) / 1000));
  return `${s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m` : fmtDuration(s)} ago: `;
}

/** Left-aligned first column, right-aligned numbers, the last column free text. */
function row(cols: string[], widths: number[]): string {
  return cols
    .map((c, i) => (i === 0 ? c.padEnd(widths[0]!) : i < widths.length ? c.padStart(widths[i]!) : c))
    .join('  ')
    .trimEnd();
}

function clip(line: string, width: number): string {
  return line.length <= width ? line : `${line.slice(0, Math.max(0, width - 1))}…`;
}

/**
 * Renders one frame. `prev` is the snapshot before (undefined on the first
 * frame: rates show `-`). Pure: the same inputs give the same text.
 */
export function renderStats(prev: Snapshot | undefined, cur: Snapshot, width: number): string {
  const now = cur.fetchedAt ?? Date.now();
  const dt = prev ? ((cur.fetchedAt ?? 0) - (prev.fetchedAt ?? 0)) / 1000 || cur.uptimeSeconds - prev.uptimeSeconds : 0;
  const rate = (c: number, p: number | undefined) => (prev && dt > 0 && p !== undefined && c >= p ? (c - p) / dt : undefined);
  const lines: string[] = [];
  const totalRate = prev ? rate(sum(cur.inputs.map((i) => i.points)), sum(prev.inputs.map((i) => i.points))) : undefined;
  lines.push(`telekit ${cur.version}  host ${cur.hostname}  up ${fmtDuration(cur.uptimeSeconds)}  ${fmtRate(totalRate)} points/s`);
  lines.push('');

  const iw = [Math.max(12, ...cur.inputs.map((i) => `${i.name}[${i.instance}]`.length)), 9, 9, 7];
  lines.push(row(['INPUT', 'POINTS/S', 'POINTS', 'ERRORS', 'LAST ERROR'], iw));
  for (const i of [...cur.inputs].sort((a, b) => a.name.localeCompare(b.name) || a.instance - b.instance)) {
    const p = prev?.inputs.find((x) => x.name === i.name && x.instance === i.instance);
    const newErrors = p && i.errors > p.errors ? ` (+${i.errors - p.errors})` : '';
    const state = i.running === false ? ' (standby)' : '';
    const last = i.lastError ? `${ago(i.lastErrorAt, now)}${i.lastError.replace(/\s+/g, ' ')}` : '';
    lines.push(row([`${i.name}[${i.instance}]${state}`, fmtRate(rate(i.points, p?.points)), fmtNum(i.points), `${fmtNum(i.errors)}${newErrors}`, last], iw));
  }
  if (cur.inputs.length === 0) lines.push('(no inputs running)');
  lines.push('');

  const qw = [14, 9, 9, 6];
  lines.push(row(['QUEUE', 'POINTS', 'CAPACITY', 'FILL'], qw));
  for (const q of cur.queues) {
    lines.push(row([q.category, fmtNum(q.points), fmtNum(q.capacity), q.capacity > 0 ? `${Math.round((100 * q.points) / q.capacity)}%` : '-'], qw));
  }
  lines.push('');

  const sw = [Math.max(22, ...cur.sinks.map((s) => `${s.name} ${s.category}`.length)), 8, 9, 7, 7, 9, 9];
  lines.push(row(['SINK', 'SENT/S', 'SENT', 'FAILED', 'RETRIES', 'LAT P50', 'LAT P99'], sw));
  for (const s of [...cur.sinks].sort((a, b) => a.name.localeCompare(b.name) || a.category.localeCompare(b.category))) {
    const p = prev?.sinks.find((x) => x.name === s.name && x.category === s.category);
    const key = `${s.name}/${s.category}`;
    const buckets = cur.latency?.get(key);
    const before = prev?.latency?.get(key);
    // from the histogram over the last interval when /metrics answered, else what /v1/stats offers
    const p50 = buckets ? quantileMs(buckets, before, 0.5) : (s.latencyMsP50 ?? s.latencyMsAvg);
    const p99 = buckets ? quantileMs(buckets, before, 0.99) : undefined;
    lines.push(row([`${s.name} ${s.category}`, fmtRate(rate(s.sent, p?.sent)), fmtNum(s.sent), fmtNum(s.failed), fmtNum(s.retries), fmtMs(p50), fmtMs(p99)], sw));
  }
  if (cur.sinks.length === 0) lines.push('(nothing sent yet)');

  const drops = cur.dropped.filter((d) => d.points > 0);
  lines.push('');
  if (drops.length === 0) lines.push('DROPPED  none');
  else {
    const dw = [14, 16, 9, 8];
    lines.push(row(['DROPPED', 'REASON', 'POINTS', 'PER S'], dw));
    for (const d of drops) {
      const p = prev?.dropped.find((x) => x.category === d.category && x.reason === d.reason);
      lines.push(row([d.category, d.reason, fmtNum(d.points), fmtRate(rate(d.points, p?.points ?? (prev ? 0 : undefined)))], dw));
    }
  }
  return lines.map((l) => clip(l, width)).join('\n') + '\n';
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

/** Fetches one snapshot: /v1/stats, plus /metrics for the latency histogram when it answers. */
export async function fetchSnapshot(url: string, timeoutMs: number): Promise<Snapshot> {
  const base = url.replace(/\/+$/, '');
  const res = await fetch(`${base}/v1/stats`, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET ${base}/v1/stats answered ${res.status}`);
  const raw = (await res.json()) as Partial<Stats>;
  // tolerate an agent that reports less (another version): missing lists are empty
  const snap: Snapshot = {
    version: String(raw.version ?? '?'),
    uptimeSeconds: Number(raw.uptimeSeconds ?? 0),
    hostname: String(raw.hostname ?? '?'),
    inputs: Array.isArray(raw.inputs) ? raw.inputs : [],
    queues: Array.isArray(raw.queues) ? raw.queues : [],
    sinks: Array.isArray(raw.sinks) ? raw.sinks : [],
    dropped: Array.isArray(raw.dropped) ? raw.dropped : [],
    fetchedAt: Date.now(),
  };
  try {
    const m = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
    if (m.ok) snap.latency = parseLatencyBuckets(await m.text());
  } catch {
    /* latency columns fall back to /v1/stats */
  }
  return snap;
}

export interface MonitorOptions {
  url: string;
  intervalMs: number;
  out: NodeJS.WritableStream;
  /** Print one frame and return (rates need two snapshots: one interval is sampled first). */
  once?: boolean;
  signal?: AbortSignal;
}

/** Cursor home, then each line cleared to its end, then the rest of the screen: redraws without flicker. */
export function inPlace(frame: string, first: boolean): string {
  const body = frame.replace(/\n$/, '').split('\n').join('\x1b[K\n');
  return `${first ? '\x1b[2J' : ''}\x1b[H${body}\x1b[K\n\x1b[J`;
}

/**
 * Polls the agent and redraws. On a terminal each frame replaces the last;
 * otherwise frames are separated by a blank line. An unreachable agent is
 * shown and retried, except with `once`, where it rejects.
 */
export async function runMonitor(opts: MonitorOptions): Promise<void> {
  const interval = Math.max(100, opts.intervalMs);
  const tty = (opts.out as NodeJS.WriteStream).isTTY === true;
  const width = () => (opts.out as NodeJS.WriteStream).columns || 120;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      opts.signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
  const timeout = Math.max(2000, interval);

  if (opts.once) {
    const first = await fetchSnapshot(opts.url, timeout);
    await sleep(Math.min(interval, 1000));
    const second = opts.signal?.aborted ? undefined : await fetchSnapshot(opts.url, timeout).catch(() => undefined);
    opts.out.write(second ? renderStats(first, second, width()) : renderStats(undefined, first, width()));
    return;
  }

  let prev: Snapshot | undefined;
  let frames = 0;
  while (!opts.signal?.aborted) {
    let frame: string;
    try {
      const cur = await fetchSnapshot(opts.url, timeout);
      frame = renderStats(prev, cur, width());
      prev = cur;
    } catch (e) {
      frame = `cannot reach telekit at ${redactUrl(opts.url)}: ${redactUrl((e as Error).message)}; retrying every ${interval} ms\n`;
      prev = undefined;
    }
    opts.out.write(tty ? inPlace(frame, frames === 0) : (frames > 0 ? '\n' : '') + frame);
    frames++;
    await sleep(interval);
  }
}
