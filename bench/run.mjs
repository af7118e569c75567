#!/usr/bin/env node
// Runs the benchmarks: `npm run bench` (all) or `npm run bench -- core statsd` (some).
// Each bench/<name>/run.mjs prints its own table; figures go to BENCHMARKS.md.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.dirname(new URL(import.meta.url).pathname);
const wanted = process.argv.slice(2);
const names = fs
  .readdirSync(root)
  .filter((d) => fs.existsSync(path.join(root, d, 'run.mjs')))
  .filter((d) => wanted.length === 0 || wanted.includes(d))
  .sort();
if (!fs.existsSync(path.join(root, '..', 'dist', 'agent'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}
let failed = 0;
for (const n of names) {
  console.log(`\n### bench/${n}`);
  const r = spawnSync(process.execPath, ['--expose-gc', path.join(root, n, 'run.mjs')], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
