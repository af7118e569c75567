/**
 * Direct mode (lines written from the read buffers, no points) against the
 * points path, on the same files: every kind of record must come out the
 * same — whole lines, partial joins, multiline, invalid UTF-8, raw text,
 * quotes and backslashes, the filepath field — and the
 * core's tags must be added where the point lacks them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeLines, type DecodedPoint } from '../../../agent/model/lineproto.js';
import type { Input } from '../../../agent/input/contract.js';
import { waitFor } from '../../../test/helpers/wait.js';
import { validConfig } from '../../../test/helpers/fake-context.js';
import { schema } from '../config.js';
import { createContainerLogs } from './logs.js';
import { fakeCtx } from '../testdata/fake-context.js';
import { PodLogs, cri } from '../testdata/logfiles.js';

const started: Input[] = [];
afterEach(async () => {
  while (started.length) await started.pop()!.stop();
});

const T = new Date('2024-05-01T10:20:30Z');
function writeFiles(root: string): number {
  const logs = new PodLogs(root);
  const plain = path.join(logs.dir('ns', 'web-1', 'web'), '0.log');
  fs.writeFileSync(
    plain,
    cri('INFO plain line', 'stdout', 'F', T) +
      cri('ERROR with "quotes" and \\ backslash', 'stderr', 'F', T) +
      cri('part one ', 'stdout', 'P', T) +
      cri('part two', 'stdout', 'F', T) +
      cri('ünïcödé ✓ warn', 'stdout', 'F', T) +
      cri('x'.repeat(300), 'stdout', 'F', T) +
      cri('colour \u001b[1mbold\u001b[0m', 'stdout', 'F', T) +
      'not a cri line at all\n',
  );
  fs.appendFileSync(plain, Buffer.concat([Buffer.from(cri('bad ', 'stdout', 'F', T).trimEnd()), Buffer.from([0xff, 0xfe, 0x0a])]));
  const multi = path.join(logs.dir('ns', 'java-1', 'java'), '0.log');
  fs.writeFileSync(multi, cri('2024-05-01 10:00 ERROR boom', 'stdout', 'F', T) + cri('\tat A.b(A.java:1)', 'stdout', 'F', T) + cri('2024-05-01 10:01 INFO next', 'stdout', 'F', T));
  return 8 + 2;
}

/** Points from one run of the input over `root`, lines decoded back to points in direct mode. */
async function run(root: string, direct: boolean): Promise<DecodedPoint[]> {
  const ctx = fakeCtx();
  const got: DecodedPoint[] = [];
  if (direct) {
    const acc = ctx.acc as unknown as Record<string, unknown>;
    acc.tagsToAdd = () => ({ host: 'node-1', service: 'must-not-win' });
    acc.takesLines = () => true;
    acc.addLinesWait = async (_c: string, data: Uint8Array, ends: ArrayLike<number>, o?: { onAck?: () => void }) => {
      got.push(...decodeLines(Buffer.from(data).toString('utf8', 0, ends[ends.length - 1])));
      o?.onAck?.();
    };
  }
  const input = createContainerLogs(
    validConfig(schema, {
      enable_container_metric: false,
      enable_k8s_metric: false,
      logging_search_interval: '100ms',
      pod_logs_dir: root,
      docker_logs_dir: path.join(root, '_docker'),
      logging_file_from_beginning: true,
      logging_enable_filepath_field: true,
      logging_multiline_timeout: '50ms',
      logging_source_multiline_map: { java: '^\\d{4}-' },
    }),
    ctx,
  );
  started.push(input);
  await input.start();
  if (direct) await waitFor(() => got.length >= 10, { timeoutMs: 10_000 });
  else await waitFor(() => ctx.points.length >= 10, { timeoutMs: 10_000 });
  await input.stop();
  started.pop();
  if (direct) return got;
  // what the core would write for these points, with the same core tags
  return ctx.points.map((p) => ({ name: p.name, tags: { ...p.tags, host: 'node-1', ...(p.tags.service === undefined ? { service: 'must-not-win' } : {}) }, fields: Object.fromEntries(Object.entries(p.fields).map(([k, v]) => [k, typeof v === 'object' && !(typeof v === 'bigint') ? String(v) : v])), time: p.time }));
}

const key = (p: DecodedPoint) => `${p.fields.filepath} ${String(p.fields.log_read_lines).padStart(4)}`;

describe('container logs, direct lines', () => {
  it('writes the same records as the points path', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'direct-'));
    writeFiles(root);
    const viaPoints = (await run(root, false)).sort((a, b) => key(a).localeCompare(key(b)));
    fs.rmSync(root, { recursive: true, force: true });
    const root2 = fs.mkdtempSync(path.join(os.tmpdir(), 'direct-'));
    writeFiles(root2);
    const direct = (await run(root2, true)).sort((a, b) => key(a).localeCompare(key(b)));
    // a line without a time of its own (raw text) is stamped on arrival: only that it was, is compared
    const arrival = (t: bigint | undefined) => (t !== undefined && t > BigInt(T.getTime() + 86_400_000) * 1_000_000n ? 'arrival' : t);
    const norm = (ps: DecodedPoint[], r: string) => ps.map((p) => ({ ...p, time: arrival(p.time), fields: { ...p.fields, filepath: String(p.fields.filepath).replace(r, '<root>') } }));
    expect(norm(direct, root2)).toEqual(norm(viaPoints, root));
    const msgs = direct.map((p) => p.fields.message);
    expect(msgs).toContain('ERROR with "quotes" and \\ backslash');
    expect(msgs).toContain('part one part two');
    expect(msgs).toContain('bad\ufffd\ufffd');
    expect(msgs).toContain('2024-05-01 10:00 ERROR boom\n\tat A.b(A.java:1)');
    expect(direct).toHaveLength(10);
    expect(direct.find((p) => p.fields.message === 'INFO plain line')!.tags).toMatchObject({ service: 'web', host: 'node-1', stream: 'stdout' });
  });
});
