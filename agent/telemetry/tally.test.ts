import { describe, expect, it } from 'vitest';
import { Counter, Registry } from 'prom-client';
import { Tally, TallyCells } from './tally.js';

describe('Tally', () => {
  it('adds the cells to the counter when the registry is read, once, and keeps a collect the counter had', async () => {
    const registry = new Registry();
    let collected = 0;
    const c = new Counter({ name: 't_total', help: 'h', labelNames: ['m', 'r'], registers: [registry], collect: () => void collected++ });
    const a = new TallyCells(c, (k) => ({ m: k, r: 'x' }));
    const b = new TallyCells(c, (k) => ({ m: k, r: 'x' })); // a second user (an input started again on reload): the same cells
    expect(Tally.of(c)).toBe(Tally.of(c));
    a.inc('view', 3);
    a.inc('error');
    b.inc('view', 2);
    expect(await registry.metrics()).toContain('t_total{m="view",r="x"} 5');
    expect(await registry.metrics()).toContain('t_total{m="error",r="x"} 1'); // read twice: not added twice
    c.inc({ m: 'view', r: 'x' }, 1); // direct increments go on as before
    a.inc('view');
    const values = (await c.get()).values;
    expect(values.find((v) => v.labels.m === 'view')?.value).toBe(7);
    expect(collected).toBe(3);
  });
});
