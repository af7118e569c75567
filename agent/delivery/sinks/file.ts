/**
 * The embedded default sink: with no ENV_DATAWAY, batches are appended as line
 * protocol to `<dataDir>/out/<category>.lp`, rotated at `maxBytes` (keeping
 * `keep` old files), so the agent does its job on a fresh machine. Raw uploads
 * (session replay) are written one file each under `<dataDir>/out/<kind>/`,
 * with a `.json` beside holding the headers and tags.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Category } from '../../model/point.js';
import type { Batch, RecordFormat, SendResult, Sink, Upload } from './types.js';
import { encodeLines } from '../../model/lineproto.js';

export interface FileSinkOptions {
  dir: string;
  maxBytes?: number;
  keep?: number;
}

export class FileSink implements Sink {
  readonly name = 'file';
  private readonly sizes = new Map<string, number>();
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: FileSinkOptions) {}

  accepts(_category: Category): boolean {
    return true;
  }

  records(_category: Category): RecordFormat {
    return 'lp';
  }

  fileOf(category: Category): string {
    return path.join(this.o.dir, `${category}.lp`);
  }

  send(batch: Batch): Promise<SendResult> {
    // Appends are serialised so rotation never races a write.
    const r = this.chain.then(() => this.append(batch));
    this.chain = r.catch(() => undefined);
    return r;
  }

  private async append(batch: Batch): Promise<SendResult> {
    const file = this.fileOf(batch.category);
    const text = batch.lines ? batch.lines.data.subarray(0, batch.lines.ends.at(-1) ?? 0) : encodeLines(batch.points, batch.defaultTime);
    try {
      await fs.mkdir(this.o.dir, { recursive: true });
      let size = this.sizes.get(file);
      if (size === undefined) size = await fs.stat(file).then((s) => s.size, () => 0);
      const max = this.o.maxBytes ?? 64 << 20;
      if (size > 0 && size + text.length > max) {
        await this.rotate(file);
        size = 0;
      }
      await fs.appendFile(file, text);
      this.sizes.set(file, size + Buffer.byteLength(text));
      return { ok: true };
    } catch (e) {
      return { ok: false, retryable: true, reason: (e as Error).message };
    }
  }

  private uploads = 0;

  async upload(u: Upload): Promise<SendResult> {
    const dir = path.join(this.o.dir, u.kind);
    const base = path.join(dir, `${Date.now()}-${process.pid}-${++this.uploads}`);
    try {
      await fs.mkdir(dir, { recursive: true });
      // each file appears whole (written aside, then renamed), the body last: a reader that sees a .bin sees its .json too
      await writeWhole(`${base}.json`, JSON.stringify({ path: u.path, headers: u.headers, tags: u.tags }));
      await writeWhole(`${base}.bin`, u.body);
      return { ok: true };
    } catch (e) {
      return { ok: false, retryable: true, reason: (e as Error).message };
    }
  }

  private async rotate(file: string): Promise<void> {
    const keep = this.o.keep ?? 3;
    for (let i = keep - 1; i >= 1; i--) await fs.rename(`${file}.${i}`, `${file}.${i + 1}`).catch(() => undefined);
    await fs.rename(file, `${file}.1`);
    await fs.rm(`${file}.${keep + 1}`, { force: true });
  }

  async close(): Promise<void> {
    await this.chain;
  }
}

/** Writes `file` so that it appears only whole: into a temporary name beside it, then renamed. */
async function writeWhole(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.tmp`;
  await fs.writeFile(tmp, data);
  await fs.rename(tmp, file);
}
