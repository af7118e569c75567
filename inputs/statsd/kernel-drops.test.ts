import dgram from 'node:dgram';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseUdpDrops, udpDrops } from './kernel-drops.js';

const UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  168: 00000000:1FBD 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 51234 2 0000000000000000 1742
  412: 0100007F:D4A1 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 51999 2 0000000000000000 9
`;
const UDP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  168: 00000000000000000000000000000000:1FBD 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 61234 2 0000000000000000 3
`;

describe('kernel UDP drops', () => {
  it('reads the drops column of the socket bound to the port, in IPv4 and IPv6', () => {
    expect(parseUdpDrops(UDP, 8125)).toBe(1742);
    expect(parseUdpDrops(UDP6, 8125)).toBe(3);
    expect(parseUdpDrops(UDP, 54433)).toBe(9);
    expect(parseUdpDrops(UDP, 8126)).toBeUndefined();
    expect(parseUdpDrops('', 8125)).toBeUndefined();
  });

  it.runIf(fs.existsSync('/proc/self/net/udp'))("finds a bound socket's line in this process's namespace", async () => {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
    expect(udpDrops(s.address().port)).toBe(0);
    await new Promise<void>((r) => s.close(r));
  });
});
