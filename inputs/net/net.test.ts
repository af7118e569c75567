import http from 'node:http';
import { fieldNumber as n } from '../../agent/services/host/fields.js';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { validConfig } from '../../test/helpers/fake-context.js';
import { hostPaths } from '../../agent/services/host/paths.js';
import { waitFor } from '../../test/helpers/wait.js';
import { NetCollector } from './index.js';
import { schema, type NetConfig } from './config.js';

function config(raw: object): NetConfig {
  return validConfig(schema, raw);
}

async function loopbackTraffic(bytes: number): Promise<void> {
  const server = http.createServer((_q, s) => s.end(Buffer.alloc(bytes)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve, reject) =>
    http.get(`http://127.0.0.1:${port}/`, (res) => res.resume().on('end', resolve)).on('error', reject),
  );
  await new Promise((r) => server.close(r));
}

describe('net input (real /proc)', () => {
  it('counts loopback traffic: counters rise across two collections, rates appear', async () => {
    const c = new NetCollector(config({ interfaces: ['^lo$'], enable_virtual_interfaces: true }), hostPaths(''));
    const first = await c.collect();
    const lo1 = first.find((p) => p.tags.interface === 'lo')!;
    expect(lo1).toBeDefined();
    await loopbackTraffic(100_000);
    const second = await c.collect();
    const lo2 = second.find((p) => p.tags.interface === 'lo')!;
    expect(n(lo2.fields.bytes_recv)).toBeGreaterThanOrEqual(n(lo1.fields.bytes_recv) + 100_000);
    expect(n(lo2.fields.packets_sent)).toBeGreaterThan(n(lo1.fields.packets_sent));
    expect(lo2.fields['bytes_recv/sec'] as bigint).toBeGreaterThan(0n);
    const all = second.find((p) => p.tags.interface === 'all')!;
    expect(all.fields.tcp_activeopens as bigint).toBeGreaterThan(0n);
    expect(all.fields['tcp_insegs/sec'] as bigint).toBeGreaterThanOrEqual(0n);
    expect(typeof all.fields.udp_indatagrams).toBe('bigint');
  });

  it('skips virtual interfaces by default and protocol stats on request', async () => {
    const pts = await new NetCollector(config({ ignore_protocol_stats: true }), hostPaths('')).collect();
    expect(pts.some((p) => p.tags.interface === 'lo')).toBe(false);
    expect(pts.some((p) => p.tags.interface === 'all')).toBe(false);
    const virt = await new NetCollector(config({ enable_virtual_interfaces: true }), hostPaths('')).collect();
    expect(virt.some((p) => p.tags.interface === 'lo')).toBe(true);
    // as in DataKit, naming a virtual interface is not enough: enable_virtual_interfaces is needed too
    const named = await new NetCollector(config({ interfaces: ['^lo$'] }), hostPaths('')).collect();
    expect(named.some((p) => p.tags.interface === 'lo')).toBe(false);
  });
});

describe('net under a host root', () => {
  it('keeps up, non-virtual interfaces; rates from the second collection', async () => {
    const { fakeRoot } = await import('../../agent/services/host/fake-root.js');
    const dev = (eth0: number) =>
      `Inter-| Receive | Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed\n` +
      `    lo: 10 1 0 0 0 0 0 0 10 1 0 0 0 0 0 0\n  eth0: ${eth0} 10 0 0 0 0 0 0 ${eth0 * 2} 20 0 0 0 0 0 0\n  eth1: 5 1 0 0 0 0 0 0 5 1 0 0 0 0 0 0\n`;
    const r = fakeRoot({
      'proc/net/dev': dev(1000),
      'proc/net/snmp': 'Tcp: ActiveOpens InSegs OutSegs\nTcp: 3 100 200\nUdp: InDatagrams OutDatagrams\nUdp: 7 8\n',
      'sys/devices/virtual/net/lo/flags': '0x9\n',
      'sys/class/net/eth0/flags': '0x1003\n',
      'sys/class/net/eth1/flags': '0x1002\n', // down
    });
    try {
      const c = new NetCollector(config({}), hostPaths(r.root));
      const first = await c.collect();
      expect(first.map((p) => p.tags.interface)).toEqual(['eth0', 'all']);
      expect(first[1]!.fields).toEqual({ tcp_activeopens: 3n, tcp_insegs: 100n, tcp_outsegs: 200n, udp_indatagrams: 7n, udp_outdatagrams: 8n });
      r.write('proc/net/dev', dev(3000));
      const t0 = Date.now();
      await waitFor(() => Date.now() > t0 + 5); // a measurable interval for the rate
      const [eth0] = await c.collect();
      expect(eth0!.fields['bytes_recv/sec'] as bigint).toBeGreaterThan(0n);
      expect(n(eth0!.fields.bytes_sent)).toBe(6000);
    } finally {
      r.remove();
    }
  });
});
