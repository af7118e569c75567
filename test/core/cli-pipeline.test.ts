/** `telekit pipeline` on a good and a bad script, and check-config over the pipeline folder. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, ROOT } from '../helpers/cli.js';
import { tempDir } from '../helpers/agent.js';

const NGINX = fs.readFileSync(path.join(ROOT, 'inputs/container/testdata/nginx.p'), 'utf8');
const ACCESS = '127.0.0.1 - - [24/Mar/2021:13:54:19 +0800] "GET /basic_status HTTP/1.1" 200 97 "-" "Mozilla/5.0 (Macintosh; Intel Mac OS X 11_1_0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/89.0.4389.72 Safari/537.36"';

function pipelineDir(): string {
  const root = tempDir();
  fs.mkdirSync(path.join(root, 'conf.d'));
  const dir = path.join(root, 'pipeline');
  fs.mkdirSync(path.join(dir, 'metric'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'nginx.p'), NGINX);
  fs.writeFileSync(path.join(dir, 'bad.p'), 'grok(_, "%{INT:a}")\nif a == 1 {\n  cast(a "int")\n}\n');
  fs.writeFileSync(path.join(dir, 'metric', 'unknown.p'), 'json(_, a)\n  frobnicate(a)\n');
  return root;
}

describe('telekit pipeline', () => {
  it('prints the fields, tags, time and status a good script produces', async () => {
    const root = pipelineDir();
    const r = await runCli(['pipeline', 'nginx.p', '--conf-dir', path.join(root, 'conf.d'), '--text', ACCESS, '--timezone', '+8']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('client_ip = "127.0.0.1"\n');
    expect(r.stdout).toContain('status_code = 200\n');
    expect(r.stdout).toContain('browser = "Chrome"\n');
    expect(r.stdout).toContain('@time = 1616565259000000000  # 2021-03-24T05:54:19.000Z\n');
    expect(r.stdout).toContain('@status = OK\n');
    // --file: the file's text is the message
    const f = path.join(root, 'line.txt');
    fs.writeFileSync(f, '2021/04/29 16:24:38 [emerg] 50102#0: unexpected ";"\n');
    const r2 = await runCli(['pipeline', path.join(root, 'pipeline', 'nginx.p'), '--file', f, '--timezone', '+8']);
    expect(r2.code).toBe(0);
    expect(r2.stdout).toContain('@time = 1619684678000000000');
    expect(r2.stdout).toContain('@status = error');
  });

  it('prints the load error of a bad script with its line and column', async () => {
    const root = pipelineDir();
    const r = await runCli(['pipeline', 'bad.p', '--pipeline-dir', path.join(root, 'pipeline'), '--text', '1']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toBe(`${path.join(root, 'pipeline', 'bad.p')}:3:10: expected "," or ")", found a string`);
  });

  it('check-config loads every script and reports file:line:col', async () => {
    const root = pipelineDir();
    const r = await runCli(['check-config', '--conf-dir', path.join(root, 'conf.d')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${path.join(root, 'pipeline', 'bad.p')}:3:10: expected "," or ")", found a string`);
    expect(r.stderr).toContain(`${path.join(root, 'pipeline', 'metric', 'unknown.p')}:2:3: unknown function frobnicate()`);
    expect(r.stdout).toContain('pipeline scripts: 1 loaded');
  });
});
