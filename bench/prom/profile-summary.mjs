/**
 * Summarises a .cpuprofile (V8's format, as written by `--cpu-prof` or
 * CPU_PROFILE=... node bench/prom/schedule.mjs): self time per function and
 * per file, and inclusive time of the functions given on the command line.
 *
 *   node bench/prom/profile-summary.mjs file.cpuprofile [top=30] [function names...]
 */
import fs from 'node:fs';

const [file, topArg, ...want] = process.argv.slice(2);
const top = Number(topArg ?? 30);
const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const self = new Map();
const dt = prof.timeDeltas;
for (let i = 0; i < prof.samples.length; i++) self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + (dt[i] ?? 0));
const total = [...self.values()].reduce((a, b) => a + b, 0);
const idle = [...self].filter(([id]) => byId.get(id).callFrame.functionName === '(idle)').reduce((a, [, t]) => a + t, 0);
const busy = total - idle;
const label = (n) => `${n.callFrame.functionName || '(anon)'} ${(n.callFrame.url || '').replace(/^.*\/(dist|node_modules)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
const fnSelf = new Map();
const fileSelf = new Map();
for (const [id, t] of self) {
  const n = byId.get(id);
  if (n.callFrame.functionName === '(idle)') continue;
  fnSelf.set(label(n), (fnSelf.get(label(n)) ?? 0) + t);
  const f = (n.callFrame.url || n.callFrame.functionName).replace(/^.*\/(dist|node_modules)\//, '$1/');
  fileSelf.set(f, (fileSelf.get(f) ?? 0) + t);
}
const pct = (t) => `${((100 * t) / busy).toFixed(1).padStart(5)} %`;
console.log(`busy ${(busy / 1e6).toFixed(2)} s of ${(total / 1e6).toFixed(2)} s sampled`);
console.log('\nself time by function:');
for (const [k, t] of [...fnSelf].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(t)}  ${k}`);
console.log('\nself time by file:');
for (const [k, t] of [...fileSelf].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(t)}  ${k}`);
if (want.length > 0) {
  console.log('\ninclusive time (a sample counts once per function on its stack):');
  for (const w of want) {
    let t = 0;
    for (const [id, st] of self) {
      for (let x = id; x !== undefined; x = parent.get(x)) {
        if (byId.get(x).callFrame.functionName === w) {
          t += st;
          break;
        }
      }
    }
    console.log(`${pct(t)}  ${w}`);
  }
}
// CALLERS=name: where the self time of a function comes from (its callers, two frames up)
if (process.env.CALLERS) {
  const by = new Map();
  for (const [id, t] of self) {
    const n = byId.get(id);
    if (n.callFrame.functionName !== process.env.CALLERS) continue;
    const chain = [];
    for (let x = parent.get(id); x !== undefined && chain.length < (Number(process.env.DEPTH) || 4); x = parent.get(x)) chain.push(label(byId.get(x)));
    const k = chain.join(' < ');
    by.set(k, (by.get(k) ?? 0) + t);
  }
  console.log(`\ncallers of ${process.env.CALLERS}:`);
  for (const [k, t] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 10)) console.log(`${pct(t)}  ${k}`);
}
