/**
 * The StatsD sockets: one UDP socket or one TCP server per instance.
 *
 * Receiving and parsing are decoupled: the socket callbacks only queue the raw
 * packet / the complete lines of a TCP chunk, and the queue is handed to the
 * consumer in one batch from setImmediate, after libuv has read everything the
 * kernel had ready. The UDP socket asks for a large SO_RCVBUF so bursts wait in
 * the kernel instead of being dropped there while the event loop is busy.
 *
 * Limits: at most `allowedPending` queued packets (UDP packets beyond are
 * dropped and counted; TCP sockets are paused instead, so TCP never loses
 * data), at most `maxTcpConnections` connections (more are closed, counted),
 * at most `maxLineBytes` of an unterminated TCP line (the rest of that line is
 * discarded, counted).
 */
import dgram from 'node:dgram';
import net from 'node:net';

export interface ListenerOptions {
  protocol: 'udp' | 'udp4' | 'udp6' | 'tcp' | 'tcp4' | 'tcp6';
  host: string;
  port: number;
  recvBufferSize: number;
  allowedPending: number;
  maxTcpConnections: number;
  maxLineBytes: number;
}

export interface ListenerSink {
  /** A batch of packets / TCP line blocks, in arrival order. */
  batch(items: Buffer[]): void;
  /** Something was refused before parsing. */
  dropped(reason: 'pending_full' | 'tcp_connection_limit' | 'line_too_long', n: number): void;
}

export class StatsdListener {
  private udp: dgram.Socket | undefined;
  private tcp: net.Server | undefined;
  /** Open connections and their close handlers (which queue the unterminated last line). */
  private readonly conns = new Map<net.Socket, () => void>();
  private readonly paused = new Set<net.Socket>();
  private queue: Buffer[] = [];
  private scheduled = false;
  private closed = false;
  /** Packets (UDP) or data chunks (TCP) received. */
  received = 0;
  /** The bound port (useful with port 0). */
  port = 0;

  constructor(
    private readonly opts: ListenerOptions,
    private readonly sink: ListenerSink,
  ) {}

  get connections(): number {
    return this.conns.size;
  }

  async start(): Promise<void> {
    if (this.opts.protocol.startsWith('udp')) await this.startUdp();
    else await this.startTcp();
  }

  private async startUdp(): Promise<void> {
    const { protocol, host } = this.opts;
    const v6 = protocol === 'udp6' || (protocol === 'udp' && (host === '' ? true : net.isIPv6(host)));
    try {
      this.udp = await this.bindUdp(v6 ? 'udp6' : 'udp4', host || (v6 ? '::' : '0.0.0.0'), protocol === 'udp6');
    } catch (e) {
      // no IPv6 in this network namespace: plain 'udp' on every address falls back to IPv4
      if (!(protocol === 'udp' && host === '')) throw e;
      this.udp = await this.bindUdp('udp4', '0.0.0.0', false);
    }
  }

  private bindUdp(type: 'udp4' | 'udp6', address: string, ipv6Only: boolean): Promise<dgram.Socket> {
    return new Promise((resolve, reject) => {
      const s = dgram.createSocket({ type, ipv6Only });
      s.once('error', (e) => {
        try {
          s.close(); // a failed bind leaves an open handle
        } catch {
          /* already closed */
        }
        reject(e);
      });
      s.bind({ port: this.opts.port, address, exclusive: true }, () => {
        s.removeAllListeners('error');
        s.on('error', () => {
          /* receive errors (e.g. ICMP) are not fatal; the socket keeps working */
        });
        if (this.opts.recvBufferSize > 0) {
          try {
            s.setRecvBufferSize(this.opts.recvBufferSize);
          } catch {
            /* capped or refused by the kernel: keep its default */
          }
        }
        this.port = s.address().port;
        s.on('message', (msg) => this.onPacket(msg));
        resolve(s);
      });
    });
  }

  /** The effective SO_RCVBUF (the kernel doubles the request and caps it at rmem_max). */
  recvBufferSize(): number | undefined {
    try {
      return this.udp?.getRecvBufferSize();
    } catch {
      return undefined;
    }
  }

  private onPacket(msg: Buffer): void {
    this.received++;
    if (this.queue.length >= this.opts.allowedPending) {
      this.sink.dropped('pending_full', 1);
      return;
    }
    this.enqueue(msg);
  }

  private enqueue(b: Buffer): void {
    this.queue.push(b);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  /** Hands the queue to the sink; resumes paused TCP sockets. */
  private drain(): void {
    this.scheduled = false;
    const q = this.queue;
    if (q.length > 0) {
      this.queue = [];
      this.sink.batch(q);
    }
    if (this.paused.size > 0) {
      for (const s of this.paused) s.resume();
      this.paused.clear();
    }
  }

  private async startTcp(): Promise<void> {
    const { protocol, host } = this.opts;
    const server = net.createServer((sock) => this.onConnection(sock));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const address = host || (protocol === 'tcp4' ? '0.0.0.0' : protocol === 'tcp6' ? '::' : undefined);
      server.listen({ port: this.opts.port, host: address, ipv6Only: protocol === 'tcp6', exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', () => {
      /* accept errors (EMFILE) must not kill the agent */
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.tcp = server;
  }

  private onConnection(sock: net.Socket): void {
    if (this.closed || this.conns.size >= this.opts.maxTcpConnections) {
      this.sink.dropped('tcp_connection_limit', 1);
      sock.destroy();
      return;
    }
    this.conns.set(sock, () => done());
    sock.setNoDelay(true);
    let carry: Buffer | undefined;
    let skipping = false; // inside an over-long line: discard until its newline
    sock.on('data', (chunk: Buffer) => {
      this.received++;
      const nl = chunk.lastIndexOf(10);
      if (nl < 0) {
        if (skipping) return;
        const len = (carry?.length ?? 0) + chunk.length;
        if (len > this.opts.maxLineBytes) {
          this.sink.dropped('line_too_long', 1);
          carry = undefined;
          skipping = true;
        } else carry = carry ? Buffer.concat([carry, chunk]) : chunk;
        return;
      }
      let head: Buffer;
      if (skipping) {
        head = chunk.subarray(chunk.indexOf(10) + 1, nl); // the first line is the tail of the long one
        skipping = false;
      } else head = carry ? Buffer.concat([carry, chunk.subarray(0, nl)]) : chunk.subarray(0, nl);
      carry = nl + 1 < chunk.length ? Buffer.from(chunk.subarray(nl + 1)) : undefined;
      if (head.length > 0) this.enqueue(head);
      if (this.queue.length >= this.opts.allowedPending) {
        sock.pause();
        this.paused.add(sock);
      }
    });
    const done = () => {
      if (!this.conns.delete(sock)) return;
      this.paused.delete(sock);
      if (carry && !skipping) this.enqueue(carry); // the last line needs no newline
      carry = undefined;
    };
    sock.on('end', done);
    sock.on('close', done);
    sock.on('error', () => {
      /* resets are normal for clients that just disappear */
    });
  }

  /** Stops accepting, closes connections (keeping their last line), and delivers everything queued. */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const waits: Array<Promise<void>> = [];
    if (this.udp) {
      const u = this.udp;
      waits.push(new Promise((r) => u.close(() => r())));
      this.udp = undefined;
    }
    if (this.tcp) {
      const t = this.tcp;
      waits.push(new Promise((r) => t.close(() => r())));
      for (const [s, done] of [...this.conns]) {
        done();
        s.destroy();
      }
      this.tcp = undefined;
    }
    await Promise.all(waits);
    this.drain();
  }
}
