import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { DiskQueue } from '../../agent/delivery/buffer/disk-queue.js';
import { mutate, RUNS, SEED } from './harness.js';

const opArb = fc.record({
  kind: fc.integer({ min: 0, max: 6 }),
  pos: fc.nat(),
  len: fc.integer({ min: 1, max: 64 }),
  byte: fc.integer({ min: 0, max: 255 }),
  token: fc.nat(10),
  extra: fc.uint8Array({ maxLength: 16 }),
});

describe('disk queue on corrupted segments', () => {
  it('never throws; every record it returns is one that was written, in order unless a mutation duplicated bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ minLength: 1, maxLength: 200 }), { minLength: 1, maxLength: 20 }), fc.array(opArb, { minLength: 1, maxLength: 6 }), fc.boolean(), async (records, ops, garbageCursor) => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'telekit-dqfuzz-'));
        try {
          let q = await DiskQueue.open(dir, { maxBytes: 1 << 20, segmentBytes: 4096, sync: false });
          for (const r of records) await q.append(r);
          await q.close();
          for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.seg'))) fs.writeFileSync(path.join(dir, f), mutate(fs.readFileSync(path.join(dir, f)), ops));
          if (garbageCursor) fs.writeFileSync(path.join(dir, 'cursor'), mutate(Buffer.from('{"seg":0,"off":0}'), ops));
          q = await DiskQueue.open(dir, { maxBytes: 1 << 20, segmentBytes: 4096, metrics: new Registry() });
          const out: Buffer[] = [];
          // A duplicated byte range can hold whole valid records: they come back twice (CRC cannot tell).
          const dups = ops.filter((o) => o.kind === 5).length;
          for (let r = await q.peek(); r; r = await q.peek()) {
            out.push(r);
            await q.ack();
            expect(out.length).toBeLessThanOrEqual(records.length * (1 + dups));
          }
          expect(q.bytes).toBe(0);
          expect(q.length).toBe(0);
          await q.close();
          // CRC-checked records are never altered: each is one of the originals...
          for (const o of out) expect(records.some((r) => Buffer.from(r).equals(o))).toBe(true);
          // ...and without duplication they come back as an in-order subsequence.
          if (dups === 0) {
            let j = 0;
            for (const o of out) {
              while (j < records.length && !Buffer.from(records[j]!).equals(o)) j++;
              expect(j).toBeLessThan(records.length);
              j++;
            }
          }
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      }),
      { seed: SEED, numRuns: Math.min(RUNS, 80) },
    );
  });
});
