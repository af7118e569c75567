/**
 * The browser's address, as DataKit finds it: the configured header
 * (`rum_origin_ip_header`, default X-Forwarded-For; its first address), else
 * X-Forwarded-For / X-Real-IP (whichever is not the configured one), else the
 * socket's peer. Ports and IPv6 brackets are stripped, `::ffff:` mapped IPv4
 * is shown as IPv4.
 */
import net from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';

export type IpSource = 'header' | 'fallback_header' | 'socket';

const FALLBACKS = ['x-forwarded-for', 'x-real-ip'];

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s.trim() === '' ? undefined : s;
}

/** The first address of a header value (`a, b, c` or `a`), cleaned; '' when it is not an address. */
export function firstAddress(value: string): string {
  let s = value.split(',', 1)[0]!.trim();
  if (s.startsWith('[')) s = s.slice(1, s.indexOf(']') > 0 ? s.indexOf(']') : undefined);
  else if (s.includes('.') && s.includes(':')) s = s.slice(0, s.lastIndexOf(':')); // 1.2.3.4:5678
  return normalize(s);
}

function normalize(s: string): string {
  if (s.startsWith('::ffff:') && net.isIPv4(s.slice(7))) s = s.slice(7);
  return net.isIP(s) ? s : '';
}

/** The client's address and where it came from. `header` is lower-cased once by the caller. */
export function clientIp(headers: IncomingHttpHeaders, remoteAddress: string, header: string): { ip: string; source: IpSource } {
  const first = headerValue(headers, header);
  if (first !== undefined) return { ip: firstAddress(first), source: 'header' };
  for (const h of FALLBACKS) {
    if (h === header) continue;
    const v = headerValue(headers, h);
    if (v !== undefined) return { ip: firstAddress(v), source: 'fallback_header' };
  }
  return { ip: normalize(remoteAddress), source: 'socket' };
}
