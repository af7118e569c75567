/**
 * Summarises a sampling heap profile (HeapProfiler's format, as written by
 * ALLOC_PROFILE=file node bench/prom/schedule.mjs): bytes allocated per
 * function (self) and per file, as shares and as bytes per scrape when the
 * number of scrapes in the window is given.
 *
 *   node bench/prom/alloc-summary.mjs file.heapprofile [top=30] [scrapes]
 */
import fs from 'node:fs';

const [file, topArg, scrapesArg] = process.argv.slice(2);
const top = Number(topArg ?? 30);
const scrapes = Number(scrapesArg ?? 0);
const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
const bySelf = new Map();
const byFile = new Map();
let total = 0;
const walk = (n) => {
  const cf = n.callFrame;
  const size = (n.selfSize ?? 0);
  if (size > 0) {
    const url = (cf.url || '').replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/');
    const key = `${cf.functionName || '(anon)'} ${url}:${cf.lineNumber + 1}`;
    bySelf.set(key, (bySelf.get(key) ?? 0) + size);
    byFile.set(url || cf.functionName, (byFile.get(url || cf.functionName) ?? 0) + size);
    total += size;
  }
  for (const c of n.children ?? []) walk(c);
};
walk(prof.head);
const fmt = (b) => `${((100 * b) / total).toFixed(1).padStart(5)} %${scrapes ? `  ${(b / scrapes / 1024).toFixed(1).padStart(7)} KiB/scrape` : ''}`;
console.log(`${(total / 1048576).toFixed(1)} MiB sampled${scrapes ? `, ${(total / scrapes / 1024).toFixed(1)} KiB per scrape` : ''}\n\nself by function:`);
for (const [k, b] of [...bySelf].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${fmt(b)}  ${k}`);
console.log('\nself by file:');
for (const [k, b] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${fmt(b)}  ${k}`);
