/**
 * Acknowledgement ordering for one tailer: a file position is saved only when
 * every batch sent before it has been acknowledged, whatever order the acks
 * arrive in; a finished file's position is removed at its turn.
 */
import { positionKey, type Checkpoints, type Position } from './checkpoint.js';

/** A file as the tailer knows it: path, device, inode and fingerprint (first bytes). */
export interface Ident {
  path: string;
  dev: number;
  ino: number;
  fp: string;
  fpLen: number;
}

export interface Slot {
  ident: Ident;
  offset: number;
  acked: boolean;
  finish: boolean;
}

export class AckedPositions {
  private readonly slots: Slot[] = [];
  /** The last position sent (acknowledged or not). */
  private lastSent: { ident: Ident; offset: number } | undefined;

  constructor(
    private readonly checkpoints: Checkpoints,
    private readonly live: string,
  ) {}

  /** Records a batch that ends at `offset` (already acknowledged when it was empty). */
  sent(ident: Ident, offset: number, acked: boolean): Slot {
    const slot: Slot = { ident, offset, acked, finish: false };
    this.lastSent = { ident, offset };
    this.slots.push(slot);
    if (acked) this.drain();
    return slot;
  }

  ack(slot: Slot): void {
    slot.acked = true;
    this.drain();
  }

  /** Removes the file's position once everything before this point is acknowledged. */
  finish(ident: Ident): void {
    this.slots.push({ ident, offset: 0, acked: true, finish: true });
    this.drain();
  }

  /**
   * At stop: when batches of the live file are still unacknowledged, tells the
   * next tailer of that file where this one stopped sending.
   */
  handOff(): void {
    const last = this.lastSent;
    if (last && last.ident.path === this.live && this.slots.some((s) => !s.acked)) {
      this.checkpoints.handoffs.set(this.live, this.position(last.ident, last.offset));
    }
  }

  position(ident: Ident, offset: number): Position {
    return { path: ident.path, live: this.live, dev: ident.dev, ino: ident.ino, fp: ident.fp, fpLen: ident.fpLen, offset, updated: Date.now() };
  }

  private drain(): void {
    while (this.slots.length > 0 && this.slots[0]!.acked) {
      const s = this.slots.shift()!;
      const key = positionKey(s.ident.dev, s.ident.ino);
      if (s.finish) {
        this.checkpoints.delete(key);
        continue;
      }
      const prev = this.checkpoints.get(key);
      if (prev && prev.offset === s.offset && prev.fp === s.ident.fp && prev.path === s.ident.path) continue;
      this.checkpoints.set(this.position(s.ident, s.offset));
    }
  }
}
