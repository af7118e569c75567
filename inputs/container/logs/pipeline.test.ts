/**
 * Container logs through Pipeline scripts: the source's script (`<source>.p`
 * by default) parses each record before encoding, on the points path and on
 * the direct-lines path alike; drop() drops, a failing line goes out raw,
 * sources without a script are untouched.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeLines, type DecodedPoint } from '../../../agent/model/lineproto.js';
import type { Input } from '../../../agent/input/contract.js';
import { ScriptStore } from '../../../agent/services/pipeline/store.js';
import { parseZone } from '../../../agent/services/pipeline/timeparse.js';
import { waitFor } from '../../../test/helpers/wait.js';
import { validConfig } from '../../../test/helpers/fake-context.js';
import { schema } from '../config.js';
import { createContainerLogs } from './logs.js';
import { resolveLogConfig } from './logs-config.js';
import { fakeCtx } from '../testdata/fake-context.js';
import { PodLogs, cri } from '../testdata/logfiles.js';

const started: Input[] = [];
afterEach(async () => {
  while (started.length) await started.pop()!.stop();
});

const T = new Date('2024-05-01T10:20:30Z');
const ACCESS = '10.0.0.7 - - [26/May/2022:20:53:52 +0800] "GET /api/items?id=3 HTTP/1.1" 503 12 "-" "curl/8.5.0"';
const ERROR = '2021/04/29 16:24:38 [emerg] 50102#0: unexpected ";" in /etc/nginx/nginx.conf:23';

function setup(): { root: string; pdir: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ppl-logs-'));
  const logs = new PodLogs(root);
  fs.writeFileSync(path.join(logs.dir('ns', 'web-1', 'nginx'), '0.log'), cri(ACCESS, 'stdout', 'F', T) + cri(ERROR, 'stderr', 'F', T) + cri('DROPME please', 'stdout', 'F', T) + cri('FAIL here', 'stdout', 'F', T));
  fs.writeFileSync(path.join(logs.dir('ns', 'app-1', 'app'), '0.log'), cri('INFO no script for me', 'stdout', 'F', T));
  const pdir = path.join(root, 'pipeline');
  fs.mkdirSync(pdir);
  const nginx = fs.readFileSync(path.join(import.meta.dirname, '../testdata/nginx.p'), 'utf8');
  fs.writeFileSync(path.join(pdir, 'nginx.p'), `if grok(_, "^DROPME") { drop()\n exit() }\nif grok(_, "^FAIL") { x = 1 + "a" }\n${nginx}`);
  return { root, pdir };
}

async function run(root: string, pdir: string, direct: boolean): Promise<DecodedPoint[]> {
  const store = new ScriptStore({ dir: pdir, log: pino({ level: 'silent' }), watch: false, timezone: parseZone('+08:00')! });
  store.load();
  expect(store.errors()).toEqual([]);
  const ctx = Object.assign(fakeCtx(), { pipelines: store });
  const got: DecodedPoint[] = [];
  if (direct) {
    const acc = ctx.acc as unknown as Record<string, unknown>;
    acc.tagsToAdd = () => ({ host: 'node-1' });
    acc.takesLines = () => true;
    acc.addLinesWait = async (_c: string, data: Uint8Array, ends: ArrayLike<number>, o?: { onAck?: () => void }) => {
      got.push(...decodeLines(Buffer.from(data).toString('utf8', 0, ends[ends.length - 1])));
      o?.onAck?.();
    };
  }
  const input = createContainerLogs(validConfig(schema, { enable_container_metric: false, enable_k8s_metric: false, pod_logs_dir: root, docker_logs_dir: path.join(root, '_docker'), logging_file_from_beginning: true, logging_auto_multiline_detection: false }), ctx);
  started.push(input);
  await input.start();
  const out = () => (direct ? got : ctx.points);
  await waitFor(() => out().length >= 4, { timeoutMs: 10_000 });
  await input.stop();
  started.pop();
  if (direct) return got;
  return ctx.points.map((p) => ({ name: p.name, tags: { ...p.tags, host: 'node-1' }, fields: Object.fromEntries(Object.entries(p.fields).map(([k, v]) => [k, typeof v === 'object' ? String(v) : v])), time: p.time }) as DecodedPoint);
}

const byMsg = (ps: DecodedPoint[]) => Object.fromEntries(ps.map((p) => [String(p.fields.message ?? p.fields.msg), p]));

describe('container logs with Pipeline scripts', () => {
  for (const direct of [false, true]) {
    it(`parses the source's <source>.p before encoding (${direct ? 'direct lines' : 'points'})`, async () => {
      const { root, pdir } = setup();
      const ps = byMsg(await run(root, pdir, direct));
      expect(Object.keys(ps).sort()).toEqual([ACCESS, ERROR, 'FAIL here', 'INFO no script for me'].sort());
      const a = ps[ACCESS]!;
      expect(a.name).toBe('nginx');
      expect(a.fields).toMatchObject({ client_ip: '10.0.0.7', http_method: 'GET', http_url: '/api/items?id=3', status_code: 503n, bytes: 12n, status: 'error', agent: 'curl/8.5.0' });
      expect(a.time).toBe(1653569632000000000n); // from the line, not the CRI time
      expect(a.tags).toMatchObject({ container_name: 'nginx', stream: 'stdout', host: 'node-1' });
      const e = ps[ERROR]!;
      expect(e.fields).toMatchObject({ status: 'error', msg: '50102#0: unexpected ";" in /etc/nginx/nginx.conf:23' });
      expect(e.time).toBe(1619684678000000000n);
      // the failing line is sent as it was, with the tailer's own status and time
      expect(ps['FAIL here']!.fields).toMatchObject({ message: 'FAIL here', status: 'unknown' });
      expect(ps['FAIL here']!.time).toBe(ps['INFO no script for me']!.time);
      expect(ps['FAIL here']!.time! / 1_000_000_000n).toBe(BigInt(T.getTime() / 1000));
      // no script for `app`: untouched
      expect(ps['INFO no script for me']!.fields).toMatchObject({ status: 'info' });
      expect(Object.keys(ps['INFO no script for me']!.fields).sort()).toEqual(['filepath', 'log_read_lines', 'message', 'status']);
      // log_read_lines still counts the dropped line
      expect(ps['FAIL here']!.fields.log_read_lines).toBe(4n);
      fs.rmSync(root, { recursive: true, force: true });
    });
  }

  it('reads the pipeline key of the logs config', () => {
    const r = resolveLogConfig('web', {}, { 'datakit/logs': '[{"source":"nginx","service":"web","pipeline":"nginx-custom.p"}]' });
    expect(r.config).toMatchObject({ source: 'nginx', pipeline: 'nginx-custom.p' });
    expect(resolveLogConfig('web', { DATAKIT_LOGS_CONFIG: '[{"source":"x"}]' }, {}).config.pipeline).toBeUndefined();
  });
});
