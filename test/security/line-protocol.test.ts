/**
 * Issue 16, case 8: line protocol that cannot be passed on is refused with the
 * line and the reason, instead of answering 200 and losing it (a non-finite
 * float vanished with its point) or forwarding it (a timestamp beyond int64
 * made the dataway refuse the whole batch, other clients' points included).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startTestAgent, type TestAgent } from '../helpers/agent.js';

let t: TestAgent | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

async function write(body: string, query = ''): Promise<{ status: number; text: string }> {
  const r = await fetch(`${t!.url}/v1/write/metric${query}`, { method: 'POST', body });
  const text = await r.text();
  return { status: r.status, text: r.status === 400 ? (JSON.parse(text) as { error: string }).error : text };
}

describe('/v1/write refuses what line protocol cannot carry', () => {
  it.each([
    ['a float beyond double range', 'ok v=1\nbad,host=x v=1e400\n', 2, /float 1e400 out of range/],
    ['a negative one', 'bad v=-1e400,w=2i\n', 1, /out of range/],
    ['inf', 'bad v=inf\n', 1, /invalid value "inf"/],
    ['NaN', 'ok v=1\n\nbad v=NaN\n', 3, /invalid value "NaN"/],
    ['a timestamp beyond int64', 'bad v=1 9223372036854775808\n', 1, /timestamp 9223372036854775808 out of range/],
    ['a timestamp below int64', 'bad v=1 -9223372036854775809\n', 1, /timestamp -9223372036854775809 out of range/],
  ])('%s: 400 with the line number, the reason and the line', async (_what, body, line, reason) => {
    t ??= await startTestAgent();
    const r = await write(body);
    expect(r.status).toBe(400);
    expect(r.text).toContain(`line ${line}:`);
    expect(r.text).toMatch(reason);
    expect(r.text).toContain('bad');
  });

  it('a timestamp in range as written but beyond int64 after ?precision=s is refused; the batch is not forwarded', async () => {
    t = await startTestAgent();
    const r = await write('m1 v=1 1700000000\nm2 v=2 9300000000\n', '?precision=s');
    expect(r.status).toBe(400);
    expect(r.text).toMatch(/line 2: timestamp 9300000000 out of range/);
    expect((await write('m3 v=3 1700000000', '?precision=s')).status).toBe(200);
    expect((await write('m4 v=1.7976931348623157e308\n')).status).toBe(200); // the largest double is fine
    const pts = await t.dataway.waitForPoints('metric', (p) => p.length >= 2);
    expect(pts.map((p) => p.name).sort()).toEqual(['m3', 'm4']);
    expect(pts.find((p) => p.name === 'm3')!.time).toBe(1_700_000_000_000_000_000n);
  });
});
