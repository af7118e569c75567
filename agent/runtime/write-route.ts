/**
 * `POST /v1/write/<category>`: line protocol (or DataKit's protobuf points, or
 * its JSON form, `application/json`) from SDKs and other agents.
 *
 * All or nothing, as DataKit: a malformed line answers 400 with its number,
 * the reason and the line, and nothing of the body is queued. A large body
 * (thousands of points with 1,000 tags each) must not stall the agent, so it
 * is decoded in slices of ~2 ms that yield to the event loop; where the queue
 * takes line protocol, each slice is encoded into lines (with the core's tags)
 * at once and its points are dropped, so the body never exists as millions of
 * live tag strings, and the lines are queued together at the end.
 */
import { HttpError } from '../server/server.js';
import type { HttpRoutes } from '../server/http-routes.js';
import type { RunningInput } from '../input/running-input.js';
import { CATEGORIES, nowNs, type Category, type Point } from '../model/point.js';
import { DECODE_SLICE_MS, LineDecoder, LineProtocolError, PRECISION_NS, type DecodedPoint } from '../model/lineproto.js';
import { LineBuf } from '../model/linebuf.js';
import { decodePBPoints } from '../model/pbpoint.js';
import { decodeJsonPoints, isJsonBody, JsonPointsError } from '../model/jsonpoints.js';

/**
 * DataKit's JSON body form is parsed in one go (JSON.parse cannot yield): bodies above this are
 * refused with 413 and a hint, so that one parse stays within a few tens of milliseconds.
 */
export const MAX_JSON_BODY_BYTES = 4 << 20;

/** Text decoded between two looks at the clock: 16 short lines, or fewer long ones (a line of 1,000 tags is ~10-20 KB). */
const STEP_CHARS = 4096;

const yieldNow = () => new Promise<void>((r) => setImmediate(r));

/** Registers the write routes of every category; returns a function that removes them. */
export function registerWriteRoutes(http: HttpRoutes, writer: RunningInput): () => void {
  // /v1/write/rum belongs to the rum input (inputs/rum), as DataKit's dedicated route does.
  const off = CATEGORIES.filter((category) => category !== 'rum').map((category) =>
    http.route(['POST'], `/v1/write/${category}`, async (req) => {
      const precision = PRECISION_NS[req.query.precision ?? 'n'];
      if (precision === undefined) throw new HttpError(400, `unknown precision ${JSON.stringify(req.query.precision)}`);
      let accepted: number;
      let total: number;
      try {
        if (String(req.headers['content-type'] ?? '').startsWith('application/protobuf')) {
          const points = decodePBPoints(req.body).map((d) => toPoint(category, d));
          if (points.some((p) => Object.keys(p.fields).length === 0)) throw new HttpError(400, 'a point has no fields');
          total = points.length;
          accepted = await addInSlices(writer, points);
        } else if (isJsonBody(req.headers['content-type'] as string | undefined)) {
          if (req.body.length > MAX_JSON_BODY_BYTES) throw new HttpError(413, `a JSON body is limited to ${MAX_JSON_BODY_BYTES} bytes; send line protocol for larger batches`);
          const points = decodeJsonPoints(req.body.toString('utf8'), precision).map((d) => toPoint(category, d));
          total = points.length;
          accepted = await addInSlices(writer, points);
        } else if (writer.takesLines(category)) {
          const lines = await encodeInSlices(req.body.toString('utf8'), precision, category, writer.tagsToAdd());
          total = lines.ends.length;
          accepted = total === 0 ? 0 : writer.addLines(category, lines.data.subarray(0, lines.off), lines.ends);
        } else {
          const points = (await decodeInSlices(req.body.toString('utf8'), precision)).map((d) => toPoint(category, d));
          total = points.length;
          accepted = await addInSlices(writer, points);
        }
      } catch (e) {
        if (e instanceof HttpError) throw e;
        if (e instanceof LineProtocolError) throw new HttpError(400, e.detail());
        if (e instanceof JsonPointsError) throw new HttpError(400, e.message);
        throw new HttpError(400, `invalid body: ${(e as Error).message}`);
      }
      if (accepted < total) return { status: 503, headers: { 'retry-after': '1' }, body: { error: `queue for ${category} is full; retry later` } };
      return { status: 200, body: {} };
    }),
  );
  return () => off.forEach((f) => f());
}

function toPoint(category: Category, d: DecodedPoint): Point {
  return { category, name: d.name, tags: d.tags, fields: d.fields, time: d.time };
}

/** Runs `step` (which returns false when done) in slices of about `sliceMs`, yielding between them. */
async function inSlices(step: () => boolean, sliceMs = DECODE_SLICE_MS): Promise<void> {
  for (;;) {
    const until = performance.now() + sliceMs;
    let more: boolean;
    while ((more = step()) && performance.now() < until);
    if (!more) return;
    await yieldNow();
  }
}

async function decodeInSlices(text: string, precision: bigint): Promise<DecodedPoint[]> {
  const d = new LineDecoder(text, precision);
  const out: DecodedPoint[] = [];
  await inSlices(() => d.next(out, 16, STEP_CHARS));
  return out;
}

/** Decodes and encodes a body into lines with `add` (the core's tags: a point's own tag wins), a slice at a time. */
async function encodeInSlices(text: string, precision: bigint, category: Category, add: Readonly<Record<string, string>>): Promise<LineBuf> {
  const d = new LineDecoder(text, precision);
  const lb = new LineBuf(text.length + (64 << 10));
  const now = nowNs();
  const batch: DecodedPoint[] = [];
  await inSlices(() => {
    batch.length = 0;
    const more = d.next(batch, 16, STEP_CHARS);
    for (const p of batch) {
      const tags = p.tags;
      for (const k in add) if (tags[k] === undefined) tags[k] = add[k]!;
      lb.point({ category, name: p.name, tags, fields: p.fields, time: p.time }, now);
    }
    return more;
  });
  return lb;
}

/**
 * Hands points to the pipeline a slice at a time, yielding to the event loop
 * every ~2 ms. Stops at the first slice not wholly accepted (the queue is
 * full) and returns how many were accepted.
 */
async function addInSlices(writer: RunningInput, points: Point[], sliceMs = DECODE_SLICE_MS): Promise<number> {
  let accepted = 0;
  let i = 0;
  await inSlices(() => {
    const slice = points.slice(i, i + 4);
    i += slice.length;
    const n = writer.add(slice);
    accepted += n;
    return n === slice.length && i < points.length;
  }, sliceMs);
  return accepted;
}
