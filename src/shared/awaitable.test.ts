import { describe, expect, it } from 'vitest';
import { andThen, isPromise, ttlCache } from './awaitable.ts';
import { fixedClock } from './clock.ts';

describe('ttlCache', () => {
  it('a ttl of 0 caches nothing (lru-cache alone would keep entries forever)', async () => {
    let loads = 0;
    const c = ttlCache<string, number>({ clock: fixedClock('2026-01-01T00:00:00Z'), ttlMs: 0, load: async (k) => (loads++, k.length) });
    expect(await c.get('abc')).toBe(3);
    expect(c.peek('abc')).toBeUndefined();
    expect(await c.get('abc')).toBe(3);
    expect(loads).toBe(2);
  });

  it('loads on a miss, answers a fresh hit synchronously, reloads once the entry is stale', async () => {
    const clock = fixedClock('2026-01-01T00:00:00Z');
    let loads = 0;
    const c = ttlCache<string, number>({ clock, ttlMs: 1000, load: async (k) => (loads++, k.length) });
    const first = c.get('abc');
    expect(isPromise(first)).toBe(true);
    expect(await first).toBe(3);
    expect(c.get('abc')).toBe(3);
    clock.advance(1000);
    expect(c.get('abc')).toBe(3);
    clock.advance(1);
    expect(await c.get('abc')).toBe(3);
    expect(loads).toBe(2);
  });

  it('delete and clear drop entries; past maxSize the least recently used goes', async () => {
    const c = ttlCache<number, number>({ clock: fixedClock('2026-01-01T00:00:00Z'), ttlMs: 1000, load: async (k) => k * 2, maxSize: 2 });
    await c.get(1);
    await c.get(2);
    expect(c.get(1)).toBe(2); // 1 is now the most recently used
    await c.get(3); // full: 2 goes
    expect(c.get(1)).toBe(2);
    expect(isPromise(c.get(2))).toBe(true);
    c.delete(1);
    expect(isPromise(c.get(1))).toBe(true);
    c.clear();
    expect(isPromise(c.get(3))).toBe(true);
  });

  it('concurrent misses for one key share one load; a remembered undefined is a hit', async () => {
    let loads = 0;
    const c = ttlCache<string, string | undefined>({ clock: fixedClock('2026-01-01T00:00:00Z'), ttlMs: 1000, load: async () => (loads++, undefined) });
    const all = await Promise.all([c.get('k'), c.get('k'), c.get('k')]);
    expect(all).toEqual([undefined, undefined, undefined]);
    expect(loads).toBe(1);
    expect(isPromise(c.get('k'))).toBe(false);
    expect(c.peek('k')).toBeUndefined();
  });

  it('andThen applies now to a value and later to a promise', async () => {
    expect(andThen(2, (x) => x + 1)).toBe(3);
    expect(await andThen(Promise.resolve(2), (x) => x + 1)).toBe(3);
  });
});
