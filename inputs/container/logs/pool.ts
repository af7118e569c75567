/**
 * A small pool of read buffers shared by all tailers: it bounds both memory
 * (buffers × size) and the number of concurrent reads.
 */
export class ReadPool {
  private readonly free: Buffer[] = [];
  private readonly waiters: ((b: Buffer) => void)[] = [];
  /** Buffers made so far: at most `count`, made on first need (an agent with no log files holds none). */
  private made = 0;

  /** Each buffer holds one read of `readSize` bytes plus a carried partial line of up to `carrySize`. */
  constructor(
    private readonly count: number,
    readonly readSize: number,
    private readonly carrySize: number,
  ) {}

  acquire(): Promise<Buffer> {
    const b = this.free.pop();
    if (b) return Promise.resolve(b);
    if (this.made < this.count) {
      this.made++;
      return Promise.resolve(Buffer.allocUnsafe(this.readSize + this.carrySize));
    }
    return new Promise((r) => this.waiters.push(r));
  }

  release(b: Buffer): void {
    const w = this.waiters.shift();
    if (w) w(b);
    else this.free.push(b);
  }
}
