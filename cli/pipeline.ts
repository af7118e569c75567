/**
 * `telekit pipeline <script> --text '<line>' | --file FILE`: runs a Pipeline
 * script over one message and prints the fields, tags, time and status it
 * produces (format.ts), or the error with its line and column. `<script>` is a
 * file, or a name in the pipeline directory (`nginx.p`, `metric/x.p`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { PipelineError } from '../agent/services/pipeline/errors.js';
import { formatOutcome } from '../agent/services/pipeline/format.js';
import { Script } from '../agent/services/pipeline/script.js';
import { parseZone } from '../agent/services/pipeline/timeparse.js';

export interface PipelineCommand {
  script: string | undefined;
  text: string | undefined;
  file: string | undefined;
  timezone: string | undefined;
  pipelineDir: string | undefined;
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

export function runPipelineCommand(o: PipelineCommand): number {
  if (!o.script || (o.text === undefined) === (o.file === undefined)) {
    o.err.write("usage: telekit pipeline <script.p> (--text '<line>' | --file FILE) [--timezone +8] [--pipeline-dir DIR]\n");
    return 2;
  }
  let file = o.script;
  if (!fs.existsSync(file) && o.pipelineDir) {
    const inDir = [path.join(o.pipelineDir, o.script), path.join(o.pipelineDir, 'logging', o.script)].find((p) => fs.existsSync(p));
    if (inDir) file = inDir;
  }
  let source: string;
  try {
    source = fs.readFileSync(file, 'utf8');
  } catch (e) {
    o.err.write(`${o.script}: cannot read: ${(e as Error).message}\n`);
    return 1;
  }
  const zone = o.timezone !== undefined ? parseZone(o.timezone) : undefined;
  if (o.timezone !== undefined && zone === undefined) {
    o.err.write(`--timezone: unknown zone ${JSON.stringify(o.timezone)}\n`);
    return 2;
  }
  let script: Script;
  try {
    script = Script.compile(path.basename(file), file, source, { timezone: zone, timeBoundMs: 10_000 });
  } catch (e) {
    if (e instanceof PipelineError) {
      o.err.write(`${e.message}\n`);
      return 1;
    }
    throw e;
  }
  let message: string;
  if (o.text !== undefined) message = o.text;
  else {
    try {
      message = fs.readFileSync(o.file!, 'utf8').replace(/\r?\n$/, '');
    } catch (e) {
      o.err.write(`${o.file}: cannot read: ${(e as Error).message}\n`);
      return 1;
    }
  }
  const r = script.run(message);
  if (!r.ok) {
    o.err.write(`${file}: run failed: ${r.error}${r.timedOut ? ' (time bound)' : ''}\n`);
    return 1;
  }
  o.out.write(formatOutcome(r, { timeIso: true }));
  return 0;
}
