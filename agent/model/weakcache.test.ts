import { describe, expect, it } from 'vitest';
import { BoundedWeakCache } from './weakcache.js';

describe('BoundedWeakCache', () => {
  it('keeps entries within the budget, then empties itself at most once per period', () => {
    let now = 1_000;
    const c = new BoundedWeakCache<object, string>(100, 60_000, () => now);
    const keys = Array.from({ length: 8 }, () => ({}));
    expect(c.set(keys[0]!, 'a', 40)).toBe(true);
    expect(c.set(keys[1]!, 'b', 40)).toBe(true);
    expect(c.get(keys[0]!)).toBe('a');
    expect(c.size).toBe(80);
    // over budget: the first overflow empties the cache and keeps the new entry
    expect(c.set(keys[2]!, 'c', 40)).toBe(true);
    expect(c.get(keys[0]!)).toBeUndefined();
    expect(c.get(keys[2]!)).toBe('c');
    expect(c.set(keys[3]!, 'd', 40)).toBe(true);
    // the next overflow within the period keeps nothing new and keeps what is there
    now += 59_999;
    expect(c.set(keys[4]!, 'e', 40)).toBe(false);
    expect(c.get(keys[4]!)).toBeUndefined();
    expect(c.get(keys[2]!)).toBe('c');
    // a period later it empties again
    now += 1;
    expect(c.set(keys[5]!, 'f', 40)).toBe(true);
    expect(c.get(keys[2]!)).toBeUndefined();
    expect(c.size).toBe(40);
    // an entry larger than the whole budget is never kept
    now += 60_000;
    expect(c.set(keys[6]!, 'g', 101)).toBe(false);
    expect(c.get(keys[6]!)).toBeUndefined();
  });
});
