/**
 * A run's result as text, one key a line, sorted, typed as the language
 * writes values: `status_code = 200` (int), `ratio = 1.5` (float, always
 * with a point), `client_ip = "127.0.0.1"` (string), `isMobile = false`;
 * tags as `#key = "v"`; then `@time`, `@status`, `@measurement`, `@dropped`.
 * `telekit pipeline` prints it and the golden tests (testdata/<case>/expected)
 * compare against it.
 */
import type { RunOutcome } from './script.js';
import { toJson, type Value } from './value.js';

export function formatValue(v: Value): string {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'bigint':
      return v.toString();
    case 'number':
      return Number.isInteger(v) && Math.abs(v) < 1e21 ? v.toFixed(1) : String(v);
    case 'boolean':
      return String(v);
  }
  if (v === null) return 'nil';
  return JSON.stringify(toJson(v));
}

export function formatOutcome(o: RunOutcome, opts: { timeIso?: boolean } = {}): string {
  if (!o.ok) return `@error = ${JSON.stringify(o.error)}${o.timedOut ? '\n@timed_out = true' : ''}\n`;
  const out = o.out;
  const lines: string[] = [];
  for (const k of [...out.fields.keys()].sort()) {
    const v = out.fields.get(k)!;
    if (v === null) continue;
    lines.push(`${k} = ${formatValue(v)}`);
  }
  for (const k of [...(out.tags?.keys() ?? [])].sort()) lines.push(`#${k} = ${JSON.stringify(out.tags!.get(k))}`);
  for (const k of [...(out.droppedTags ?? [])].sort()) lines.push(`#${k} = (dropped)`);
  if (out.time !== undefined) lines.push(`@time = ${out.time}${opts.timeIso ? `  # ${new Date(Number(out.time / 1_000_000n)).toISOString()}` : ''}`);
  if (out.status !== undefined) lines.push(`@status = ${out.status}`);
  if (out.measurement !== undefined) lines.push(`@measurement = ${JSON.stringify(out.measurement)}`);
  if (out.dropped) lines.push('@dropped = true');
  return lines.join('\n') + '\n';
}
