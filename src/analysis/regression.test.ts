import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DegenerateRegressionError, regress, regressSimple } from './regression.ts';
import { anscombe, longley, norris, pontius, type CertifiedSet } from './fixtures/nist-strd.ts';

/** Log relative error: how many significant digits agree with the certified value. */
const lre = (got: number, want: number) => (got === want ? 16 : -Math.log10(Math.abs(got - want) / Math.abs(want)));

function digits(set: CertifiedSet) {
  const fit = regress(set.y, set.xs);
  return {
    fit,
    coefficients: Math.min(...fit.coefficients.map((c, j) => lre(c, set.coefficients[j]!)), lre(fit.intercept, set.intercept)),
    stderr: Math.min(...fit.stderr.coefficients.map((c, j) => lre(c, set.stderr[j]!)), lre(fit.stderr.intercept, set.stderrIntercept)),
    residualSd: lre(fit.residual_sd, set.residualSd),
    r2: lre(fit.r2, set.r2),
  };
}

describe('regression against NIST StRD certified values', () => {
  // Certified values carry 15 significant digits; the floors below are what double precision
  // reaches here (measured digits in the comments), i.e. the certified precision less what the
  // problem's conditioning costs any double-precision solver.
  // Measured digits (coefficients / standard errors / residual sd / r²):
  //   Norris  14.4 and 12.8 (intercept: -0.26 left over from cancelling ~430s, 4e-14 absolute) / 13.8 / 13.9 / 15.5
  //   Pontius ≥ 13.2 / 13.3 / 13.3 / 16
  //   Longley ≥ 13.7 / ≥ 12.7 / 15.1 / 15.4 (the library on the raw columns: < 1 digit)
  const floors: Array<[CertifiedSet, number, number, number, number]> = [
    [norris, 12.5, 13.5, 13.5, 15],
    [pontius, 13, 13, 13, 15],
    [longley, 13.5, 12.5, 14.5, 15],
  ];
  for (const [set, coef, se, rsd, r2] of floors) {
    it(`${set.name}: coefficients ≥ ${coef} digits, standard errors ≥ ${se}, residual sd ≥ ${rsd}, r² ≥ ${r2}`, () => {
      const d = digits(set);
      expect(d.fit.n).toBe(set.y.length);
      expect(d.coefficients).toBeGreaterThanOrEqual(coef);
      expect(d.stderr).toBeGreaterThanOrEqual(se);
      expect(d.residualSd).toBeGreaterThanOrEqual(rsd);
      expect(d.r2).toBeGreaterThanOrEqual(r2);
    });
  }

  it("Anscombe's quartet: four data sets, one line (y = 3.00 + 0.500 x, r² 0.67, se 0.118)", () => {
    for (const set of anscombe) {
      const fit = regressSimple(set.x, set.y);
      expect(fit.slope).toBeCloseTo(0.5, 3);
      expect(fit.intercept).toBeCloseTo(3.0, 2);
      expect(fit.r2).toBeCloseTo(0.67, 2);
      expect(fit.stderr.coefficients[0]).toBeCloseTo(0.118, 3);
      expect(fit.n).toBe(11);
    }
  });
});

describe('degenerate input', () => {
  const reason = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      if (e instanceof DegenerateRegressionError) return { reason: e.reason, variables: e.variables, message: e.message };
      throw e;
    }
    return null;
  };

  it('fewer than 3 points', () => {
    expect(reason(() => regressSimple([1, 2], [3, 4]))?.reason).toBe('too_few_points');
    // Two x's need four points (one residual degree of freedom).
    expect(reason(() => regress([1, 2, 3], [[1, 2, 3], [3, 1, 2]]))?.reason).toBe('too_few_points');
  });

  it('no variance in x, named', () => {
    const r = reason(() => regress([1, 2, 3, 4], [[5, 5, 5, 5]], { y: 'traffic_gb', x: ['video_minutes'] }));
    expect(r).toMatchObject({ reason: 'no_variance', variables: ['video_minutes'] });
    expect(r!.message).toContain('video_minutes');
  });

  it('no variance in y', () => {
    expect(reason(() => regressSimple([1, 2, 3, 4], [2, 2, 2, 2]))?.reason).toBe('no_variance');
  });

  it('collinear x’s', () => {
    const a = [1, 2, 3, 4, 5, 6];
    const b = [2, 1, 4, 3, 6, 5];
    const c = a.map((v, i) => 2 * v - 3 * b[i]! + 7);
    const r = reason(() => regress([3, 1, 4, 1, 5, 9], [a, b, c], { y: 'y', x: ['a', 'b', 'c'] }));
    expect(r?.reason).toBe('collinear');
  });

  it('non-finite values', () => {
    expect(reason(() => regressSimple([1, 2, NaN, 4], [1, 2, 3, 4]))?.reason).toBe('not_finite');
  });
});

describe('properties', () => {
  it('recovers an exact line and writes it as a formula', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -1000, max: 1000, noNaN: true }),
        fc.double({ min: -1000, max: 1000, noNaN: true }),
        fc.array(fc.integer({ min: -10_000, max: 10_000 }), { minLength: 3, maxLength: 50 }).filter((xs) => new Set(xs).size > 1),
        (slope, intercept, xs) => {
          fc.pre(Math.abs(slope) > 1e-6);
          const y = xs.map((x) => slope * x + intercept);
          const fit = regressSimple(xs, y);
          expect(fit.slope).toBeCloseTo(slope, 6);
          expect(fit.intercept).toBeCloseTo(intercept, 4);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('formula is readable', () => {
    const fit = regress([3, 5, 7.5, 9, 11.2], [[1, 2, 3, 4, 5], [0, 1, 0, 1, 1]], { y: 'traffic_gb', x: ['video_minutes', 'screen_share_minutes'] });
    expect(fit.formula).toMatch(/^traffic_gb = [\d.]+ × video_minutes [+−] [\d.]+ × screen_share_minutes [+−] [\d.]+$/);
  });
});
