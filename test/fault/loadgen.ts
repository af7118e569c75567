/**
 * A test input that produces a steady stream of numbered points and keeps the
 * books: which sequence numbers were offered, accepted by the core, and
 * acknowledged (onAck: sent or durably buffered). Fault tests compare the
 * acknowledged set with what the test dataway received.
 */
import type { Input, InputContext, InputDefinition } from '../../agent/input/contract.js';
import { int, object, tags, type Infer } from '../../agent/config/schema.js';
import type { Category, Point } from '../../agent/model/point.js';

export const loadgenSchema = object({
  /** Points per add() call. */
  batch: int(50),
  /** Milliseconds between calls. */
  interval_ms: int(10),
  tags: tags(),
});

export class LoadBooks {
  offered = 0;
  accepted = new Set<number>();
  acked = new Set<number>();
  private next = 0;
  running = false;
  /** Called by the test to stop producing (the agent keeps running). */
  pause(): void {
    this.running = false;
  }
  take(n: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(this.next++);
    this.offered += n;
    return out;
  }
}

export function loadgen(books: LoadBooks, category: Category = 'metric'): InputDefinition<Infer<typeof loadgenSchema>> {
  return {
    name: 'loadgen',
    description: 'test load generator',
    schema: loadgenSchema,
    create(cfg, ctx: InputContext): Input {
      let timer: NodeJS.Timeout | undefined;
      return {
        async start() {
          books.running = true;
          timer = setInterval(() => {
            if (!books.running) return;
            const seqs = books.take(cfg.batch);
            const points: Point[] = seqs.map((s) => ({ category, name: 'load', tags: { lane: String(s % 4) }, fields: { seq: BigInt(s), pad: 'x'.repeat(64) } }));
            const n = ctx.acc.add(points, { onAck: () => seqs.forEach((s) => books.acked.add(s)) });
            if (n > 0) seqs.forEach((s) => books.accepted.add(s));
          }, cfg.interval_ms);
        },
        async stop() {
          clearInterval(timer);
          books.running = false;
        },
      };
    },
  };
}

/** Sequence numbers of the `load` points a dataway received (as a set). */
export function receivedSeqs(points: { name: string; fields: Record<string, unknown> }[]): Set<number> {
  const s = new Set<number>();
  for (const p of points) if (p.name === 'load') s.add(Number(p.fields.seq as bigint));
  return s;
}

export function missing(acked: Set<number>, got: Set<number>): number[] {
  const out: number[] = [];
  for (const a of acked) if (!got.has(a)) out.push(a);
  return out;
}
