import MultivariateLinearRegression from 'ml-regression-multivariate-linear';

/**
 * Ordinary least squares, simple and multiple, on plain doubles (usage measurements, not money).
 *
 * The linear algebra is ml-regression-multivariate-linear's. On raw columns it solves the normal
 * equations XᵀX b = Xᵀy, which loses every digit on an ill-conditioned design (NIST Longley: not
 * one correct digit). So the columns are centred (which removes the intercept column and most of
 * the conditioning problem) and scaled to unit length first, the library fits the centred problem
 * without an intercept, and one step of iterative refinement (the residuals refitted, their
 * coefficients added) recovers the digits the normal equations still lose: ≥ 13.7 correct digits
 * on Longley, the whole certified precision on Norris and Pontius (see regression.test.ts).
 */

export type DegenerateReason = 'too_few_points' | 'no_variance' | 'collinear' | 'not_finite';

/** Input a regression cannot be fitted to; `variables` names the offending columns. */
export class DegenerateRegressionError extends Error {
  constructor(
    readonly reason: DegenerateReason,
    message: string,
    readonly variables: string[] = [],
  ) {
    super(message);
    this.name = 'DegenerateRegressionError';
  }
}

export interface RegressionFit {
  /** One per x, in the order given. */
  coefficients: number[];
  intercept: number;
  r2: number;
  /** R² adjusted for the number of predictors. */
  adjusted_r2: number;
  n: number;
  /** Standard errors of the coefficients (same order) and of the intercept. */
  stderr: { coefficients: number[]; intercept: number };
  /** Residual standard deviation, √(SSE / (n − k − 1)). */
  residual_sd: number;
  /** Residual sum of squares and its degrees of freedom (n − k − 1). */
  sse: number;
  df: number;
  /** Covariance of (coefficients…, intercept), for prediction intervals. */
  covariance: number[][];
  names: { y: string; x: string[] };
  /** "traffic_gb = 0.00231 × video_minutes + 1.2" */
  formula: string;
}

const mean = (a: number[]) => {
  let s = 0;
  for (const v of a) s += v;
  return s / a.length;
};

/** Below this share of its variance left unexplained by the other x's, a column is collinear with them. */
const COLLINEAR = 1e-10;

function fitCentred(z: number[][], yc: number[]): { b: number[]; model: MultivariateLinearRegression } {
  const model = new MultivariateLinearRegression(z, yc.map((v) => [v]), { intercept: false, statistics: true });
  const b = model.weights.map((w) => w[0]!);
  // One step of iterative refinement: the residuals of this solution, fitted again.
  const r = yc.map((v, i) => v - dot(z[i]!, b));
  const corr = new MultivariateLinearRegression(z, r.map((v) => [v]), { intercept: false, statistics: false });
  return { b: b.map((v, j) => v + corr.weights[j]![0]!), model };
}

