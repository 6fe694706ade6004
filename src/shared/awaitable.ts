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
 * A small read-through cache for lookups on a hot path (keys, policies, credentials): a hit costs
 * a map lookup and answers synchronously. Entries live `ttlMs` from when their load began; past
 * `maxSize` entries the map is emptied (these maps hold few live entries; a flood of made-up keys
 * must not grow them).
 */
export function ttlCache<K, V>(o: { clock: Clock; ttlMs: number; load: (key: K) => Promise<V>; maxSize?: number }): TtlCache<K, V> {
  const map = new Map<K, { v: V; until: number }>();
  const maxSize = o.maxSize ?? 10_000;
  return {
    get(key) {
      const now = o.clock.now().getTime();
      const hit = map.get(key);
      if (hit && hit.until > now) return hit.v;
      return o.load(key).then((v) => {
        if (map.size >= maxSize) map.clear();
        map.set(key, { v, until: now + o.ttlMs });
        return v;
      });
    },
    peek(key) {
      const hit = map.get(key);
      return hit && hit.until > o.clock.now().getTime() ? hit.v : undefined;
    },
    delete: (key) => void map.delete(key),
    clear: () => map.clear(),
  };
}
