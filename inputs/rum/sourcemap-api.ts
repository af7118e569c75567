/**
 * DataKit's sourcemap management API, for build pipelines:
 * - `PUT /v1/sourcemap?app_id=&env=&version=&platform=web&token=` with a
 *   `multipart/form-data` body whose `file` is the zip of the build's `.map`
 *   files: stored as `<data dir>/rum/web/<app_id>-<env>-<version>.zip`, where
 *   error stacks are resolved from (sourcemap.ts);
 * - `DELETE /v1/sourcemap?…` (same query) removes it.
 * `token` must be the workspace token of the agent's first dataway (DataKit's
 * check). Answers are DataKit's JSON `{success, content | errorMsg}`, with an
 * HTTP status telekit adds (DataKit answers 200 with `success: false`): 200,
 * 400 bad request or zip, 403 bad token, 404 nothing to delete. Only `web`
 * (and DataKit's `miniapp`) builds are resolved by telekit: `android` and
 * `ios` are refused. A zip is checked (it must hold a readable `.map`) and
 * written atomically (temporary file, then rename), so a half-written zip is
 * never read.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { HttpRequest, HttpResponse } from '../../agent/server/http-routes.js';
import { Sourcemaps, zipName } from './sourcemap.js';

export const SOURCEMAP_PATH = '/v1/sourcemap';

export type SourcemapApiResult = 'uploaded' | 'deleted' | 'bad_request' | 'bad_token' | 'bad_zip' | 'not_found' | 'failed';

function answer(status: number, success: boolean, text: string): HttpResponse {
  return { status, body: success ? { success, content: text } : { success, errorMsg: text } };
}

/** `app_id`, `env`, `version` as DataKit reads them; a name that would leave the folder is refused. */
function target(req: HttpRequest, dir: string): { file: string; name: string } | HttpResponse {
  const { app_id: appId = '', env = '', version = '', platform = 'web' } = req.query;
  if (appId === '') return answer(400, false, 'app_id not found');
  if (platform !== 'web' && platform !== 'miniapp') return answer(400, false, `platform [${platform}] not supported by telekit: only web (and miniapp) stacks are resolved`);
  const name = zipName(appId, env, version);
  const file = path.resolve(dir, name);
  if (path.dirname(file) !== path.resolve(dir) || /[/\\\0]/.test(name)) return answer(400, false, `invalid file name [${name}], should not contain illegal chars such as '../' or '/'`);
  return { file, name };
}

export class SourcemapApi {
  constructor(
    /** `<data dir>/rum/web` */
    private readonly dir: string,
    private readonly maps: Sourcemaps,
    private readonly checkToken: (token: string) => boolean,
    private readonly count: (result: SourcemapApiResult) => void,
    private readonly maxBytes: number,
  ) {}

  private reply(result: SourcemapApiResult, r: HttpResponse): HttpResponse {
    this.count(result);
    return r;
  }

  async upload(req: HttpRequest): Promise<HttpResponse> {
    if (!this.checkToken(req.query.token ?? '')) return this.reply('bad_token', answer(403, false, 'invalid token: token is missing or not correct'));
    const t = target(req, this.dir);
    if (!('file' in t)) return this.reply('bad_request', t);
    if (req.body.length > this.maxBytes) return this.reply('bad_request', answer(413, false, `body of ${req.body.length} bytes exceeds ${this.maxBytes}`));
    const ct = String(req.headers['content-type'] ?? '');
    if (!/^multipart\/form-data;.*boundary=/i.test(ct)) return this.reply('bad_request', answer(400, false, 'the body must be multipart/form-data with the zip as "file"'));
    let zip: Uint8Array;
    try {
      const form = await new Response(req.body as unknown as BodyInit, { headers: { 'content-type': ct } }).formData();
      const f = form.get('file');
      if (f === null || typeof f === 'string') return this.reply('bad_request', answer(400, false, 'no "file" in the form'));
      zip = new Uint8Array(await f.arrayBuffer());
    } catch (e) {
      return this.reply('bad_request', answer(400, false, `invalid multipart body: ${(e as Error).message}`));
    }
    try {
      Sourcemaps.load(zip);
    } catch (e) {
      return this.reply('bad_zip', answer(400, false, `${t.name}: not a usable sourcemap zip (${(e as Error).message})`));
    }
    try {
      await fs.mkdir(this.dir, { recursive: true });
      const tmp = `${t.file}.${process.pid}.${Date.now()}.tmp`;
      await fs.writeFile(tmp, zip);
      await fs.rename(tmp, t.file);
    } catch (e) {
      return this.reply('failed', answer(500, false, `write sourcemap file [${t.name}] failed: ${(e as Error).message}`));
    }
    this.maps.forget(t.name);
    return this.reply('uploaded', answer(200, true, `uploaded to [${t.name}]!`));
  }

  async remove(req: HttpRequest): Promise<HttpResponse> {
    if (!this.checkToken(req.query.token ?? '')) return this.reply('bad_token', answer(403, false, 'invalid token: token is missing or not correct'));
    const t = target(req, this.dir);
    if (!('file' in t)) return this.reply('bad_request', t);
    try {
      await fs.unlink(t.file);
    } catch (e) {
      const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
      return this.reply(missing ? 'not_found' : 'failed', answer(missing ? 404 : 500, false, `delete sourcemap file [${t.name}] failed: ${missing ? 'no such file' : (e as Error).message}`));
    }
    this.maps.forget(t.name);
    return this.reply('deleted', answer(200, true, `deleted [${t.name}]!`));
  }
}
