import { describe, expect, it } from 'vitest';
import { andThen, isPromise, ttlCache } from './awaitable.ts';
import { fixedClock } from './clock.ts';

describe('ttlCache', () => {
  it('loads on a miss, answers a fresh hit synchronously, reloads once the entry is stale', async () => {
    const clock = fixedClock('2026-01-01T00:00:00Z');
    let loads = 0;
    const c = ttlCache<string, number>({ clock, ttlMs: 1000, load: async (k) => (loads++, k.length) });
    const first = c.get('abc');
    expect(isPromise(first)).toBe(true);
    expect(await first).toBe(3);
    expect(c.get('abc')).toBe(3);
    clock.advance(999);
    expect(c.get('abc')).toBe(3);
    clock.advance(1);
    expect(await c.get('abc')).toBe(3);
    expect(loads).toBe(2);
  });

  it('delete and clear drop entries; past maxSize the map starts over', async () => {
    const c = ttlCache<number, number>({ clock: fixedClock('2026-01-01T00:00:00Z'), ttlMs: 1000, load: async (k) => k * 2, maxSize: 2 });
    await c.get(1);
    await c.get(2);
    expect(c.get(1)).toBe(2);
    await c.get(3); // full: emptied, then 3 cached
    expect(isPromise(c.get(1))).toBe(true);
    await c.get(1);
    c.delete(1);
    expect(isPromise(c.get(1))).toBe(true);
    c.clear();
    expect(isPromise(c.get(3))).toBe(true);
  });

  it('andThen applies now to a value and later to a promise', async () => {
    expect(andThen(2, (x) => x + 1)).toBe(3);
    expect(await andThen(Promise.resolve(2), (x) => x + 1)).toBe(3);
  });
});
