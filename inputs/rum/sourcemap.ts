/**
 * Sourcemaps for web `error` points, in DataKit's layout: the maps of one
 * build are uploaded as `<data dir>/rum/web/<app_id>-<env>-<version>.zip`,
 * holding `<path of the script>.map` entries (`static/js/app.min.js.map` for
 * `https://shop.example.com/static/js/app.min.js`). Each frame of
 * `error_stack` (`at fn @ <url>:<line>:<column>`, the browser SDK's format) is
 * rewritten to `<source>:<line>:<column>` of the original code; the result is
 * the `error_stack_source` field. A missing zip, a missing or bad map leaves
 * the point as sent (counted by status).
 *
 * Zips are read with fflate and maps parsed with source-map-js, once per zip;
 * a loaded or missing zip is checked again (mtime) after {@link RECHECK_MS}.
 */
import fs from 'node:fs';
import path from 'node:path';
import { unzipSync } from 'fflate';
import { SourceMapConsumer, type RawSourceMap } from 'source-map-js';

export type SourcemapStatus = 'ok' | 'no_stack' | 'zip_not_found' | 'bad_zip' | 'map_not_found';

const RECHECK_MS = 30_000;
const MAX_ENTRY_BYTES = 64 << 20;
const MAX_ZIP_ENTRIES_BYTES = 256 << 20;
/** `@ <url>:<line>:<column>` up to the end of a line, as DataKit matches frames. */
const FRAME = /@ ([^\n]*?):(\d+):(\d+)/g;

interface Loaded {
  checkedAt: number;
  mtimeMs: number;
  maps: Map<string, SourceMapConsumer> | undefined;
  error?: string;
}

/** `<app_id>-<env>-<version>.zip`, DataKit's name (empty parts stay empty). */
export function zipName(appId: string, env: string, version: string): string {
  return `${appId}-${env}-${version}.zip`;
}

export class Sourcemaps {
  private readonly zips = new Map<string, Loaded>();

  constructor(
    /** `<data dir>/rum/web` */
    readonly dir: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** The stack with every frame that a map knows rewritten, and how it went. */
  resolve(stack: string, appId: string, env: string, version: string): { source?: string; status: SourcemapStatus; error?: string } {
    const z = this.zip(zipName(appId, env, version));
    if (!z.maps) return { status: z.error ? 'bad_zip' : 'zip_not_found', error: z.error };
    if (stack === '' || !stack.includes('@ ')) return { status: 'no_stack' };
    let resolved = 0;
    const source = stack.replace(FRAME, (whole, url: string, line: string, col: string) => {
      const c = this.consumer(z.maps!, url);
      if (!c) return whole;
      const pos = c.originalPositionFor({ line: Number(line), column: Math.max(0, Number(col) - 1) });
      if (pos.source === null || pos.line === null) return whole;
      resolved++;
      return `@ ${pos.source}:${pos.line}:${(pos.column ?? 0) + 1}`;
    });
    return resolved > 0 ? { source, status: 'ok' } : { status: 'map_not_found' };
  }

  /** Drops what is known of a zip (after an upload or delete through the API): read again at its next use. */
  forget(name: string): void {
    this.zips.delete(name);
  }

  /** Whether a zip (good or bad) was uploaded for this build: the cheap check before decoding an error point (stat once per 30 s). */
  has(appId: string, env: string, version: string): boolean {
    const z = this.zip(zipName(appId, env, version));
    return z.maps !== undefined || z.error !== undefined;
  }

  /** The map of a script URL: `<url path>.map` without the leading `/`, else the entry that path ends with. */
  private consumer(maps: Map<string, SourceMapConsumer>, url: string): SourceMapConsumer | undefined {
    let p: string;
    try {
      p = new URL(url).pathname;
    } catch {
      p = url.split(/[?#]/, 1)[0]!;
    }
    const key = `${p.replace(/^\/+/, '')}.map`;
    const exact = maps.get(key);
    if (exact) return exact;
    for (const [name, c] of maps) if (key.endsWith(`/${name}`) || name.endsWith(`/${key}`)) return c;
    return undefined;
  }

  private zip(name: string): Loaded {
    const now = this.now();
    const cur = this.zips.get(name);
    if (cur && now - cur.checkedAt < RECHECK_MS) return cur;
    const file = path.join(this.dir, name);
    let mtimeMs = -1;
    try {
      mtimeMs = fs.statSync(file).mtimeMs;
    } catch {
      // missing: remembered as such until the next check
    }
    if (cur && cur.mtimeMs === mtimeMs) {
      cur.checkedAt = now;
      return cur;
    }
    const next: Loaded = { checkedAt: now, mtimeMs, maps: undefined };
    if (mtimeMs >= 0) {
      try {
        next.maps = Sourcemaps.load(fs.readFileSync(file));
      } catch (e) {
        next.error = `${name}: ${(e as Error).message}`;
      }
    }
    this.zips.set(name, next);
    return next;
  }

  /** Parses every `.map` entry of a zip (entries over 64 MiB, or past 256 MiB in all, are refused). */
  static load(zip: Uint8Array): Map<string, SourceMapConsumer> {
    let total = 0;
    const files = unzipSync(zip, {
      filter: (f) => {
        if (!f.name.endsWith('.map')) return false;
        if (f.originalSize > MAX_ENTRY_BYTES || (total += f.originalSize) > MAX_ZIP_ENTRIES_BYTES) throw new Error(`zip entries exceed ${MAX_ZIP_ENTRIES_BYTES >> 20} MiB`);
        return true;
      },
    });
    const maps = new Map<string, SourceMapConsumer>();
    for (const [name, bytes] of Object.entries(files)) {
      try {
        const raw = JSON.parse(Buffer.from(bytes).toString('utf8')) as RawSourceMap;
        maps.set(name.replace(/^\.?\/+/, ''), new SourceMapConsumer(raw));
      } catch {
        // a bad map: its frames stay as sent
      }
    }
    if (maps.size === 0) throw new Error('no valid .map entry');
    return maps;
  }
}
