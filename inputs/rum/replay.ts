/**
 * Session replay uploads: the SDK posts each segment as `multipart/form-data`
 * (a `segment` file plus its metadata as form values: app_id, env, version,
 * session_id, view_id, …). They are checked (size, form, app id) and forwarded
 * as they came to the dataway's `/v1/write/rum/replay`, through the core's
 * upload queue (retries, then the disk buffer while the dataway is down; with
 * the file sink, files under `data/out/rum_replay/`).
 * The form is parsed with undici's FormData parser (Node's fetch).
 */
export const REPLAY_PATH = '/v1/write/rum/replay';

export class ReplayRefusal extends Error {
  constructor(
    readonly status: number,
    readonly result: 'bad_body' | 'too_large' | 'missing_app_id' | 'app_id_refused',
    message: string,
  ) {
    super(message);
  }
}

/** The form's string values (the segment's metadata), checked: a multipart body of at most `limit` bytes. */
export async function replayForm(body: Buffer, contentType: string | undefined, limit: number): Promise<Record<string, string>> {
  if (body.length > limit) throw new ReplayRefusal(413, 'too_large', `replay body of ${body.length} bytes exceeds ${limit}`);
  const ct = contentType ?? '';
  if (!/^multipart\/form-data;.*boundary=/i.test(ct)) throw new ReplayRefusal(400, 'bad_body', 'session replay must be multipart/form-data with a boundary');
  let form: FormData;
  try {
    form = await new Response(body as unknown as BodyInit, { headers: { 'content-type': ct } }).formData();
  } catch (e) {
    throw new ReplayRefusal(400, 'bad_body', `invalid multipart body: ${(e as Error).message}`);
  }
  const values: Record<string, string> = {};
  let segment = false;
  for (const [k, v] of form.entries()) {
    if (typeof v === 'string') {
      if (values[k] === undefined) values[k] = v;
    } else if (k === 'segment') segment = true;
  }
  if (!segment) throw new ReplayRefusal(400, 'bad_body', 'no segment file in the form');
  return values;
}
