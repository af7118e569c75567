/**
 * Durable read positions of log files, in `<dataDir>/container/positions.json`.
 *
 * A position is saved only once the sink acknowledged every record before it,
 * so a restart (even after kill -9) resumes exactly after the last
 * acknowledged record. Writes are coalesced: at most one write in flight,
 * temp file + fsync + rename, started as soon as something changed.
 */
import fs from 'node:fs/promises';
import fsSync from 'node:fs';
import path from 'node:path';

export interface Position {
  /** The path the file had when last seen. */
  path: string;
  /** The live path of its family (`.../0.log`): rotated files belong to it. */
  live: string;
  dev: number;
  ino: number;
  /** Base64 of the file's first `fpLen` bytes (its fingerprint). */
  fp: string;
  fpLen: number;
  offset: number;
  /** ms since epoch of the last update. */
  updated: number;
}

const MIN_INTERVAL_MS = 20;

export const positionKey = (dev: number, ino: number): string => `${dev}:${ino}`;

export class Checkpoints {
  private readonly file: string;
  private entries = new Map<string, Position>();
  private writing: Promise<void> | undefined;
  private dirty = false;
  private lastWrite = 0;
  writeErrors = 0;
  writes = 0;

  /**
   * Where a stopped tailer left off in its live file while some of what it sent
   * was not acknowledged yet (a config reload restarts the input while the
   * sender still holds its points): the next tailer of that file continues
   * from there instead of re-reading, and the late acks still advance the
   * saved position (acks come in send order, so positions only move forward).
   */
  readonly handoffs = new Map<string, Position>();
  private loaded = false;

  private static readonly shared = new Map<string, Checkpoints>();

  /** One instance per directory in a process, so input restarts (config reloads) share positions and handoffs. */
  static for(dir: string): Checkpoints {
    let c = Checkpoints.shared.get(dir);
    if (!c) Checkpoints.shared.set(dir, (c = new Checkpoints(dir)));
    return c;
  }

  constructor(private readonly dir: string) {
    this.file = path.join(dir, 'positions.json');
  }

  /** Reads the saved positions (once per instance; later calls keep the in-memory state, which is newer). */
  async load(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    if (this.loaded) return;
    this.loaded = true;
    let text: string;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch {
      return;
    }
    try {
      const o = JSON.parse(text) as { positions?: Position[] };
      for (const p of o.positions ?? []) {
        if (typeof p.path === 'string' && typeof p.offset === 'number') this.entries.set(positionKey(p.dev, p.ino), p);
      }
    } catch {
      // A torn file cannot happen with rename; a hand-edited one is ignored.
    }
  }

  all(): Position[] {
    return [...this.entries.values()];
  }

  get(key: string): Position | undefined {
    return this.entries.get(key);
  }

  set(p: Position): void {
    this.entries.set(positionKey(p.dev, p.ino), p);
    this.schedule();
  }

  delete(key: string): void {
    if (this.entries.delete(key)) this.schedule();
  }

  /**
   * Set while the input is stopped: acks that arrive later (the core flushes
   * its queues after stopping inputs, then the process may exit at once) are
   * written synchronously, so a graceful shutdown repeats nothing.
   */
  syncWrites = false;

  private writeSync(): void {
    const tmp = `${this.file}.tmp`;
    try {
      const fd = fsSync.openSync(tmp, 'w');
      try {
        fsSync.writeFileSync(fd, JSON.stringify({ version: 1, positions: [...this.entries.values()] }));
        fsSync.fdatasyncSync(fd);
      } finally {
        fsSync.closeSync(fd);
      }
      fsSync.renameSync(tmp, this.file);
      this.writes++;
    } catch {
      this.writeErrors++;
    }
  }

  private schedule(): void {
    if (this.syncWrites && !this.writing) {
      this.writeSync();
      return;
    }
    this.dirty = true;
    if (!this.writing) this.writing = this.writeLoop();
  }

  private async writeLoop(): Promise<void> {
    try {
      while (this.dirty) {
        // At most one write per MIN_INTERVAL_MS: bounds the cost under a flood of acks
        // while keeping the ack → durable window short.
        const wait = this.lastWrite + MIN_INTERVAL_MS - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        this.lastWrite = Date.now();
        this.dirty = false;
        const body = JSON.stringify({ version: 1, positions: [...this.entries.values()] });
        const tmp = `${this.file}.tmp`;
        try {
          const fh = await fs.open(tmp, 'w');
          try {
            await fh.writeFile(body);
            await fh.datasync();
          } finally {
            await fh.close();
          }
          await fs.rename(tmp, this.file);
          this.writes++;
        } catch {
          this.writeErrors++;
          await new Promise((r) => setTimeout(r, 200).unref());
          this.dirty = true;
          if (this.writeErrors % 50 === 0) break;
        }
      }
    } finally {
      this.writing = undefined;
    }
  }

  /** Resolves once everything set so far is on disk. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.dirty) {
      this.writing = this.writeLoop();
      await this.writing;
    }
  }
}
