/**
 * A small pool of read buffers shared by all tailers: it bounds both memory
 * (buffers × size) and the number of concurrent reads.
 */
export class ReadPool {
  private readonly free: Buffer[] = [];
  private readonly waiters: ((b: Buffer) => void)[] = [];

  /** Each buffer holds one read of `readSize` bytes plus a carried partial line of up to `carrySize`. */
  constructor(
    count: number,
    readonly readSize: number,
    carrySize: number,
  ) {
    for (let i = 0; i < count; i++) this.free.push(Buffer.allocUnsafe(readSize + carrySize));
  }

  acquire(): Promise<Buffer> {
    const b = this.free.pop();
    if (b) return Promise.resolve(b);
    return new Promise((r) => this.waiters.push(r));
  }

  release(b: Buffer): void {
    const w = this.waiters.shift();
    if (w) w(b);
    else this.free.push(b);
  }
}
