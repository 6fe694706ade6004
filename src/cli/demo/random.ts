import { mulberry32 } from '../../shared/random.ts';

/** mulberry32: a small seeded PRNG; the same seed gives the same data set. */
export function rng(seed: number) {
  const next = mulberry32(seed);
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!,
    /** Log-normal with the given median and spread (sigma). */
    logn: (median: number, sigma: number) => median * Math.exp(sigma * gauss(next)),
    weighted: <T>(xs: ReadonlyArray<readonly [T, number]>) => {
      const total = xs.reduce((s, [, w]) => s + w, 0);
      let r = next() * total;
      for (const [x, w] of xs) if ((r -= w) < 0) return x;
      return xs[xs.length - 1]![0];
    },
  };
}
export type Rng = ReturnType<typeof rng>;

function gauss(next: () => number) {
  const u = Math.max(next(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
}
