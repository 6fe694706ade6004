import { Money } from '../shared/money.ts';
import { DAY, QUARTER_HOUR, ceilTo, startOf, startOfHour, startOfNext, wallOf, windowsOf, type Window } from '../shared/time.ts';
import type { Binding, RollupService, UsageRow } from '../rollups/service.ts';
import type { Dim } from '../rollups/cubes.ts';

/**
 * Data access of the analysis domain: usage per window and group, read through the rollups'
 * public `usage()` (never their tables), shaped into dense numeric series for the pure models.
 */

export type Measure = 'cost' | 'tokens' | 'requests';
export const MEASURES = ['cost', 'tokens', 'requests'] as const;

/** The read port analysis needs from the rollups. */
export type UsageReader = Pick<RollupService, 'usage'>;

export const tokensOf = (r: Pick<UsageRow, 'input_tokens' | 'output_tokens' | 'cache_read_tokens' | 'cache_write_tokens'>) =>
  r.input_tokens + r.output_tokens + r.cache_read_tokens + r.cache_write_tokens;

export function valueOf(r: UsageRow, m: Measure): number {
  return m === 'cost' ? Number(r.cost) : m === 'tokens' ? tokensOf(r) : r.requests;
}

/** Weekday 0 (Sunday) … 6 of the local date at instant t. */
export function weekdayOf(tz: string, t: number): number {
  const w = wallOf(tz, t);
  return new Date(Date.UTC(w.year, w.month - 1, w.day)).getUTCDay();
}

export interface GroupSeries {
  group: Record<string, string | null>;
  values: Float64Array;
  /** Exact sum (decimal string for cost, integer string otherwise) over the windows from `sumFrom`. */
  exact: Money;
}

const groupKey = (row: Record<string, unknown>, groupBy: readonly string[]) => (groupBy.length ? JSON.stringify(groupBy.map((d) => row[d] ?? null)) : '');

/**
 * Usage in `windows` (contiguous, cut in `tz`) per group, dense: one value per window, zero where
 * nothing happened. `exactFrom` (a window index) starts the exact sum (month to date).
 */
export async function seriesOf(
  reader: UsageReader,
  p: { from: Date; to: Date; tz: string; window: 'hour' | 'day'; groupBy: Dim[]; filters?: Partial<Record<Dim, string[]>>; measure: Measure; exactFrom?: number },
  bind?: Binding,
): Promise<{ windows: Window[]; groups: GroupSeries[]; total: GroupSeries }> {
  const windows = windowsOf(p.tz, p.window, p.from, p.to);
  const index = new Map(windows.map((w, i) => [w.start.getTime(), i]));
  const { rows } = await reader.usage({ from: p.from, to: p.to, tz: p.tz, window: p.window, groupBy: p.groupBy, filters: p.filters ?? {} }, bind);
  const exactFrom = p.exactFrom ?? windows.length;
  const total: GroupSeries = { group: {}, values: new Float64Array(windows.length), exact: new Money(0) };
  const byKey = new Map<string, GroupSeries>();
  for (const r of rows) {
    const i = index.get(Date.parse(r.window_start));
    if (i === undefined) continue;
    const key = groupKey(r as unknown as Record<string, unknown>, p.groupBy);
    let g = byKey.get(key);
    if (!g) {
      g = { group: Object.fromEntries(p.groupBy.map((d) => [d, (r[d] as string | null | undefined) ?? null])), values: new Float64Array(windows.length), exact: new Money(0) };
      byKey.set(key, g);
    }
    const v = valueOf(r, p.measure);
    g.values[i]! += v;
    total.values[i]! += v;
    if (i >= exactFrom) {
      const exact = p.measure === 'cost' ? new Money(r.cost) : new Money(v);
      g.exact = g.exact.plus(exact);
      total.exact = total.exact.plus(exact);
    }
  }
  return { windows, groups: [...byKey.values()], total };
}

/** The period a forecast runs to, and the history window before it, in the report zone. */
export function forecastFrame(tz: string, now: Date, period: 'day' | 'week' | 'month' = 'month', historyDays = 56) {
  const upTo = new Date(ceilTo(now.getTime(), QUARTER_HOUR));
  const todayStart = startOf(tz, 'day', now);
  const periodStart = startOf(tz, period, now);
  const periodEnd = startOfNext(tz, period, now);
  const historyFrom = startOf(tz, 'day', todayStart.getTime() - historyDays * DAY);
  const from = historyFrom.getTime() < periodStart.getTime() ? historyFrom : periodStart;
  return { upTo, todayStart, periodStart, periodEnd, from };
}

export const DAY_MS = DAY;

/**
 * A reader that lets several analyses share one rollup read: a `usage()` call whose range ends
 * where an earlier one (same zone, window, grouping, filters, binding) ended and starts inside it
 * is answered from that read's rows (windows before its start dropped, totals summed again), so a
 * forecast (8 weeks of days) after an anomaly scan (12 weeks of days) to the same instant reads
 * nothing more. Ask for the larger range first. Per use (a request, a job run), not process-wide:
 * rows are not invalidated when new events arrive.
 */
export function sharedUsage<R extends UsageReader>(reader: R): R {
  const reads: Array<{ key: string; from: number; to: number; answer: ReturnType<UsageReader['usage']> }> = [];
  const usage: UsageReader['usage'] = async (p, bind) => {
    const key = JSON.stringify([p.tz, p.window, p.groupBy, p.filters, bind ?? null]);
    const from = p.from.getTime();
    const to = p.to.getTime();
    // A later start must be a window boundary, or its first (partial) window would differ.
    const aligned = p.window === 'day' ? startOf(p.tz, 'day', from).getTime() === from : p.window === 'hour' ? startOfHour(p.tz, from).getTime() === from : false;
    const hit = reads.find((r) => r.key === key && r.to === to && (r.from === from || (aligned && r.from < from)));
    if (!hit) {
      const answer = reader.usage(p, bind);
      reads.push({ key, from, to, answer });
      return answer;
    }
    const all = await hit.answer;
    if (hit.from === from) return all;
    const rows = all.rows.filter((r) => Date.parse(r.window_start) >= from);
    const totals = { ...all.totals };
    let cost = new Money(0);
    for (const m of Object.keys(totals) as Array<keyof typeof totals>) if (m !== 'cost') (totals[m] as number) = 0;
    for (const r of rows) {
      for (const m of Object.keys(totals) as Array<keyof typeof totals>) if (m !== 'cost') (totals[m] as number) += r[m] as number;
      cost = cost.plus(r.cost);
    }
    totals.cost = cost.toFixed();
    return { rows, totals };
  };
  return Object.assign(Object.create(reader) as R, { usage });
}
