import { Money } from '../shared/money.ts';
import { windowsOf } from '../shared/time.ts';
import type { Entitlement } from './store.ts';
import type { Snapshot } from './usage.ts';
import { periodStart } from './periods.ts';

/** /v1/entitlements/:id/history: the current period's usage and balance per window, with each grant's burn. */
export async function historyOf(e: Entitlement, window: 'hour' | 'day' | 'week' | 'month', now: Date, compute: (e: Entitlement, o: { windows: Date[]; full: true }) => Promise<Snapshot>) {
  const from = periodStart(e.tz, e.period, now, e.week_start);
  const windows = windowsOf(e.tz, window, from, new Date(Math.max(now.getTime() + 1, from.getTime() + 1)), 10_000);
  // A replay from the start: every phase of the period is needed, not only those after the stored state.
  const s = await compute(e, { windows: windows.flatMap((w) => [w.start, w.end]), full: true });
  const rows = windows.map((w) => {
    let usage = new Money(0);
    let balance: Money | null = null;
    const burns = new Map<string, Money>();
    for (const p of s.result.phases) {
      if (p.from < w.start || p.from >= w.end) continue;
      usage = usage.plus(p.usage);
      balance = p.balance;
      for (const [g, b] of p.burns) burns.set(g, (burns.get(g) ?? new Money(0)).plus(b));
    }
    return { window_start: w.start.toISOString(), window_end: w.end.toISOString(), usage: usage.toFixed(), balance: balance?.toFixed() ?? null, burns: [...burns].map(([grant_id, b]) => ({ grant_id, amount: b.toFixed() })) };
  });
  return { id: e.id, window, rows };
}
