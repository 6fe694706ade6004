/** mulberry32: a small seeded PRNG; the same seed gives the same data set. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
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
