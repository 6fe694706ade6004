import { Money } from '../shared/money.ts';
import { formatInZone, nextWindowStart, windowsOf } from '../shared/time.ts';
import type { Binding } from '../rollups/service.ts';
import type { Dim } from '../rollups/cubes.ts';
import { forecastPeriod, type ForecastMethod } from './forecast.ts';
import { forecastFrame, seriesOf, weekdayOf, type GroupSeries, type Measure, type UsageReader } from './series.ts';

export interface ForecastRow {
  group: Record<string, string | null>;
  /** Already used in the period (exact). */
  to_date: string;
  expected: string;
  low: string;
  high: string;
  method: ForecastMethod;
  history_days: number;
}

export interface ForecastAnswer {
  measure: Measure;
  tz: string;
  period: 'day' | 'week' | 'month';
  period_start: string;
  period_end: string;
  as_of: string;
  interval: 0.8;
  total: ForecastRow;
  rows: ForecastRow[];
}

/**
 * Period-end projection per group (and of the total) from the last 8 weeks of daily usage. The
 * model runs on doubles; what is already spent stays exact and the projected rest is added to it,
 * rounded to 6 decimal places (cost) or a whole number (tokens, requests).
 */
export async function forecastUsage(
  reader: UsageReader,
  p: { tz: string; now: Date; measure: Measure; groupBy: Dim[]; period?: 'day' | 'week' | 'month'; filters?: Partial<Record<Dim, string[]>> },
  bind?: Binding,
): Promise<ForecastAnswer> {
  const period = p.period ?? 'month';
  const f = forecastFrame(p.tz, p.now, period);
  const dayWindows = windowsOf(p.tz, 'day', f.from, f.upTo);
  const exactFrom = dayWindows.findIndex((w) => w.start.getTime() >= f.periodStart.getTime());
  const { windows, groups, total } = await seriesOf(reader, { from: f.from, to: f.upTo, tz: p.tz, window: 'day', groupBy: p.groupBy, filters: p.filters, measure: p.measure, exactFrom }, bind);
  const complete = windows.filter((w) => w.end.getTime() <= f.todayStart.getTime()).length;
  const weekdays = windows.map((w) => weekdayOf(p.tz, w.start.getTime()));

  // What is left of the period: the rest of today, then whole days (the last one clipped).
  const remaining: Array<{ weekday: number; fraction: number }> = [];
  const todayEnd = Math.min(nextWindowStart(p.tz, 'day', f.todayStart).getTime(), f.periodEnd.getTime());
  const todayLength = nextWindowStart(p.tz, 'day', f.todayStart).getTime() - f.todayStart.getTime();
  if (todayEnd > f.upTo.getTime()) remaining.push({ weekday: weekdayOf(p.tz, f.todayStart.getTime()), fraction: (todayEnd - f.upTo.getTime()) / todayLength });
  for (const w of windowsOf(p.tz, 'day', new Date(todayEnd), f.periodEnd)) {
    const full = nextWindowStart(p.tz, 'day', w.start).getTime() - w.start.getTime();
    remaining.push({ weekday: weekdayOf(p.tz, w.start.getTime()), fraction: (w.end.getTime() - w.start.getTime()) / full });
  }

  const decimals = p.measure === 'cost' ? 6 : 0;
  const one = (g: GroupSeries): ForecastRow => {
    const days = Array.from({ length: complete }, (_, i) => ({ value: g.values[i]!, weekday: weekdays[i]! }));
    const toDate = g.exact.toNumber();
    const r = forecastPeriod({ days, toDate, remaining });
    // Exact to-date plus the projected rest; the interval's ends likewise.
    const at = (v: number) => g.exact.plus(new Money(Math.max(0, v - toDate)).toDecimalPlaces(decimals)).toFixed();
    return { group: g.group, to_date: g.exact.toFixed(), expected: at(r.expected), low: at(r.low), high: at(r.high), method: r.method, history_days: r.history_days };
  };
  const rows = groups.map(one).sort((a, b) => new Money(b.expected).comparedTo(a.expected));
  return {
    measure: p.measure,
    tz: p.tz,
    period,
    period_start: formatInZone(p.tz, f.periodStart),
    period_end: formatInZone(p.tz, f.periodEnd),
    as_of: formatInZone(p.tz, p.now),
    interval: 0.8,
    total: one(total),
    rows,
  };
}
