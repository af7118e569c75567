/**
 * Golden cases: testdata/<case>/{script, input, expected}. `input` is one
 * message (its last newline removed); `expected` is what format.ts prints.
 * Time text without a zone is read at +08:00 (or the zone in the case's `timezone` file), as on the DataKit hosts whose
 * documented values the nginx, apache and redis cases reproduce.
 * UPDATE_GOLDEN=1 rewrites `expected` (review the diff).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatOutcome } from './format.js';
import { Script } from './script.js';
import { parseZone } from './timeparse.js';

const dir = path.join(import.meta.dirname, 'testdata');
const cases = fs.readdirSync(dir).filter((c) => fs.existsSync(path.join(dir, c, 'script')));

describe('pipeline golden cases', () => {
  it('has cases', () => expect(cases.length).toBeGreaterThan(20));
  for (const c of cases) {
    it(c, () => {
      const read = (f: string) => fs.readFileSync(path.join(dir, c, f), 'utf8');
      const tz = fs.existsSync(path.join(dir, c, 'timezone')) ? read('timezone').trim() : '+08:00';
      const script = Script.compile(`${c}.p`, `${c}/script`, read('script'), { timezone: parseZone(tz)! });
      const got = formatOutcome(script.run(read('input').replace(/\r?\n$/, '')));
      const file = path.join(dir, c, 'expected');
      if (process.env.UPDATE_GOLDEN) fs.writeFileSync(file, got);
      expect(got).toBe(read('expected'));
    });
  }
});
