/**
 * user_agent(key, prefix = ""): the client behind a User-Agent, as DataKit's
 * fields `browser`, `browserVer`, `engine`, `engineVer`, `os`, `ua`,
 * `isMobile`, `isBot`.
 *
 * Browsers and devices come from ua-parser-js (maintained, MIT in its 1.x line,
 * a regular-expression table kept up to date with new browsers; hand-written
 * rules would rot). DataKit reports the layout engine and OS as the User-Agent
 * spells them (`AppleWebKit`, `Intel Mac OS X 11_1_0`, `Windows 7`), so those are
 * read from the string's product token and platform comment. Answers are cached
 * per User-Agent (a log holds few distinct ones; parsing one costs ~10 µs).
 * ua-parser-js is loaded at the first call, not with the script store: an
 * agent whose scripts never call user_agent() does not hold its tables (~1 MiB).
 */
import { createRequire } from 'node:module';
import type UAParserType from 'ua-parser-js';
import type { Run } from '../runtime.js';
import type { Value } from '../value.js';
import type { FnSpec } from './types.js';

const WINDOWS: Record<string, string> = { '5.0': 'Windows 2000', '5.1': 'Windows XP', '5.2': 'Windows XP', '6.0': 'Windows Vista', '6.1': 'Windows 7', '6.2': 'Windows 8', '6.3': 'Windows 8.1', '10.0': 'Windows 10' };
const BOT = /bot|crawl|spider|slurp|curl|wget|python-requests|go-http-client|httpclient|monitor|probe/i;

type UaInfo = [string, Value][];

let UAParser: typeof UAParserType | undefined;
const loadParser = (): typeof UAParserType => (UAParser ??= createRequire(import.meta.url)('ua-parser-js') as typeof UAParserType);

export function parseUserAgent(ua: string): UaInfo {
  const r = new (loadParser())(ua).getResult();
  const comment = /\(([^)]*)\)/.exec(ua)?.[1] ?? '';
  const parts = comment.split(';').map((s) => s.trim()).filter((s) => s !== '');
  let platform = parts[0] ?? '';
  let os = '';
  const win = /Windows NT (\d+\.\d+)/.exec(comment);
  if (win) {
    platform = 'Windows';
    os = WINDOWS[win[1]!] ?? `Windows NT ${win[1]}`;
  } else {
    os = parts.find((p) => /Mac OS X|Android|iPhone OS|CPU OS|Linux|CrOS|FreeBSD/.test(p)) ?? '';
    if (os === '' && r.os.name) os = r.os.version ? `${r.os.name} ${r.os.version}` : r.os.name;
  }
  const product = /\b(AppleWebKit|Gecko|Trident|Presto|EdgeHTML)\/([\w.]+)/.exec(ua);
  const engine = product?.[1] ?? r.engine.name ?? '';
  const engineVer = product?.[2] ?? r.engine.version ?? '';
  const device = r.device.type;
  return [
    ['isMobile', device === 'mobile' || device === 'tablet' || /Mobi/.test(ua)],
    ['isBot', BOT.test(ua)],
    ['os', os],
    ['browser', r.browser.name ?? ''],
    ['browserVer', r.browser.version ?? ''],
    ['engine', engine],
    ['engineVer', engineVer],
    ['ua', platform],
  ];
}

/** parseUserAgent()'s keys, in its order. */
const UA_KEYS = ['isMobile', 'isBot', 'os', 'browser', 'browserVer', 'engine', 'engineVer', 'ua'];

const CACHE_MAX = 1024;
const cache = new Map<string, UaInfo>();

/**
 * In front of the Map: a few recent answers by a cheap hash of the text (its length and three
 * of its characters), checked by comparing the text. A Map lookup hashes the whole text (a
 * User-Agent is ~100 characters, a new string per line) before it compares it.
 */
const RECENT = 64;
const recentKeys: (string | undefined)[] = new Array<string | undefined>(RECENT).fill(undefined);
const recentInfo: (UaInfo | undefined)[] = new Array<UaInfo | undefined>(RECENT).fill(undefined);

function lookup(v: string): UaInfo {
  const n = v.length;
  const h = (n * 31 + v.charCodeAt(n >> 1) * 7 + v.charCodeAt(n >> 2) * 3 + v.charCodeAt(n - 1)) & (RECENT - 1);
  if (recentKeys[h] === v) return recentInfo[h]!;
  let info = cache.get(v);
  if (info === undefined) {
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(v, (info = parseUserAgent(v)));
  }
  recentKeys[h] = v;
  recentInfo[h] = info;
  return info;
}

export const user_agent: FnSpec = {
  params: ['key', 'prefix'],
  min: 1,
  compile(args, c) {
    const key = c.key(args[0]!);
    const prefix = args[1] !== undefined ? c.expr(args[1]) : undefined;
    const known = c.known(UA_KEYS);
    const source = c.known([key]);
    return (r: Run) => {
      const v = r.getKnown(source, 0);
      if (typeof v !== 'string' || v === '') return null;
      const p = prefix !== undefined ? prefix(r) : '';
      if (typeof p !== 'string') throw new Error('user_agent: the prefix must be a string');
      const info = lookup(v);
      if (p === '') {
        for (let i = 0; i < info.length; i++) if (info[i]![1] !== '') r.setKnown(known, i, info[i]![1]);
      } else for (const [k, x] of info) if (x !== '') r.set(p + k, x);
      return null;
    };
  },
};