function dot(a: number[], b: number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/**
 * y ~ x₁ + … + x_k with an intercept. `xs` holds one array per predictor (columns), each as long
 * as `y`. Throws DegenerateRegressionError for fewer than k + 2 points (and fewer than 3), a
 * constant x or y, a predictor that is a linear combination of the others, or a non-finite value.
 */
export function regress(
  y: number[],
  xs: number[][],
  names: { y: string; x: string[] } = { y: 'y', x: xs.map((_, j) => `x${j + 1}`) },
  opts: { checkCollinear?: boolean } = {},
): RegressionFit {
  const n = y.length;
  const k = xs.length;
  if (k === 0) throw new DegenerateRegressionError('too_few_points', 'at least one x is needed');
  for (const c of xs) if (c.length !== n) throw new Error('every x column must be as long as y');
  if (n < Math.max(3, k + 2)) {
    throw new DegenerateRegressionError('too_few_points', `${n} point${n === 1 ? '' : 's'}; fitting ${k} x${k === 1 ? '' : "'s"} with an intercept needs at least ${Math.max(3, k + 2)}`, names.x);
  }
  const bad = [...xs.map((c, j) => [c, names.x[j]!] as const), [y, names.y] as const].find(([c]) => c.some((v) => !Number.isFinite(v)));
  if (bad) throw new DegenerateRegressionError('not_finite', `${bad[1]} has a value that is not a finite number`, [bad[1]]);

  const mx = xs.map(mean);
  const my = mean(y);
  const sx = xs.map((c, j) => Math.sqrt(c.reduce((s, v) => s + (v - mx[j]!) ** 2, 0)));
  const flat = xs.flatMap((c, j) => (sx[j] === 0 || sx[j]! <= Math.abs(mx[j]!) * 1e-14 * Math.sqrt(n) ? [names.x[j]!] : []));
  if (flat.length) throw new DegenerateRegressionError('no_variance', `no variance in ${flat.join(', ')}: every point has the same value`, flat);
  const yc = y.map((v) => v - my);
  const sst = yc.reduce((s, v) => s + v * v, 0);
  if (sst === 0) throw new DegenerateRegressionError('no_variance', `no variance in ${names.y}: every point has the same value, there is nothing to explain`, [names.y]);

  const z = y.map((_, i) => xs.map((c, j) => (c[i]! - mx[j]!) / sx[j]!));

  if (k > 1 && opts.checkCollinear !== false) {
    // Each x regressed on the others: an x the others explain (almost) entirely is collinear.
    for (let j = 0; j < k; j++) {
      const others = z.map((row) => row.filter((_, l) => l !== j));
      const target = z.map((row) => row[j]!);
      const { b } = fitCentred(others, target);
      const sse = target.reduce((s, v, i) => s + (v - dot(others[i]!, b)) ** 2, 0);
      if (sse < COLLINEAR) {
        throw new DegenerateRegressionError('collinear', `${names.x[j]} is a linear combination of ${names.x.filter((_, l) => l !== j).join(', ')}; drop one of them`, names.x);
      }
    }
  }

  const { b: bz, model } = fitCentred(z, yc);
  const coefficients = bz.map((v, j) => v / sx[j]!);
  const intercept = my - dot(coefficients, mx);
  const sse = yc.reduce((s, v, i) => s + (v - dot(z[i]!, bz)) ** 2, 0);
  const df = n - k - 1;
  const sigma2 = sse / df;
  // The library's stdErrorMatrix is pinv(ZᵀZ) · SSE/(n − k) (its df has no intercept): recover pinv(ZᵀZ).
  const libVar = model.stdError ** 2;
  // (A perfect fit leaves it no variance to divide by; every standard error is then 0.)
  const inv = (i: number, j: number) => (libVar > 0 ? model.stdErrorMatrix.get(i, j) / libVar : 0);
  // Cov(b) = σ² D⁻¹ (ZᵀZ)⁻¹ D⁻¹ with D = diag(sx); Var(b₀) = σ²/n + mxᵀ Cov(b) mx.
  const cov = (i: number, j: number) => (sigma2 * inv(i, j)) / (sx[i]! * sx[j]!);
  const seCoef = coefficients.map((_, j) => Math.sqrt(cov(j, j)));
  let varB0 = sigma2 / n;
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) varB0 += mx[i]! * mx[j]! * cov(i, j);
  const r2 = 1 - sse / sst;
  const covariance: number[][] = [];
  for (let i = 0; i <= k; i++) {
    const row: number[] = [];
    for (let j = 0; j <= k; j++) {
      if (i < k && j < k) row.push(cov(i, j));
      else if (i === k && j === k) row.push(varB0);
      else {
        // Cov(b₀, b_j) = −Σ_i mx_i Cov(b_i, b_j)
        const c = i === k ? j : i;
        let v = 0;
        for (let l = 0; l < k; l++) v -= mx[l]! * cov(l, c);
        row.push(v);
      }
    }
    covariance.push(row);
  }
  return {
    coefficients,
    intercept,
    r2,
    adjusted_r2: 1 - (1 - r2) * ((n - 1) / df),
    n,
    stderr: { coefficients: seCoef, intercept: Math.sqrt(varB0) },
    residual_sd: Math.sqrt(sigma2),
    sse,
    df,
    covariance,
    names,
    formula: formulaOf(names, coefficients, intercept),
  };
}

/** Simple regression: y ~ x. */
export function regressSimple(x: number[], y: number[], names: { x: string; y: string } = { x: 'x', y: 'y' }) {
  const fit = regress(y, [x], { y: names.y, x: [names.x] });
  return { ...fit, slope: fit.coefficients[0]! };
}

/** Six significant digits, no exponent for everyday magnitudes. */
export function readable(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e-4 && a < 1e15) return String(Number(v.toPrecision(6)));
  return v.toExponential(5).replace(/\.?0+e/, 'e');
}

export function formulaOf(names: { y: string; x: string[] }, coefficients: number[], intercept: number): string {
  const terms = coefficients.map((c, j) => `${readable(c)} × ${names.x[j]}`);
  let s = `${names.y} = ${terms[0]}`;
  for (const t of terms.slice(1)) s += t.startsWith('-') ? ` − ${t.slice(1)}` : ` + ${t}`;
  if (intercept !== 0) s += intercept < 0 ? ` − ${readable(-intercept)}` : ` + ${readable(intercept)}`;
  return s;
}
