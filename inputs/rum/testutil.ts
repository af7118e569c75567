/**
 * Test fixtures for the rum input: a "minified" one-line script with its
 * sourcemap (made with source-map-js's generator) and the DataKit-style zip
 * (`<app_id>-<env>-<version>.zip` under `<data dir>/rum/web/`, made with fflate).
 */
import fs from 'node:fs';
import path from 'node:path';
import { zipSync, strToU8 } from 'fflate';
import { SourceMapGenerator } from 'source-map-js';

/** The minified script: `boom()` throws from column {@link THROW_COLUMN} (1-based) of line 1. */
export const MIN_JS = 'function boom(){throw new Error("boom from the app")}function go(){boom()}';
export const THROW_COLUMN = MIN_JS.indexOf('throw') + 1;
export const CALL_COLUMN = MIN_JS.indexOf('boom()}') + 1;
/** Where the map says those columns come from. */
export const ORIGINAL = { source: 'webpack://shop/src/cart.ts', throwLine: 42, callLine: 57 };

/** The sourcemap of MIN_JS for a script named `file`. */
export function makeSourcemap(file: string): string {
  const g = new SourceMapGenerator({ file });
  g.addMapping({ generated: { line: 1, column: 0 }, original: { line: 40, column: 0 }, source: ORIGINAL.source });
  g.addMapping({ generated: { line: 1, column: THROW_COLUMN - 1 }, original: { line: ORIGINAL.throwLine, column: 4 }, source: ORIGINAL.source, name: 'boom' });
  g.addMapping({ generated: { line: 1, column: MIN_JS.indexOf('function go') }, original: { line: 55, column: 0 }, source: ORIGINAL.source });
  g.addMapping({ generated: { line: 1, column: CALL_COLUMN - 1 }, original: { line: ORIGINAL.callLine, column: 2 }, source: ORIGINAL.source, name: 'go' });
  return g.toString();
}

/** Writes `<dataDir>/rum/web/<app>-<env>-<version>.zip` holding `<scriptPath>.map`; returns the zip's path. */
export function writeSourcemapZip(dataDir: string, app: string, env: string, version: string, scriptPath: string): string {
  const dir = path.join(dataDir, 'rum', 'web');
  fs.mkdirSync(dir, { recursive: true });
  const rel = scriptPath.replace(/^\/+/, '');
  const file = path.join(dir, `${app}-${env}-${version}.zip`);
  fs.writeFileSync(file, zipSync({ [`${rel}.map`]: strToU8(makeSourcemap(path.basename(rel))) }));
  return file;
}

export const GEO_DB = new URL('./testdata/geo-test.mmdb', import.meta.url).pathname;
