import { Money } from '../shared/money.ts';
import { QUARTER_HOUR, ceilTo, formatInZone, startOf, startOfNext } from '../shared/time.ts';
import type { Window } from '../shared/time.ts';
import { addMeasures, zeroMeasures, type Binding, type Measures, type RollupService } from '../rollups/service.ts';
import { forecastUsage } from './forecast-service.ts';

export interface SummaryRanges {
  yesterday: Window;
  this_week: Window;
  month_to_date: Window;
  month: Window;
}

/**
 * The summary's ranges in the report zone. "To date" ranges end at now rounded up to the
 * 15-minute grid (the rollups' base grain), so events of the current quarter hour count.
 */
export function summaryRanges(tz: string, now: Date): SummaryRanges {
  const upTo = new Date(ceilTo(now.getTime(), QUARTER_HOUR));
  const today = startOf(tz, 'day', now);
  const yesterdayStart = startOf(tz, 'day', today.getTime() - 1);
  const monthStart = startOf(tz, 'month', now);
  return {
    yesterday: { start: yesterdayStart, end: today },
    this_week: { start: startOf(tz, 'week', now), end: upTo },
    month_to_date: { start: monthStart, end: upTo },
    month: { start: monthStart, end: startOfNext(tz, 'month', now) },
  };
}

/**
 * The old month-end forecast (kept as a reference point; the summary now uses forecastUsage):
 * linear run rate of the month so far. cost_to_date × month_length ÷ elapsed,
 * elapsed measured to `upTo` (now on the 15-minute grid). Rounded to 6 decimal places.
 */
export function forecastMonthEnd(costToDate: string, r: SummaryRanges): string {
  const elapsed = r.month_to_date.end.getTime() - r.month.start.getTime();
  const length = r.month.end.getTime() - r.month.start.getTime();
  if (elapsed <= 0) return '0';
  return new Money(costToDate).times(length).div(elapsed).toDecimalPlaces(6).toFixed();
}

const windowOut = (tz: string, w: Window, m: Measures) => ({ from: formatInZone(tz, w.start), to: formatInZone(tz, w.end), ...m });

export async function summary(rollups: Pick<RollupService, 'ranges' | 'usage'>, tz: string, now: Date, bind?: Binding) {
  const r = summaryRanges(tz, now);
  const ranges = [r.yesterday, r.this_week, r.month_to_date];
  // Month-end cost per provider and in total: trend (+ weekday effect) with an 80 % interval.
  const forecast = await forecastUsage(rollups, { tz, now, measure: 'cost', groupBy: ['provider'] }, bind);
  const byProvider = new Map(forecast.rows.map((f) => [f.group.provider ?? null, f]));
  const rows = await rollups.ranges(
    ranges.map((w) => (w.end.getTime() > w.start.getTime() ? w : { start: w.start, end: w.start })),
    ['provider'],
    bind,
    tz,
  );
  const totals = [zeroMeasures(), zeroMeasures(), zeroMeasures()];
  const providers = new Map<string | null, Measures[]>();
  for (const row of rows) {
    const { w, dims, ...m } = row;
    totals[w] = addMeasures(totals[w]!, m);
    const p = dims.provider ?? null;
    if (!providers.has(p)) providers.set(p, [zeroMeasures(), zeroMeasures(), zeroMeasures()]);
    providers.get(p)![w] = m;
  }
  const elapsedDays = (r.month_to_date.end.getTime() - r.month.start.getTime()) / 86_400_000;
  return {
    currency: 'USD' as const,
    tz,
    as_of: formatInZone(tz, now),
    yesterday: windowOut(tz, r.yesterday, totals[0]!),
    this_week: windowOut(tz, r.this_week, totals[1]!),
    month_to_date: windowOut(tz, r.month_to_date, totals[2]!),
    forecast_month_end: forecast.total.expected,
    forecast: {
      method: forecast.total.method,
      low: forecast.total.low,
      high: forecast.total.high,
      interval: forecast.interval,
      history_days: forecast.total.history_days,
      month_start: formatInZone(tz, r.month.start),
      month_end: formatInZone(tz, r.month.end),
      elapsed_days: Math.round(elapsedDays * 1000) / 1000,
      days_in_month: Math.round((r.month.end.getTime() - r.month.start.getTime()) / 3_600_000) / 24,
    },
    by_provider: [...providers.entries()]
      .map(([provider, [y, wk, mtd]]) => ({
        provider,
        yesterday: y!,
        this_week: wk!,
        month_to_date: mtd!,
        forecast_month_end: byProvider.get(provider)?.expected ?? forecastMonthEnd(mtd!.cost, r),
      }))
      .sort((a, b) => new Money(b.month_to_date.cost).comparedTo(a.month_to_date.cost) || String(a.provider).localeCompare(String(b.provider))),
  };
}
