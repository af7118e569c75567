/**
 * A budget of request body bytes held in memory across all connections.
 *
 * A body is admitted before it is read: its declared Content-Length is
 * reserved up front (a chunked body reserves as its chunks arrive), and a body
 * that does not fit is answered 503 + Retry-After without being read. Large
 * bodies (over `smallBody`) may use only `largeShare` of the budget, so slow or
 * huge uploads can never take the room small writes need: those keep being
 * accepted while big ones are held. Reservations are released when the
 * response is done or the connection closes.
 */

export interface BodyBudgetOptions {
  /** Bytes of request bodies held at once, all connections together. */
  totalBytes: number;
  /** A body larger than this is "large" (default 1 MiB). */
  smallBody?: number;
  /** Share of the budget large bodies may use together (default 0.75). */
  largeShare?: number;
}

export class BodyBudget {
  inFlight = 0;
  readonly smallBody: number;
  readonly largeCap: number;

  constructor(readonly o: BodyBudgetOptions) {
    this.smallBody = o.smallBody ?? 1 << 20;
    this.largeCap = Math.floor(o.totalBytes * (o.largeShare ?? 0.75));
  }

  /** A reservation that may grow (chunked bodies, inflated bodies). */
  open(): Reservation {
    return new Reservation(this);
  }

  /** Bytes a reservation of `held` bytes may still grow by. */
  room(held: number, grow: number): number {
    const cap = held + grow > this.smallBody ? this.largeCap : this.o.totalBytes;
    return Math.max(0, cap - this.inFlight);
  }
}

export class Reservation {
  held = 0;
  private released = false;

  constructor(private readonly budget: BodyBudget) {}

  /** Reserves `n` more bytes; false (nothing reserved) when they do not fit. */
  grow(n: number): boolean {
    if (this.released) return false;
    if (n > this.budget.room(this.held, n)) return false;
    this.held += n;
    this.budget.inFlight += n;
    return true;
  }

  /** What this reservation could still grow by now. */
  room(): number {
    return this.released ? 0 : this.budget.room(this.held, this.budget.smallBody + 1);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.budget.inFlight -= this.held;
    this.held = 0;
  }
}
