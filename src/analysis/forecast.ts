import { DegenerateRegressionError, regress, type RegressionFit } from './regression.ts';

/**
 * Period-end projection (month end, or an entitlement's day / week / month) of one daily series,
 * with an 80 % prediction interval. Pure: the caller cuts the days in the report zone and passes
 * them in; nothing here reads a clock.
 *
 * Method, chosen by what the history supports:
 * - `linear_trend_weekday`: OLS of the complete days on a linear trend plus weekday dummies, when
 *   there are ≥ 21 complete days (every weekday seen 3 times) and the weekday terms pay for
 *   themselves (lower AIC than the trend alone);
 * - `linear_trend`: OLS on the trend alone, from 7 complete days;
 * - `run_rate`: fewer days: the mean day, times the days left.
 * The remaining pieces of the period (the rest of today, then each whole day) are predicted from
 * the fit, clamped at zero, and added to what is already spent. Interval: the prediction variance
 * of that sum — noise σ² per remaining day (a fraction f of a day carries f·σ²) plus the fitted
 * mean's uncertainty sᵀ·Cov(β)·s — with Student's t for the residual degrees of freedom. The low
 * end never goes below what is already spent.
 */

export type ForecastMethod = 'linear_trend_weekday' | 'linear_trend' | 'run_rate';

export interface ForecastInput {
  /** Complete days before today, oldest first, contiguous (zero-filled), each with its local weekday 0–6. */
  days: Array<{ value: number; weekday: number }>;
  /** Already spent in the period (complete period days and today so far). */
  toDate: number;
  /** What is left of the period: the rest of today (fraction < 1), then whole days (fraction 1). */
  remaining: Array<{ weekday: number; fraction: number }>;
}

export interface ForecastResult {
  expected: number;
  low: number;
  high: number;
  method: ForecastMethod;
  /** Complete days the model was fitted on. */
  history_days: number;
}

const Z80 = 1.2815515655446004;

/** Student's t quantile for a two-sided 80 % interval (Cornish–Fisher expansion around z). */
export function t80(df: number): number {
  if (!Number.isFinite(df) || df > 1e6) return Z80;
  const z = Z80;
  const g1 = (z ** 3 + z) / 4;
  const g2 = (5 * z ** 5 + 16 * z ** 3 + 3 * z) / 96;
  const g3 = (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / 384;
  return z + g1 / df + g2 / df ** 2 + g3 / df ** 3;
}

const MIN_TREND_DAYS = 7;
const MIN_WEEKDAY_DAYS = 21;

function design(t: number, weekday: number, withWeekdays: boolean): number[] {
  const row = [t];
  // Monday (1) is the baseline; six dummies for the other days.
  if (withWeekdays) for (const d of [0, 2, 3, 4, 5, 6]) row.push(weekday === d ? 1 : 0);
  return row;
}

function tryFit(y: number[], rows: number[][]): RegressionFit | null {
  try {
    // Trend and weekday dummies over ≥ 21 days are never collinear: skip that (costly) check.
    return regress(y, rows[0]!.map((_, j) => rows.map((r) => r[j]!)), undefined, { checkCollinear: false });
  } catch (e) {
    if (e instanceof DegenerateRegressionError) return null;
    throw e;
  }
}

const aic = (f: RegressionFit) => f.n * Math.log(Math.max(f.sse, 1e-300) / f.n) + 2 * (f.coefficients.length + 1);

export function forecastPeriod(input: ForecastInput): ForecastResult {
  // Days before the series' first non-zero day are before the data began, not quiet days.
  let first = input.days.findIndex((d) => d.value !== 0);
  if (first < 0) first = input.days.length;
  const days = input.days.slice(first);
  const n = days.length;
  const left = input.remaining.reduce((s, r) => s + r.fraction, 0);
  const done = (expected: number, low: number, high: number, method: ForecastMethod): ForecastResult => ({
    expected: Math.max(expected, input.toDate),
    low: Math.max(low, input.toDate),
    high: Math.max(high, input.toDate),
    method,
    history_days: n,
  });
  if (left <= 0) return done(input.toDate, input.toDate, input.toDate, n >= MIN_TREND_DAYS ? 'linear_trend' : 'run_rate');

  const y = days.map((d) => d.value);
  let fit: RegressionFit | null = null;
  let withWeekdays = false;
  if (n >= MIN_TREND_DAYS) {
    const trend = tryFit(y, days.map((d, i) => design(i, d.weekday, false)));
    const weekly = n >= MIN_WEEKDAY_DAYS ? tryFit(y, days.map((d, i) => design(i, d.weekday, true))) : null;
    if (weekly && (!trend || aic(weekly) < aic(trend))) {
      fit = weekly;
      withWeekdays = true;
    } else fit = trend;
  }

  if (!fit) {
    // Run rate: the mean complete day (or, with none, nothing to go on beyond what is spent).
    if (n === 0) return done(input.toDate, input.toDate, input.toDate, 'run_rate');
    const m = y.reduce((s, v) => s + v, 0) / n;
    const expected = input.toDate + m * left;
    if (n < 3) return done(expected, expected, expected, 'run_rate');
    const sd = Math.sqrt(y.reduce((s, v) => s + (v - m) ** 2, 0) / (n - 1));
    const half = t80(n - 1) * Math.sqrt(sd * sd * left + ((sd * sd) / n) * left * left);
    return done(expected, expected - half, expected + half, 'run_rate');
  }

  const k = fit.coefficients.length;
  const s = new Array<number>(k + 1).fill(0);
  let projected = 0;
  input.remaining.forEach((r, i) => {
    const row = [...design(n + i, r.weekday, withWeekdays), 1];
    const mean = fit.intercept + row.slice(0, k).reduce((acc, v, j) => acc + v * fit.coefficients[j]!, 0);
    projected += Math.max(0, mean) * r.fraction;
    for (let j = 0; j <= k; j++) s[j]! += row[j]! * r.fraction;
  });
  let paramVar = 0;
  for (let i = 0; i <= k; i++) for (let j = 0; j <= k; j++) paramVar += s[i]! * s[j]! * fit.covariance[i]![j]!;
  const sigma2 = fit.residual_sd ** 2;
  const half = t80(fit.df) * Math.sqrt(sigma2 * left + Math.max(0, paramVar));
  const expected = input.toDate + projected;
  return done(expected, expected - half, expected + half, withWeekdays ? 'linear_trend_weekday' : 'linear_trend');
}
