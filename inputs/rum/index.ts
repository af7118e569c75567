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
  // DataKit's [http_api] RUM settings (datakit.conf keys of the same names map onto these variables)
  agentEnv: [
    { env: 'ENV_RUM_ORIGIN_IP_HEADER', option: 'rum_origin_ip_header', default: 'X-Forwarded-For', doc: 'RUM: the header with the browser\'s address behind a proxy or ingress (`[http_api] rum_origin_ip_header`); sets `rum_origin_ip_header` of every `[[inputs.rum]]` that does not set it.' },
    { env: 'ENV_RUM_APP_ID_WHITE_LIST', option: 'rum_app_id_white_list', default: '(all)', doc: 'RUM: the app ids accepted, comma-separated (`[http_api] rum_app_id_white_list`); sets `rum_app_id_white_list` of every `[[inputs.rum]]` that does not set it.' },
  ],
  description: 'Browser RUM SDK batches at /v1/write/rum and session replay at /v1/write/rum/replay, with client location and sourcemaps',
  schema,
  // the input's code (and its libraries) is loaded when an instance starts (agent/input/lazy.ts)
  create: (config, ctx) => lazyInput(async () => new (await import('./input.js')).RumInput(config, ctx)),
};
