#!/usr/bin/env node
// Copies each input's sample.conf (the source of truth, beside its schema) into conf.d/:
// conf.d/<name>/<name>.conf.sample for every input, and conf.d/<name>/<name>.conf for the
// inputs `npm start` runs. test/core/registry.test.ts fails when they drift: run `npm run samples`.
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { DEFAULT_ON } = await import(path.join(root, 'scripts/default-on.mjs'));
for (const name of fs.readdirSync(path.join(root, 'inputs')).sort()) {
  const sample = path.join(root, 'inputs', name, 'sample.conf');
  if (!fs.existsSync(sample)) continue;
  const dir = path.join(root, 'conf.d', name);
  fs.mkdirSync(dir, { recursive: true });
  const text = fs.readFileSync(sample, 'utf8');
  fs.writeFileSync(path.join(dir, `${name}.conf.sample`), text);
  if (DEFAULT_ON.includes(name)) fs.writeFileSync(path.join(dir, `${name}.conf`), text);
  else fs.rmSync(path.join(dir, `${name}.conf`), { force: true });
  console.log(`conf.d/${name}/${name}.conf${DEFAULT_ON.includes(name) ? ' (+ .sample)' : '.sample'}`);
}
