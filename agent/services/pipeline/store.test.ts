import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/helpers/wait.js';
import { listScripts, pipelineDirOf, ScriptStore } from './store.js';

const log = pino({ level: 'silent' });

function dir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ppl-store-'));
  // a ConfigMap mount: ..<ts>/ with the files, ..data → it, each name → ..data/name
  fs.mkdirSync(path.join(d, '..2024_01'));
  fs.writeFileSync(path.join(d, '..2024_01', 'nginx.p'), 'grok(_, "%{INT:code:int}")\n');
  fs.symlinkSync('..2024_01', path.join(d, '..data'));
  fs.symlinkSync('..data/nginx.p', path.join(d, 'nginx.p'));
  fs.mkdirSync(path.join(d, 'metric'));
  fs.writeFileSync(path.join(d, 'metric', 'cpu.p'), 'add_key(x, 1)\n');
  fs.writeFileSync(path.join(d, 'README.md'), 'not a script');
  fs.mkdirSync(path.join(d, 'unknown_category'));
  fs.writeFileSync(path.join(d, 'unknown_category', 'z.p'), 'add_key(x, 1)\n');
  return d;
}

describe('the pipeline folder', () => {
  it("lists top-level scripts as logging, category folders, follows ConfigMap links, skips '..' entries", () => {
    const d = dir();
    expect(listScripts(d).map((s) => `${s.category}/${s.name}`)).toEqual(['metric/cpu.p', 'logging/nginx.p']);
  });

  it('reloads on change, keeps the last good version of a broken script, forgets removed ones, counts', async () => {
    const d = dir();
    const metrics = new Registry();
    const store = new ScriptStore({ dir: d, log, metrics });
    await store.start();
    try {
      const v1 = store.get('logging', 'nginx.p')!;
      expect(v1.run('code 42').ok).toBe(true);
      expect(store.get('metric', 'cpu.p')).toBeDefined();
      // broken: the old version keeps running, the error is reported with its position
      fs.writeFileSync(path.join(d, '..2024_01', 'nginx.p'), 'grok(_, "%{INT:code:int}"\n');
      await waitFor(() => store.errors().length === 1, { what: 'load error' });
      expect(store.errors()[0]!.message).toBe(`${path.join(d, 'nginx.p')}:2:1: expected "," or ")", found the end of the script`);
      expect(store.get('logging', 'nginx.p')).toBe(v1);
      // fixed through a ..data swap
      fs.mkdirSync(path.join(d, '..2024_02'));
      fs.writeFileSync(path.join(d, '..2024_02', 'nginx.p'), 'grok(_, "%{INT:code:int}")\nadd_key(v, 2)\n');
      fs.symlinkSync('..2024_02', path.join(d, '..data_tmp'));
      fs.renameSync(path.join(d, '..data_tmp'), path.join(d, '..data'));
      await waitFor(() => store.get('logging', 'nginx.p') !== v1 && store.errors().length === 0, { what: 'reload' });
      const r = store.get('logging', 'nginx.p')!.run('code 7');
      expect(r.ok && r.out.fields.get('v')).toBe(2n);
      fs.rmSync(path.join(d, 'metric', 'cpu.p'));
      await waitFor(() => store.get('metric', 'cpu.p') === undefined, { what: 'removal' });
      const text = await metrics.metrics();
      // counters survive a reload: 1 line on v1 + 1 on the new version
      expect(text).toContain('telekit_pipeline_lines_total{script="logging/nginx.p"} 2');
      expect(text).toContain('telekit_pipeline_load_errors 0');
    } finally {
      await store.stop();
    }
  });

  it('is pipeline/ beside conf.d unless --pipeline-dir or ENV_PIPELINE_DIR says otherwise', () => {
    expect(pipelineDirOf(undefined, {}, '/usr/local/telekit/conf.d')).toBe('/usr/local/telekit/pipeline');
    expect(pipelineDirOf(undefined, { ENV_PIPELINE_DIR: '/p' }, '/x/conf.d')).toBe('/p');
    expect(pipelineDirOf('/q', { ENV_PIPELINE_DIR: '/p' }, '/x/conf.d')).toBe('/q');
    expect(pipelineDirOf(undefined, {}, undefined)).toBeUndefined();
  });
});
