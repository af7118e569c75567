/**
 * Property: whatever the sizes of the writes and of the reads, the records
 * that come out equal the lines that went in (CRI and docker lines mixed,
 * multibyte text, lines longer than one read).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validate } from '../../../agent/config/schema.js';
import { waitFor } from '../../../test/helpers/wait.js';
import { schema } from '../config.js';
import { createContainerLogs } from './logs.js';
import { fakeCtx } from '../testdata/fake-context.js';
import { cri, dockerLine } from '../testdata/logfiles.js';

const lineArb = fc.record({
  text: fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'grapheme', maxLength: 50 }), fc.string({ minLength: 4000, maxLength: 7000 })),
  docker: fc.boolean(),
});

describe('tailing with arbitrary write and read boundaries', () => {
  it('emits exactly the lines written, in order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(lineArb, { minLength: 1, maxLength: 40 }), fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 10 }), async (lines, cuts) => {
        // Messages cannot contain newlines (they end a line); keep them, minus \n and \r.
        const msgs = lines.map((l, i) => ({ ...l, text: `${i}:${l.text.replace(/[\r\n]/g, ' ')}` }));
        const body = Buffer.from(msgs.map((m) => (m.docker ? dockerLine(m.text) : cri(m.text))).join(''));
        const root = fs.mkdtempSync(path.join(os.tmpdir(), 'prop-'));
        const dir = path.join(root, 'ns_p_uid', 'c');
        fs.mkdirSync(dir, { recursive: true });
        const f = path.join(dir, '0.log');
        fs.writeFileSync(f, '');
        const ctx = fakeCtx();
        const r = validate(schema, { enable_container_metric: false, enable_k8s_metric: false, pod_logs_dir: root, logging_read_buffer_size: 4096, logging_max_line_bytes: 8192, logging_auto_multiline_detection: false });
        if (!r.ok) throw new Error('config');
        const input = createContainerLogs(r.value, ctx);
        await input.start();
        try {
          let off = 0;
          for (const c of cuts) {
            if (off >= body.length) break;
            fs.appendFileSync(f, body.subarray(off, off + c));
            off += c;
            await new Promise((res) => setImmediate(res));
          }
          fs.appendFileSync(f, body.subarray(off));
          await waitFor(() => ctx.points.length >= msgs.length, { timeoutMs: 5000, what: `${msgs.length} records` });
          expect(ctx.points.map((p) => String(p.fields.message))).toEqual(msgs.map((m) => m.text));
        } finally {
          await input.stop();
          fs.rmSync(root, { recursive: true, force: true });
        }
      }),
      { numRuns: 15 },
    );
  });
});
