import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { envTable } from '../../agent/env-all.js';

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

  it('.ci/run runs exactly the README commands', () => {
    const ci = fs.readFileSync(path.join(ROOT, '.ci/run'), 'utf8');
    expect(ci).toMatch(/^npm ci$/m);
    expect(ci).toMatch(/^npm test$/m);
  });
});
