/**
 * A small fuzzing harness over fast-check: seeded, bounded runs of random and
 * mutated inputs against a parser. A run fails when the parser throws an error
 * the caller does not expect (a TypeError from reading past a missing value is
 * the typical find), takes longer than `maxMsPerRun` (a pathological regex or
 * a loop), or when the heap grows by more than `maxHeapGrowthMB` over the suite.
 *
 * `FUZZ_RUNS` (default 300) and `FUZZ_SEED` (default 8) change the budget and
 * the seed; a failure prints the seed and the shrunk input to replay it.
 */
import fc from 'fast-check';

export const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
export const SEED = Number(process.env.FUZZ_SEED ?? 8);

/** Tokens that tend to reach parser edge cases, inserted by the mutator. */
const TOKENS = [
  '"', '\\', '\\\\', '=', ',', ' ', '\n', '\r\n', '\t', '{', '}', '[', ']', ':', '|', '#', '@', '.', '-', '+',
  '\u0000', '\u00ff', '\ud800', '\u2028', '🙂', '\u001b[31m',
  '0', '-0', '1e309', '-1e309', 'NaN', 'Infinity', '99999999999999999999', '18446744073709551616', '9223372036854775808i',
  'true', 'null', '[]', '{}', '""', 'i', 'u', 'P', 'F', 'stdout', '2024-05-01T10:20:30.123456789Z', '[[inputs.x]]', '\'\'\'', '"""',
].map((t) => Buffer.from(t, 'utf8'));

interface Op {
  kind: number;
  pos: number;
  len: number;
  byte: number;
  token: number;
  extra: Uint8Array;
}

const opArb: fc.Arbitrary<Op> = fc.record({
  kind: fc.integer({ min: 0, max: 6 }),
  pos: fc.nat(),
  len: fc.integer({ min: 1, max: 64 }),
  byte: fc.integer({ min: 0, max: 255 }),
  token: fc.nat(TOKENS.length - 1),
  extra: fc.uint8Array({ maxLength: 16 }),
});

/** Applies byte-level mutations: flip, set, insert bytes, insert a token, delete, duplicate, truncate. */
export function mutate(seed: Uint8Array, ops: readonly Op[]): Buffer {
  let b = Buffer.from(seed);
  for (const op of ops) {
    const pos = b.length === 0 ? 0 : op.pos % (b.length + 1);
    switch (op.kind) {
      case 0:
        if (pos < b.length) b[pos]! ^= 1 << (op.byte % 8);
        break;
      case 1:
        if (pos < b.length) b[pos] = op.byte;
        break;
      case 2:
        b = Buffer.concat([b.subarray(0, pos), op.extra, b.subarray(pos)]);
        break;
      case 3:
        b = Buffer.concat([b.subarray(0, pos), TOKENS[op.token]!, b.subarray(pos)]);
        break;
      case 4:
        b = Buffer.concat([b.subarray(0, pos), b.subarray(pos + op.len)]);
        break;
      case 5:
        b = Buffer.concat([b.subarray(0, pos + op.len), b.subarray(pos, pos + op.len), b.subarray(pos + op.len)]);
        break;
      case 6:
        b = b.subarray(0, pos);
        break;
    }
  }
  return b;
}

/** Random bytes, random text, and mutations of the seeds (weighted towards mutations). */
export function inputs(seeds: readonly (string | Uint8Array)[], maxLength = 4096): fc.Arbitrary<Buffer> {
  const seedBufs = seeds.map((s) => (typeof s === 'string' ? Buffer.from(s, 'utf8') : Buffer.from(s)));
  const arbs: fc.WeightedArbitrary<Buffer>[] = [
    { arbitrary: fc.uint8Array({ maxLength }).map((u) => Buffer.from(u)), weight: 1 },
    { arbitrary: fc.string({ maxLength, unit: 'grapheme' }).map((s) => Buffer.from(s, 'utf8')), weight: 1 },
  ];
  if (seedBufs.length > 0) {
    arbs.push({ arbitrary: fc.tuple(fc.constantFrom(...seedBufs), fc.array(opArb, { minLength: 1, maxLength: 8 })).map(([s, ops]) => mutate(s, ops)), weight: 6 });
  }
  return fc.oneof(...arbs);
}

export interface FuzzOptions {
  /** Errors the parser may throw on bad input (its documented error types). Default: none allowed. */
  allowed?: (e: unknown) => boolean;
  maxMsPerRun?: number;
  numRuns?: number;
  maxHeapGrowthMB?: number;
}

/** Runs `fn` on every generated input; throws (failing the test) on a crash, a slow run or heap growth. */
export function fuzz<T>(arb: fc.Arbitrary<T>, fn: (input: T) => unknown, o: FuzzOptions = {}): void {
  const heap0 = process.memoryUsage().heapUsed;
  fc.assert(
    fc.property(arb, (input) => {
      const t0 = cpuMs();
      try {
        fn(input);
      } catch (e) {
        if (!o.allowed?.(e)) throw e;
      }
      checkTime(t0, o);
    }),
    { seed: SEED, numRuns: o.numRuns ?? RUNS },
  );
  checkHeap(heap0, o);
}

/** fuzz() for an async `fn` (an HTTP handler): each input is awaited before the next. */
export async function fuzzAsync<T>(arb: fc.Arbitrary<T>, fn: (input: T) => Promise<unknown>, o: FuzzOptions = {}): Promise<void> {
  const heap0 = process.memoryUsage().heapUsed;
  await fc.assert(
    fc.asyncProperty(arb, async (input) => {
      const t0 = cpuMs();
      try {
        await fn(input);
      } catch (e) {
        if (!o.allowed?.(e)) throw e;
      }
      checkTime(t0, o);
    }),
    { seed: SEED, numRuns: o.numRuns ?? RUNS },
  );
  checkHeap(heap0, o);
}

/**
 * CPU time of this process, ms. A run's bound is on the work it costs, not on wall time: on a loaded
 * box a 20 ms parse can take 280 ms of wall time, while a pathological input burns CPU either way.
 */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function checkTime(t0: number, o: FuzzOptions): void {
  const dt = cpuMs() - t0;
  if (dt > (o.maxMsPerRun ?? 250)) throw new Error(`slow: ${dt.toFixed(1)} ms of CPU for one input`);
}

function checkHeap(heap0: number, o: FuzzOptions): void {
  const grown = (process.memoryUsage().heapUsed - heap0) / 2 ** 20;
  if (grown > (o.maxHeapGrowthMB ?? 256)) throw new Error(`heap grew by ${grown.toFixed(0)} MiB over the fuzz run`);
}

/** An error class check that also rejects the generic errors a bug produces. */
export const isError =
  (...classes: (new (...a: never[]) => Error)[]) =>
  (e: unknown): boolean =>
    classes.some((c) => e instanceof c);
