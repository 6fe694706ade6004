import { describe, expect, it } from 'vitest';
import { sharedUsage, type UsageReader } from './series.ts';

// sharedUsage: a later, shorter read to the same end is answered from the earlier rows.
describe('sharedUsage', () => {
  const day = (d: number) => new Date(Date.UTC(2026, 2, d));
  const row = (d: number, cost: string) => ({
    window_start: day(d).toISOString(), window_end: day(d + 1).toISOString(), subject: 'u',
    requests: 1, unpriced_requests: 0, input_tokens: 10, output_tokens: 5, cache_read_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0, cost,
  });
  const make = () => {
    const calls: Array<{ from: Date; to: Date }> = [];
    const reader: UsageReader = {
      async usage(p) {
        calls.push({ from: p.from, to: p.to });
        const rows = [1, 2, 3, 4].filter((d) => day(d) >= p.from).map((d) => row(d, `0.${d}1`));
        return { rows, totals: { requests: rows.length, unpriced_requests: 0, input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0, cost: '0' } } as any;
      },
    };
    return { calls, reader: sharedUsage(reader) };
  };
  const q = (from: Date, to: Date, window: 'day' | 'hour' = 'day') => ({ from, to, tz: 'UTC', window, groupBy: ['subject' as const], filters: {} });

  it('answers a contained range ending at the same instant from one read, with its own totals', async () => {
    const { calls, reader } = make();
    await reader.usage(q(day(1), day(5)));
    const sub = await reader.usage(q(day(3), day(5)));
    expect(calls).toHaveLength(1);
    expect(sub.rows.map((r) => r.window_start)).toEqual([day(3).toISOString(), day(4).toISOString()]);
    expect(sub.totals).toMatchObject({ requests: 2, input_tokens: 20, output_tokens: 10, cost: '0.72' });
  });

  it('reads again for another end, a start off the window grid, or another grouping', async () => {
    const { calls, reader } = make();
    await reader.usage(q(day(1), day(5)));
    await reader.usage(q(day(2), day(4)));
    await reader.usage(q(new Date(day(2).getTime() + 3_600_000), day(5)));
    await reader.usage({ ...q(day(2), day(5)), groupBy: [] });
    expect(calls).toHaveLength(4);
  });
});
