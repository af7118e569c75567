#!/usr/bin/env node
// Rewrites the environment reference table in README.md from the agent's own lists
// (cli/env-all.ts, built to dist/). test/core/readme.test.ts fails when they drift.
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { envTable } = await import(path.join(root, 'dist/cli/env-all.js'));
const file = path.join(root, 'README.md');
const text = fs.readFileSync(file, 'utf8');
const start = '<!-- env-table:start -->';
const end = '<!-- env-table:end -->';
const i = text.indexOf(start);
const j = text.indexOf(end);
if (i < 0 || j < 0) throw new Error('README.md has no env-table markers');
fs.writeFileSync(file, text.slice(0, i + start.length) + '\n' + envTable() + '\n' + text.slice(j));
console.log('README.md: env table updated');
