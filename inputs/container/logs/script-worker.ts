/**
 * A script worker thread (script-pool.ts): runs a batch's records through
 * their Pipeline script and answers with their line protocol, written by the
 * same code as on the main thread (scripted-lines.ts). A record the script
 * fails on (or that runs past its time bound) is written as it was.
 */
import { parentPort } from 'node:worker_threads';
import { LineBuf } from '../../../agent/model/linebuf.js';
import { Script } from '../../../agent/services/pipeline/script.js';
import type { LinesContext, ScriptJobMessage, ScriptJobResult } from './script-pool.js';
import { FAILED, ScriptedWriter, WRITTEN } from './scripted-lines.js';

const port = parentPort;
if (!port) throw new Error('script-worker runs in a worker thread');

/** Compiled scripts by recipe id (a reload sends a new id); bounded. */
const scripts = new Map<number, Script>();
/** Writers per stream context (a tailer's LogLines); bounded. */
const writers = new Map<number, { writer: ScriptedWriter; tags: Map<string, Readonly<Record<string, string>>> }>();
const spares: ArrayBuffer[] = [];
let size = 256 << 10;

function scriptOf(m: ScriptJobMessage): Script {
  let s = scripts.get(m.recipe.id);
  if (s === undefined) {
    if (scripts.size >= 32) scripts.clear();
    scripts.set(m.recipe.id, (s = Script.fromRecipe(m.recipe)));
  }
  return s;
}

function writerOf(ctx: LinesContext): ScriptedWriter {
  let w = writers.get(ctx.id);
  if (w === undefined) {
    if (writers.size >= 1024) writers.clear();
    const tags = new Map<string, Readonly<Record<string, string>>>();
    w = { writer: new ScriptedWriter(ctx.source, (stream) => tags.get(stream) ?? Object.freeze({}), ctx.withFilepath), tags };
    writers.set(ctx.id, w);
  }
  // one frozen object per stream, kept across batches (scripts cache by tags object)
  for (const [stream, t] of Object.entries(ctx.tags)) if (!w.tags.has(stream)) w.tags.set(stream, Object.freeze({ ...t }));
  return w.writer;
}

function lineBuf(): LineBuf {
  const i = spares.findIndex((b) => b.byteLength >= size);
  return new LineBuf(i >= 0 ? Buffer.from(spares.splice(i, 1)[0]!) : size);
}

function runJob(m: ScriptJobMessage): ScriptJobResult {
  const script = scriptOf(m);
  const writer = writerOf(m.ctx);
  const before = { ...script.stats };
  const msgs = Buffer.from(m.msgs.buffer, m.msgs.byteOffset, m.msgs.length);
  const b = lineBuf();
  let written = 0;
  let start = 0;
  for (let i = 0; i < m.ends.length; i++) {
    const end = m.ends[i]!;
    const stream = m.streams[m.stream[i]!]!;
    const file = m.files[m.file[i]!]!;
    const sec = m.sec[i]!;
    const ns = m.ns[i]!;
    const read = m.reads[i]!;
    const r = writer.scripted(b, script, msgs.toString('utf8', start, end), msgs, start, end, undefined, sec, ns, stream, read, file);
    if (r === WRITTEN) written++;
    else if (r === FAILED) {
      writer.raw(b, msgs, start, end, sec, ns, stream, read, file);
      written++;
    }
    start = end;
  }
  const s = script.stats;
  size = Math.max(64 << 10, Math.min(Math.ceil(b.off * 1.25), 32 << 20));
  // LineBuf's buffers are at least 64 KiB, never from Node's shared pool: safe to transfer
  return {
    ok: true,
    data: new Uint8Array(b.data.buffer, b.data.byteOffset, b.off),
    ends: Uint32Array.from(b.ends),
    written,
    stats: { lines: s.lines - before.lines, failed: s.failed - before.failed, timedOut: s.timedOut - before.timedOut, dropped: s.dropped - before.dropped },
  };
}

port.on('message', (m: ScriptJobMessage | { spare: ArrayBuffer }) => {
  if ('spare' in m) {
    if (spares.length < 4) spares.push(m.spare);
    return;
  }
  let result: ScriptJobResult;
  try {
    result = runJob(m);
  } catch (e) {
    result = { ok: false, reason: e instanceof Error ? e.message : String(e) };
  }
  if (result.ok) port.postMessage({ id: m.id, result }, [result.data.buffer as ArrayBuffer, result.ends.buffer as ArrayBuffer]);
  else port.postMessage({ id: m.id, result });
});
