/** Network helpers for tests that talk to an input's own listener on 127.0.0.1. */
import dgram from 'node:dgram';

/**
 * Sends each packet as one UDP datagram to 127.0.0.1:`port` and resolves once
 * every send has completed and the socket is closed (rejects on the first send
 * error). Delivery is not confirmed: wait on the receiver's side.
 */
export function sendUdp(port: number, ...packets: (string | Buffer)[]): Promise<void> {
  const s = dgram.createSocket('udp4');
  return new Promise((resolve, reject) => {
    let left = packets.length;
    let failed = false;
    if (left === 0) return s.close(() => resolve());
    for (const p of packets)
      s.send(p, port, '127.0.0.1', (err) => {
        if (failed) return;
        if (err) {
          failed = true;
          s.close();
          reject(err);
        } else if (--left === 0) s.close(() => resolve());
      });
  });
}
