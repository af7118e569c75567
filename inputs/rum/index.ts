/**
 * rum: DataKit's RUM input. The browser (and mini-program) RUM SDKs post
 * batches to `/v1/write/rum` as line protocol or a JSON array; only RUM
 * measurements from allowed app ids are accepted. Each request's client
 * address (proxy header first) and its location become tags of every point;
 * `error` points get `error_stack_source` from the app's uploaded sourcemaps.
 * Session replay segments (`/v1/write/rum/replay`) are checked and forwarded
 * to the dataway as they came. CORS for browsers is the HTTP server's
 * (agent/server/cors.ts).
 */
import type { InputDefinition } from '../../agent/input/contract.js';
import { lazyInput } from '../../agent/input/lazy.js';
import { schema, type RumConfig } from './config.js';

export const rum: InputDefinition<RumConfig> = {
  name: 'rum',
  description: 'Browser RUM SDK batches at /v1/write/rum and session replay at /v1/write/rum/replay, with client location and sourcemaps',
  schema,
  // the input's code (and its libraries) is loaded when an instance starts (agent/input/lazy.ts)
  create: (config, ctx) => lazyInput(async () => new (await import('./input.js')).RumInput(config, ctx)),
};
