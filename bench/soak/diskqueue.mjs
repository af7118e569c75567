#!/usr/bin/env node
// Disk buffer throughput: DiskQueue.append (record framing + CRC32 + write + fdatasync) and peek/ack, against
// the floor of a raw write + fdatasync of the same bytes. 200 records of 100 KiB (a spilled batch of ~1 000
// points is about that size). Median of 5 runs.   npm run build && node bench/soak/diskqueue.mjs
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DiskQueue } from '../../dist/agent/delivery/buffer/disk-queue.js';

const N = 200;
const SIZE = 100 * 1024;
const rec = Buffer.alloc(SIZE, 'x');
const median = (a) => a.sort((x, y) => x - y)[a.length >> 1];
const base = process.env.BENCH_DIR ?? os.tmpdir();
const res = { floor: [], append: [], drain: [], appendNoSync: [] };
for (let run = 0; run < 5; run++) {
  const d1 = fs.mkdtempSync(path.join(base, 'dqb-'));
  let t = performance.now();
  const fd = fs.openSync(path.join(d1, 'raw'), 'w');
  for (let i = 0; i < N; i++) {
    fs.writeSync(fd, rec);
    fs.fdatasyncSync(fd);
  }
  fs.closeSync(fd);
  res.floor.push(performance.now() - t);
  for (const sync of [true, false]) {
    const d = fs.mkdtempSync(path.join(base, 'dqb-'));
    const q = await DiskQueue.open(d, { maxBytes: 2 ** 31, sync });
    t = performance.now();
    for (let i = 0; i < N; i++) await q.append(rec);
    res[sync ? 'append' : 'appendNoSync'].push(performance.now() - t);
    if (sync) {
      t = performance.now();
      for (let r = await q.peek(); r; r = await q.peek()) await q.ack();
      res.drain.push(performance.now() - t);
    }
    await q.close();
    fs.rmSync(d, { recursive: true, force: true });
  }
  fs.rmSync(d1, { recursive: true, force: true });
}
const mb = (N * SIZE) / 2 ** 20;
const row = (name, ms) => console.log(`| ${name} | ${ms.toFixed(1)} ms | ${(mb / (ms / 1000)).toFixed(0)} MiB/s | ${((N / ms) * 1000).toFixed(0)} records/s |`);
console.log(`${N} records of ${SIZE / 1024} KiB in ${base}, median of 5`);
console.log('| operation | time | throughput | records |');
console.log('|---|---:|---:|---:|');
row('floor: raw write + fdatasync', median(res.floor));
row('DiskQueue.append (sync: true)', median(res.append));
row('DiskQueue.append (sync: false)', median(res.appendNoSync));
row('DiskQueue peek + ack (drain)', median(res.drain));
