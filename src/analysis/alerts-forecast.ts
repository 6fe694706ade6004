import { Money } from '../shared/money.ts';
import { DAY, formatInZone, nextWindowStart, startOf, windowsOf } from '../shared/time.ts';
import { forecastPeriod, type ForecastResult } from './forecast.ts';
import { weekdayOf } from './series.ts';
import type { ForecastRequest, Projection, UsageForecaster } from '../alerts/forecast.ts';

/**
 * The analysis forecast in the shape alerts' `forecast.exceeds` asks for: it implements alerts' port
 * `UsageForecaster` (src/alerts/forecast.ts; a type-only import — alerts never imports analysis, and
 * src/app.ts passes this to wireAlerts). Pure given its input: the clock arrives as `now`.
 */

/** Complete days of history the trend + weekday model needs before alerts trust it over the linear projection. */
export const ALERT_FORECAST_MIN_DAYS = 21;
const HISTORY_DAYS = 56;

/** The request alerts make (their port, src/alerts/forecast.ts). */
export type AlertForecastRequest = ForecastRequest;
/** Alerts' projection, with this model's method and 80 % interval always set. */
export type AlertProjection = Projection & Required<Pick<Projection, 'method' | 'low' | 'high'>>;

/**
 * Period-end forecast of one usage series and when it reaches `limit`; null when fewer than
 * `ALERT_FORECAST_MIN_DAYS` complete days back it (alerts then use their linear projection).
 * The crossing is the first remaining piece (rest of today, then each day) whose cumulative
 * expected value reaches the limit, interpolated linearly inside it (a binary search over
 * prefixes: the cumulative expectation only grows, each day's mean being clamped at zero).
 */
export function projectForAlert(r: AlertForecastRequest): AlertProjection | null {
  const todayStart = startOf(r.tz, 'day', r.now);
  const usage = Number(r.usage);
  const limit = Number(r.limit);
  const byDay = new Map<string, number>();
  for (const d of r.daily) byDay.set(d.day, (byDay.get(d.day) ?? 0) + Number(d.usage));
  const history = windowsOf(r.tz, 'day', startOf(r.tz, 'day', todayStart.getTime() - HISTORY_DAYS * DAY), todayStart);
  const days = history.map((w) => ({ value: byDay.get(formatInZone(r.tz, w.start).slice(0, 10)) ?? 0, weekday: weekdayOf(r.tz, w.start.getTime()) }));

  // What is left of the period, each piece with its end instant.
  const pieces: Array<{ weekday: number; fraction: number; start: number; end: number }> = [];
  const end = r.periodEnd.getTime();
  const nowMs = r.now.getTime();
  const tomorrow = nextWindowStart(r.tz, 'day', todayStart).getTime();
  const todayEnd = Math.min(tomorrow, end);
  if (todayEnd > nowMs) pieces.push({ weekday: weekdayOf(r.tz, todayStart.getTime()), fraction: (todayEnd - nowMs) / (tomorrow - todayStart.getTime()), start: nowMs, end: todayEnd });
  if (todayEnd < end)
    for (const w of windowsOf(r.tz, 'day', new Date(todayEnd), r.periodEnd)) {
      const full = nextWindowStart(r.tz, 'day', w.start).getTime() - w.start.getTime();
      pieces.push({ weekday: weekdayOf(r.tz, w.start.getTime()), fraction: (w.end.getTime() - w.start.getTime()) / full, start: w.start.getTime(), end: w.end.getTime() });
    }
  const upTo = (k: number): ForecastResult => forecastPeriod({ days, toDate: usage, remaining: pieces.slice(0, k) });
  const all = upTo(pieces.length);
  if (all.history_days < ALERT_FORECAST_MIN_DAYS) return null;

  const daysLeft = Math.max(end - nowMs, 0) / DAY;
  const six = (v: number) => new Money(v).toDecimalPlaces(6).toFixed();
  const out = {
    rate: six(daysLeft > 0 ? (all.expected - usage) / daysLeft : 0),
    projected_total: six(all.expected),
    method: all.method,
    low: six(all.low),
    high: six(all.high),
  };
  if (usage >= limit) return { ...out, crosses_at: null, crossed: true };
  if (all.expected < limit) return { ...out, crosses_at: null, crossed: false };
  let lo = 1;
  let hi = pieces.length; // upTo(hi) reaches the limit
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (upTo(mid).expected >= limit) hi = mid;
    else lo = mid + 1;
  }
  const before = lo > 1 ? upTo(lo - 1).expected : usage;
  const after = upTo(lo).expected;
  const p = pieces[lo - 1]!;
  const share = after > before ? (limit - before) / (after - before) : 1;
  const at = Math.ceil(p.start + Math.min(Math.max(share, 0), 1) * (p.end - p.start));
  return { ...out, crosses_at: at < end ? new Date(at) : null, crossed: false };
}

/** The forecaster given to alerts (src/app.ts). */
export const alertsForecaster: UsageForecaster = { historyDays: HISTORY_DAYS, project: projectForAlert };
