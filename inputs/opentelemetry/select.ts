/**
 * Which OTLP attributes become point tags. DataKit promotes a fixed list of
 * well-known keys (its docs' "Tag" table), the keys in `customer_tags`
 * (`reg:` prefix for a regex), or every key with `customer_tags_all`; keys
 * get `.` → `_`. The others stay in the span's `message`.
 */
import { pointKey } from './attrs.js';

/** DataKit's fixed list: attribute key → tag key. */
export const PROMOTED: ReadonlyMap<string, string> = new Map([
  ...[
    'http.url', 'http.hostname', 'http.route', 'http.status_code', 'http.request.method', 'http.method', 'http.client_ip', 'http.scheme',
    'url.full', 'url.scheme', 'url.path', 'url.query', 'span_kind', 'db.system', 'db.operation', 'db.name', 'db.statement',
    'server.address', 'net.host.name', 'server.port', 'net.host.port', 'network.peer.address', 'network.peer.port', 'network.transport',
    'messaging.system', 'messaging.operation', 'messaging.message', 'messaging.destination', 'rpc.service', 'rpc.system',
    'error', 'error.message', 'error.stack', 'error.type', 'project', 'version', 'env', 'host', 'pod_name', 'pod_namespace',
  ].map((k) => [k, pointKey(k)] as [string, string]),
  ['error.msg', 'error_message'],
]);

export class AttrSelector {
  private readonly exact = new Map<string, string>(PROMOTED);
  private readonly res: RegExp[] = [];
  private readonly cache = new Map<string, string | null>();

  constructor(
    customerTags: readonly string[],
    private readonly all: boolean,
  ) {
    for (const c of customerTags) {
      if (c.startsWith('reg:')) this.res.push(new RegExp(c.slice(4)));
      else this.exact.set(c, pointKey(c));
    }
  }

  /** The tag key for attribute `key`, or undefined when it stays in the message. */
  tagKey(key: string): string | undefined {
    const e = this.exact.get(key);
    if (e !== undefined) return e;
    if (this.all) return pointKey(key);
    if (this.res.length === 0) return undefined;
    let v = this.cache.get(key);
    if (v === undefined) {
      v = this.res.some((r) => r.test(key)) ? pointKey(key) : null;
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(key, v);
    }
    return v ?? undefined;
  }
}
