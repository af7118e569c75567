/**
 * The input registry and its docs: every input folder is registered, has its
 * sample.conf and README.md; the sample validates against the schema, the
 * README shows it, and conf.d/ holds the same text (docs come from code).
 */
import fs from 'node:fs';
import path from 'node:path';
import toml from 'toml';
import { describe, expect, it } from 'vitest';
import { inputs } from '../../inputs/index.js';
import { validate } from '../../agent/config/schema.js';
// @ts-expect-error plain ESM helper without types
import { DEFAULT_ON } from '../../scripts/default-on.mjs';

const ROOT = path.resolve(import.meta.dirname, '../..');
const folders = fs.readdirSync(path.join(ROOT, 'inputs')).filter((n) => fs.existsSync(path.join(ROOT, 'inputs', n, 'sample.conf')));

describe('input registry', () => {
  it('registers every input folder, and every registered input has a folder', () => {
    expect(inputs.map((d) => d.name).sort()).toEqual([...folders].sort());
    expect(new Set(inputs.map((d) => d.name)).size).toBe(inputs.length);
  });

  describe.each(inputs.map((d) => [d.name, d] as const))('%s', (name, def) => {
    const file = path.join(ROOT, 'inputs', name, 'sample.conf');
    const sample = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '(missing sample.conf)';

    it('has a sample.conf that validates against its schema', () => {
      const doc = toml.parse(sample) as { inputs?: Record<string, unknown> };
      const tables = doc.inputs?.[name];
      expect(tables, `[inputs.${name}] in sample.conf`).toBeDefined();
      expect(Array.isArray(tables)).toBe(!def.singleton);
      for (const t of Array.isArray(tables) ? tables : [tables]) {
        const v = validate(def.schema, t);
        expect(v.ok ? [] : v.issues).toEqual([]);
      }
    });

    it('has a README that shows the sample.conf', () => {
      const readme = fs.readFileSync(path.join(ROOT, 'inputs', name, 'README.md'), 'utf8');
      expect(readme).toContain(sample.trim());
    });

    it('has the same text in conf.d/ (run `npm run samples` after editing sample.conf)', () => {
      expect(fs.readFileSync(path.join(ROOT, 'conf.d', name, `${name}.conf.sample`), 'utf8')).toBe(sample);
      const active = path.join(ROOT, 'conf.d', name, `${name}.conf`);
      expect(fs.existsSync(active)).toBe((DEFAULT_ON as string[]).includes(name));
      if (fs.existsSync(active)) expect(fs.readFileSync(active, 'utf8')).toBe(sample);
    });
  });
});
