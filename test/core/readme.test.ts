import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentEnvDocs, envTable } from '../../cli/env-all.js';
import { BUFFER_ENV } from '../../agent/delivery/buffer/disk-buffer.js';
import { MEMORY_ENV } from '../../agent/runtime/memlimit.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

describe('README', () => {
  it('names the install, start and test commands', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm test');
  });

  it('holds the environment reference generated from the agent (run `npm run build && node scripts/env-table.mjs`)', () => {
    const m = /<!-- env-table:start -->\n([\s\S]*?)\n<!-- env-table:end -->/.exec(readme);
    expect(m?.[1]).toBe(envTable());
  });

  it('lists the disk buffer\'s and the memory limit\'s ENV names in the reference', () => {
    const names = agentEnvDocs().map((e) => e.name);
    for (const e of [...BUFFER_ENV, ...MEMORY_ENV]) expect(names).toContain(e.name);
  });

  it('.ci/run runs exactly the README commands', () => {
    const ci = fs.readFileSync(path.join(ROOT, '.ci/run'), 'utf8');
    expect(ci).toMatch(/^npm ci$/m);
    expect(ci).toMatch(/^npm test$/m);
  });
});
