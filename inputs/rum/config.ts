/** Options of `[[inputs.rum]]`: DataKit's names and defaults, plus DataKit's `[http_api]` RUM options. */
import { any, bool, int, list, object, optional, str, tags, type Infer } from '../../agent/config/schema.js';

/** What DataKit captures by default, plus `browser_log`, which the browser RUM SDK (3.x) also emits. */
export const DEFAULT_MEASUREMENTS = ['view', 'resource', 'action', 'long_task', 'error', 'telemetry', 'browser_log'];

export const schema = object({
  /** Routes of the RUM SDKs' batches. */
  endpoints: list(str(), ['/v1/write/rum']),
  /** Routes of session replay uploads (multipart). */
  session_replay_endpoints: list(str(), ['/v1/write/rum/replay']),
  /** The RUM measurements accepted; any other is refused (400) and counted. */
  measurements: list(str(), DEFAULT_MEASUREMENTS),
  /**
   * DataKit's `[http_api] rum_origin_ip_header`: the header holding the
   * browser's address when the agent sits behind a proxy or ingress (first
   * address of a list). Then X-Real-IP, then the socket's address.
   */
  rum_origin_ip_header: str('X-Forwarded-For'),
  /** DataKit's `[http_api] rum_app_id_white_list`: the app ids accepted; empty = all. */
  rum_app_id_white_list: list(str(), []),
  /**
   * telekit: a MaxMind-format (mmdb) city database (GeoLite2-City, DB-IP, …)
   * for the city/province/country tags, and optionally an ASN/ISP database for
   * `isp`. Empty: the location tags are `unknown` (DataKit without an ipdb).
   */
  ipdb_path: str(''),
  ipdb_isp_path: str(''),
  /** telekit: client addresses whose location is kept in memory (one lookup per new address). */
  ip_cache_size: int(65_536, { min: 0 }),
  /** telekit: resolve `error_stack` through uploaded sourcemaps (`<data dir>/rum/web/<app_id>-<env>-<version>.zip`). */
  sourcemap: bool(true),
  /** telekit: largest accepted RUM body and replay upload, MiB (after decompression). */
  max_body_mb: int(32, { min: 1 }),
  max_replay_body_mb: int(32, { min: 1 }),
  /** DataKit's mobile symbol tools, CDN list and worker/cache tables: accepted for compatibility, unused. */
  android_cmdline_home: str(''),
  proguard_home: str(''),
  ndk_home: str(''),
  atos_bin_path: str(''),
  java_home: str(''),
  cdn_map: str(''),
  threads: optional(any()),
  storage: optional(any()),
  session_replay: optional(any()),
  tags: tags(),
});

export type RumConfig = Infer<typeof schema>;
