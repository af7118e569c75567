import net from 'node:net';
import dgram from 'node:dgram';

/**
 * Polls `fn` until it returns a truthy value (returned) or the timeout passes
 * (rejects with `what`). Tests wait on conditions, never on fixed sleeps.
 */
export async function waitFor<T>(fn: () => T | Promise<T>, opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${opts.what ?? 'condition'}${last ? `: ${String(last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 20));
  }
}

/**
 * A TCP port that was free a moment ago on 127.0.0.1, for a listener a test
 * configures by number (the gRPC and statsd addresses, a peer's port).
 *
 * Not from the kernel's ephemeral range (32768-60999 here): a port the kernel
 * handed out and took back can be given straight away to the next outgoing
 * connection — of this test or a parallel one — and the listener then fails
 * with EADDRINUSE (a CI run failed so). Below that range only listeners take
 * ports, each vitest worker draws from its own slice, and a port handed out
 * once is not handed out again by this process.
 */
const LOW = 20_000;
const HIGH = 32_768;
const handedOut = new Set<number>();
export async function freePort(): Promise<number> {
  const workers = 8;
  const slot = (Number(process.env.VITEST_POOL_ID ?? process.env.VITEST_WORKER_ID ?? 1) - 1) % workers;
  const size = Math.floor((HIGH - LOW) / workers);
  const base = LOW + slot * size;
  for (let i = 0; i < 200; i++) {
    const port = base + Math.floor(Math.random() * size);
    if (handedOut.has(port)) continue;
    if (await canListen(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no free TCP port below the ephemeral range');
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A port free for both TCP and UDP on 127.0.0.1 (for listeners that bind both, like statsd). */
export async function freeTcpUdpPort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await freePort();
    const ok = await new Promise<boolean>((resolve) => {
      const u = dgram.createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error('no free TCP+UDP port');
}
