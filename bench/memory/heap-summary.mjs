// Summarises a V8 heap snapshot: self size by node type and constructor name, largest first.
//
//   node --max-old-space-size=4096 bench/memory/heap-summary.mjs file.heapsnapshot [top=25]
import fs from 'node:fs';

const snap = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const top = Number(process.argv[3] ?? 25);
const { node_fields: fields, node_types: [types] } = snap.snapshot.meta;
const F = fields.length;
const iType = fields.indexOf('type');
const iName = fields.indexOf('name');
const iSize = fields.indexOf('self_size');
const by = new Map();
let total = 0;
for (let i = 0; i < snap.nodes.length; i += F) {
  const type = types[snap.nodes[i + iType]];
  const name = type === 'object' || type === 'native' || type === 'closure' ? snap.strings[snap.nodes[i + iName]] : '';
  const key = name ? `${type}: ${name.slice(0, 60)}` : type;
  const size = snap.nodes[i + iSize];
  total += size;
  const e = by.get(key) ?? { n: 0, size: 0 };
  e.n++;
  e.size += size;
  by.set(key, e);
}
console.log(`${(total / 2 ** 20).toFixed(1)} MiB in ${snap.nodes.length / F} nodes`);
console.log('| what | count | MiB (self) |\n|---|---|---|');
for (const [k, e] of [...by].sort((a, b) => b[1].size - a[1].size).slice(0, top)) console.log(`| ${k} | ${e.n} | ${(e.size / 2 ** 20).toFixed(1)} |`);
