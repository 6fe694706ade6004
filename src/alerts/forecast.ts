import { Decimal } from 'decimal.js';

const DAY_MS = 86_400_000;

export interface ProjectionInput {
  /** Usage so far this period (meter units, decimal string). */
  usage: string;
  /** The level that must not be crossed: an entitlement's available × block threshold, or a budget amount. */
  limit: string;
  /** Usage per day, recent complete days, oldest first. */
  recentDaily: string[];
  periodStart: Date;
  periodEnd: Date;
  now: Date;
}

export interface Projection {
  /** Usage per day the projection assumes (decimal string). */
  rate: string;
  /** Usage at the period's end at that rate. */
  projected_total: string;
  /** When the limit is reached at that rate; null when it is not before the period ends. */
  crosses_at: Date | null;
  /** Already at or past the limit (then it is no forecast: the level rules say so). */
  crossed: boolean;
  /** Set by a wired forecaster: its method and 80 % interval of the period-end total. */
  method?: string;
  low?: string;
  high?: string;
}

/**
 * The recent daily rate: the mean of the recent complete days; with fewer than two of them, the
 * period's usage so far over the time elapsed (at least an hour, so a first burst is not scaled to
 * a day from a few minutes).
 */
export function dailyRate(usage: string, recentDaily: string[], periodStart: Date, now: Date): Decimal {
  if (recentDaily.length >= 2) return recentDaily.reduce((s, d) => s.plus(d), new Decimal(0)).div(recentDaily.length);
  const elapsedDays = Math.max(now.getTime() - periodStart.getTime(), 3_600_000) / DAY_MS;
  return new Decimal(usage).div(elapsedDays);
}

/**
 * Linear projection of the period's usage: from the usage so far and the recent daily rate, when
 * does it reach the limit, and is that before the period ends? Pure, so the analysis domain can
 * swap in a better model with the same shape.
 */
export function projectCrossing(p: ProjectionInput): Projection {
  const usage = new Decimal(p.usage);
  const limit = new Decimal(p.limit);
  const rate = dailyRate(p.usage, p.recentDaily, p.periodStart, p.now);
  const daysLeft = new Decimal(Math.max(p.periodEnd.getTime() - p.now.getTime(), 0)).div(DAY_MS);
  const projected = usage.plus(rate.times(daysLeft));
  const out = { rate: rate.toDecimalPlaces(6).toString(), projected_total: projected.toDecimalPlaces(6).toString() };
  if (usage.gte(limit)) return { ...out, crosses_at: null, crossed: true };
  if (rate.lte(0)) return { ...out, crosses_at: null, crossed: false };
  const msToCross = limit.minus(usage).div(rate).times(DAY_MS).toNumber();
  const at = new Date(p.now.getTime() + Math.ceil(msToCross));
  return { ...out, crosses_at: at.getTime() < p.periodEnd.getTime() ? at : null, crossed: false };
}

/** What a wired forecaster is given: the period's usage so far and the dated daily history. */
export interface ForecastRequest {
  usage: string;
  limit: string;
  /** Complete local days before today, oldest first, as far back as `historyDays`; may skip empty days. */
  daily: Array<{ day: string; usage: string }>;
  /** Zone the days are cut in. */
  tz: string;
  periodStart: Date;
  periodEnd: Date;
  now: Date;
}

/**
 * A better model than `projectCrossing`, given to alerts at wiring time (the analysis domain's
 * forecast; alerts does not import it). Returns null when the history is too short for it; then
 * the linear projection above is used.
 */
export interface UsageForecaster {
  /** Days of history it wants before today. */
  historyDays: number;
  project(r: ForecastRequest): Projection | null;
}
