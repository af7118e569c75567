/**
 * The tree's architecture, enforced: imports run one way (inputs → agent's
 * services and contracts → the core), nothing in agent/ imports inputs/ or
 * cli/, and there are no circles. The rules live in .dependency-cruiser.cjs
 * and are described in agent/README.md.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'node_modules/.bin/depcruise');
const CONFIG = path.join(ROOT, '.dependency-cruiser.cjs');

interface Violation { rule: { name: string }; from: string; to: string; cycle?: unknown[] }

function cruise(cwd: string, dirs: string[]): Violation[] {
  const out = execFileSync(BIN, [...dirs, '--config', CONFIG, '--output-type', 'json'], { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  const result = JSON.parse(out) as { summary: { violations: Violation[]; totalCruised: number } };
  expect(result.summary.totalCruised).toBeGreaterThan(0);
  return result.summary.violations;
}

describe('structure', () => {
  it('agent/, cli/ and inputs/ follow the import rules', () => {
    const v = cruise(ROOT, ['agent', 'cli', 'inputs']);
    expect(v.map((x) => `${x.rule.name}: ${x.from} → ${x.to}`)).toEqual([]);
  });

  it('the rules catch an agent/ → inputs/ import, a circle and a model that reaches up', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'telekit-structure-'));
    try {
      const write = (rel: string, text: string) => {
        fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
        fs.writeFileSync(path.join(dir, rel), text);
      };
      write('tsconfig.json', JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true } }));
      write('package.json', JSON.stringify({ type: 'module' }));
      write('inputs/x/index.ts', 'export const x = 1;\n');
      write('agent/runtime/registry.ts', "import { x } from '../../inputs/x/index.js';\nexport const all = [x];\n");
      write('agent/delivery/a.ts', "import { b } from './b.js';\nexport const a = () => b;\n");
      write('agent/delivery/b.ts', "import type { a } from './a.js';\nexport const b = 1; export type A = typeof a;\n");
      write('agent/model/point.ts', "import { a } from '../delivery/a.js';\nexport const p = a;\n");
      const rules = new Set(cruise(dir, ['agent', 'inputs']).map((x) => `${x.rule.name}: ${x.from}`));
      expect(rules).toContain('agent-not-to-plugins: agent/runtime/registry.ts');
      expect(rules).toContain('no-circular: agent/delivery/a.ts');
      expect(rules).toContain('model-is-a-leaf: agent/model/point.ts');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
