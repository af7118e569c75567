import zlib from 'node:zlib';
import crypto from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GzipPool } from './gzip.js';

const logs = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => `logging,host=h message="line ${i * seed} of ${seed} INFO served",status="info" ${1714557600000000000 + i}\n`).join(''));

describe('GzipPool', () => {
  afterEach(() => vi.restoreAllMocks());

  it('makes the same bytes as zlib.gzipSync, body after body through one context', async () => {
    const made = vi.spyOn(zlib, 'createGzip');
    const pool = new GzipPool(3, 2);
    // text, empty, incompressible (several output rounds), text again: each must be a whole member of its own
    const bodies = [logs(2000, 1), Buffer.alloc(0), crypto.randomBytes(600 << 10), logs(5000, 7), logs(10, 3)];
    for (const b of bodies) {
      const out = await pool.gzip(b);
      expect(out.equals(zlib.gzipSync(b, { level: 3 }))).toBe(true);
      expect(zlib.gunzipSync(out).equals(b)).toBe(true);
    }
    expect(made).toHaveBeenCalledTimes(1);
    pool.close();
  });

  it('frees the kept contexts once none was used for idleMs, and makes a new one when needed again', async () => {
    const made = vi.spyOn(zlib, 'createGzip');
    const pool = new GzipPool(3, 2, 40);
    const body = logs(100, 2);
    await pool.gzip(body);
    expect(pool.kept).toBe(1);
    // used again within idleMs: still kept, still the one context
    await new Promise((r) => setTimeout(r, 25));
    await pool.gzip(body);
    await new Promise((r) => setTimeout(r, 25));
    expect(pool.kept).toBe(1);
    expect(made).toHaveBeenCalledTimes(1);
    await new Promise((r) => setTimeout(r, 120));
    expect(pool.kept).toBe(0);
    expect(zlib.gunzipSync(await pool.gzip(body)).equals(body)).toBe(true);
    expect(made).toHaveBeenCalledTimes(2);
    pool.close();
  });

  it('takes a view into a larger buffer, and bodies compressed at once, each in its own context', async () => {
    const made = vi.spyOn(zlib, 'createGzip');
    const pool = new GzipPool(1, 2);
    const big = logs(4000, 5);
    const views = [big.subarray(0, 1000), big.subarray(1000, 200_000), big.subarray(200_000)];
    const outs = await Promise.all(views.map((v) => pool.gzip(v)));
    outs.forEach((o, i) => expect(zlib.gunzipSync(o).equals(views[i]!)).toBe(true));
    expect(made).toHaveBeenCalledTimes(3);
    // two were kept, the third was freed: the next two bodies reuse the kept ones
    await Promise.all([pool.gzip(views[0]!), pool.gzip(views[1]!)]);
    expect(made).toHaveBeenCalledTimes(3);
    pool.close();
    // after close: still compresses, in a context that is not kept
    expect(zlib.gunzipSync(await pool.gzip(views[2]!)).equals(views[2]!)).toBe(true);
    expect(made).toHaveBeenCalledTimes(4);
  });
});
