/**
 * Issue 16, case 8 (second half): a dataway 400 on a batch is isolated by
 * splitting the batch, so one client's bad point cannot drop everyone's; what
 * is finally refused is counted (rejected) and logged, rate-limited, with the
 * dataway's reason; the number of extra requests is bounded. The same holds
 * for a batch replayed from the disk buffer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { startTestAgent } from '../helpers/agent.js';
import { TestDataway } from '../helpers/dataway.js';
import { waitFor } from '../helpers/wait.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function metric(url: string, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{')) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Three clients write 600 points (seq 0-599) at once; client b's body holds one bad point, `evil`. Returns the answers' statuses. */
async function writeThreeClients(url: string): Promise<number[]> {
  const body = (client: string, from: number, n: number) => Array.from({ length: n }, (_, i) => `w,client=${client} seq=${from + i}i`).join('\n');
  const answers = await Promise.all([
    fetch(`${url}/v1/write/metric`, { method: 'POST', body: body('a', 0, 200) }),
    fetch(`${url}/v1/write/metric`, { method: 'POST', body: `${body('b', 200, 150)}\nevil,client=b seq=-1i\n${body('b', 350, 50)}` }),
    fetch(`${url}/v1/write/metric`, { method: 'POST', body: body('c', 400, 200) }),
  ]);
  return answers.map((a) => a.status);
}

describe('a dataway 400 on a batch', () => {
  it('drops only the refused point: the batch is split until it is isolated, counted and logged with the reason', async () => {
    const dw = await TestDataway.start();
    // the dataway refuses any body holding the bad point, with its reason
    dw.respond((r) => (r.body.toString().includes('evil') ? { status: 400, body: '{"error_code":"datakit.invalidLinePoint","message":"bad point: evil"}' } : undefined));
    let logs = '';
    const log = pino(
      { level: 'warn' },
      new Writable({
        write(c: Buffer, _e, cb) {
          logs += c.toString();
          cb();
        },
      }),
    );
    const t = await startTestAgent({ dataway: dw, env: { ENV_IO_FLUSH_INTERVAL: '1s' }, extra: { log } });
    cleanups.push(() => t.stop());
    // three clients write within one flush interval: one batch, one bad point among 600
    expect(await writeThreeClients(t.url)).toEqual([200, 200, 200]);
    await waitFor(async () => (await metric(t.url, 'telekit_points_dropped_total', { reason: 'rejected' })) > 0, { what: 'the refusal counted' });
    const got = new Set(dw.points('metric', 'w').map((p) => Number(p.fields.seq as bigint)));
    expect(got.size).toBe(600);
    expect(dw.points('metric', 'evil')).toEqual([]);
    expect(await metric(t.url, 'telekit_points_dropped_total', { reason: 'rejected' })).toBe(1);
    // bounded: about 2 × log2(601) requests beyond the first
    const writes = dw.requests.filter((r) => r.category === 'metric').length;
    expect(writes).toBeLessThanOrEqual(1 + 2 * 10 + 1);
    expect(logs).toContain('bad point: evil');
  });

  it('a batch replayed from the disk buffer is isolated the same way: only the refused point is dropped, counted', async () => {
    const dw = await TestDataway.start();
    let down = true;
    dw.respond((r) => (down ? { status: 503 } : r.body.toString().includes('evil') ? { status: 400, body: '{"error_code":"datakit.invalidLinePoint","message":"bad point: evil"}' } : undefined));
    const t = await startTestAgent({ dataway: dw, env: { ENV_IO_FLUSH_INTERVAL: '1s', ENV_DATAWAY_MAX_RETRY_COUNT: '1' } });
    cleanups.push(() => t.stop());
    expect(await writeThreeClients(t.url)).toEqual([200, 200, 200]);
    await waitFor(async () => (await metric(t.url, 'telekit_sink_points_total', { result: 'spilled' })) >= 601, { what: 'the batch spilled to the disk buffer' });
    down = false;
    await waitFor(async () => (await metric(t.url, 'telekit_buffer_replayed_points_total', { result: 'rejected' })) > 0, { what: 'the replayed refusal counted', timeoutMs: 20_000 });
    const got = new Set(dw.points('metric', 'w').map((p) => Number(p.fields.seq as bigint)));
    expect(got.size).toBe(600);
    expect(dw.points('metric', 'evil')).toEqual([]);
    expect(await metric(t.url, 'telekit_buffer_replayed_points_total', { result: 'rejected' })).toBe(1);
    expect(await metric(t.url, 'telekit_buffer_replayed_points_total', { result: 'sent' })).toBe(600);
  });
});
