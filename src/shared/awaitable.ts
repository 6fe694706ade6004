import { LRUCache } from 'lru-cache';
import type { Clock } from './clock.ts';

/**
 * A value that is here now or will be. Hot paths answered from an in-memory cache return the
 * value itself: `await` on anything suspends until the microtask queue comes round, behind
 * whatever else is queued, so a caller that must not wait checks with `isPromise` first.
 */
export type Awaitable<T> = T | Promise<T>;

export const isPromise = <T>(v: Awaitable<T>): v is Promise<T> => v instanceof Promise;

/** `f` applied now to a value that is here, or when it comes. */
export const andThen = <T, U>(v: Awaitable<T>, f: (t: T) => U): Awaitable<U> => (isPromise(v) ? v.then(f) : f(v));

export interface TtlCache<K, V> {
  /** The cached value (synchronously) while it is fresh; otherwise loads it and caches it. */
  get(key: K): Awaitable<V>;
  /** The cached value while it is fresh, else undefined; never loads. */
  peek(key: K): V | undefined;
  delete(key: K): void;
  clear(): void;
}

/**
 * A read-through cache for lookups on a hot path (keys, policies, credentials): a hit costs a map
 * lookup and answers synchronously (an entry is fresh for `ttlMs` after it is stored); concurrent misses for one key share one load (lru-cache's
 * `fetch`). Entries live `ttlMs` on the clock passed in (tests freeze it); past `maxSize` the least
 * recently used go, so a flood of made-up keys cannot grow it. Values may be `undefined` (a
 * remembered "none"), hence the box.
 */
export function ttlCache<K extends {}, V>(o: { clock: Clock; ttlMs: number; load: (key: K) => Promise<V>; maxSize?: number }): TtlCache<K, V> {
  // A ttl of 0 (the configs allow it) means "do not cache": lru-cache would read it as "never
  // expires", and a key revoked or an entitlement created in another process would never be seen.
  if (o.ttlMs <= 0) return { get: (key) => o.load(key), peek: () => undefined, delete() {}, clear() {} };
  const lru = new LRUCache<K, { v: V }>({
    max: o.maxSize ?? 10_000,
    ttl: o.ttlMs,
    ttlResolution: 0,
    // A delete/clear (a revoked key) during a load must not fail the request waiting on it.
    ignoreFetchAbort: true,
    perf: { now: () => o.clock.now().getTime() },
    fetchMethod: async (key) => ({ v: await o.load(key) }),
  });
  return {
    get(key) {
      const hit = lru.get(key);
      return hit ? hit.v : lru.fetch(key).then((b) => b!.v);
    },
    peek: (key) => lru.get(key)?.v,
    delete: (key) => void lru.delete(key),
    clear: () => lru.clear(),
  };
}
