/**
 * UDP packets the kernel dropped for a statsd socket because its receive
 * buffer was full (the agent did not read fast enough): the `drops` column
 * of /proc/self/net/udp and udp6 (the agent's own network namespace) on the
 * line whose local port is the socket's. The bind is exclusive, so no other
 * socket holds that port. Linux only; undefined where the files are missing.
 */
import fs from 'node:fs';

const FILES = ['/proc/self/net/udp', '/proc/self/net/udp6'];

/** The drops of the sockets bound to local `port` in one /proc/net/udp(6) text, or undefined when none is. */
export function parseUdpDrops(text: string, port: number): number | undefined {
  const suffix = ':' + port.toString(16).toUpperCase().padStart(4, '0');
  let total: number | undefined;
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const cols = lines[i]!.trim().split(/\s+/);
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
    if (cols.length < 13 || !cols[1]!.endsWith(suffix)) continue;
    const d = Number(cols[12]);
    if (Number.isInteger(d) && d >= 0) total = (total ?? 0) + d;
  }
  return total;
}

/** The kernel's drop count for the UDP socket bound to local `port` (summed over IPv4 and IPv6). */
export function udpDrops(port: number, files: readonly string[] = FILES): number | undefined {
  let total: number | undefined;
  for (const f of files) {
    let text: string;
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    const d = parseUdpDrops(text, port);
    if (d !== undefined) total = (total ?? 0) + d;
  }
  return total;
}
