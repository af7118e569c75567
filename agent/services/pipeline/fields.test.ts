import { describe, expect, it } from 'vitest';
import { Fields, KeyTable } from './fields.js';

describe('Fields', () => {
  it('keeps a Map’s order through sets, deletes and re-sets, for table keys and keys made at run time', () => {
    const table = new KeyTable();
    for (const k of ['a', 'b', 'c', 'd']) table.slot(k);
    const names = ['message', 'time', 'status', 'a', 'b', 'c', 'd', 'x', 'y', 'z'];
    let seed = 7;
    const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let round = 0; round < 200; round++) {
      const f = new Fields(table);
      const m = new Map<string, unknown>();
      for (let op = 0; op < 40; op++) {
        const k = names[rand(names.length)]!;
        if (rand(3) === 0) expect(f.delete(k)).toBe(m.delete(k));
        else {
          const v = rand(4) === 0 ? null : `${k}${op}`;
          f.set(k, v);
          m.set(k, v);
        }
        expect([...f]).toEqual([...m]);
        expect(f.size).toBe(m.size);
        for (const n of names) expect([f.has(n), f.get(n)]).toEqual([m.has(n), m.get(n)]);
      }
    }
  });
});
