/**
 * A value that is here now or will be. Hot paths answered from an in-memory cache return the
 * value itself: `await` on anything suspends until the microtask queue comes round, behind
 * whatever else is queued, so a caller that must not wait checks with `isPromise` first.
 */
export type Awaitable<T> = T | Promise<T>;

export const isPromise = <T>(v: Awaitable<T>): v is Promise<T> => v instanceof Promise;
