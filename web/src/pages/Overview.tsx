import { useEffect, useMemo, useState } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { call } from '../api/client.ts';
import type { SummaryResponse, UsageResponse, UsageRow } from '../api/types.ts';
import { filterQuery, hasDimFilter, useFilters } from '../filters.tsx';
import { Chart, stackedBars } from '../chart.tsx';
import { Loadable, Section, Stat } from '../ui.tsx';
import { usd, num, tokensOf, day } from '../format.ts';

/** Sums rows' values per (day, key): a day-by-key matrix for a stacked chart. */
export function pivot(rows: UsageRow[], key: string, value: (r: UsageRow) => number) {
  const days = [...new Set(rows.map((r) => day(r.window_start)))].sort();
  const keys = new Map<string, number>();
  const cell = new Map<string, number>();
  for (const r of rows) {
    const k = String(r[key] ?? '(none)');
    const v = value(r);
    keys.set(k, (keys.get(k) ?? 0) + v);
    const c = `${day(r.window_start)}\u0000${k}`;
    cell.set(c, (cell.get(c) ?? 0) + v);
  }
  const ordered = [...keys.entries()].sort((a, b) => b[1] - a[1]).map(([k]) => k);
  return { days, series: ordered.map((k) => ({ name: k, data: days.map((d) => +(cell.get(`${d}\u0000${k}`) ?? 0).toFixed(6)) })) };
}

/** Live updates: the stream's `usage` events re-read only the summary and today's slice. */
function useLive() {
  const qc = useQueryClient();
  const [state, setState] = useState<{ connected: boolean; events: number; at?: string }>({ connected: false, events: 0 });
  useEffect(() => {
    const es = new EventSource('/v1/stream');
    es.addEventListener('ready', () => setState((s) => ({ ...s, connected: true })));
    es.addEventListener('usage', (m) => {
      const d = JSON.parse((m as MessageEvent).data) as { events?: number; occurred_at: string };
      setState((s) => ({ connected: true, events: s.events + (d.events ?? 0), at: d.occurred_at }));
      void qc.invalidateQueries({ queryKey: ['summary'] });
      void qc.invalidateQueries({ queryKey: ['usage-today'] });
      void qc.invalidateQueries({ queryKey: ['cards'] });
    });
    es.onerror = () => setState((s) => ({ ...s, connected: false }));
    return () => es.close();
  }, [qc]);
  return state;
}

export function Overview() {
  const { filters, range } = useFilters();
  const live = useLive();
  const fq = filterQuery(filters);
  // The charts' reads go first: on a one-connection store (PGlite) the server answers in turn, so the
  // charts draw in the browser while the server works out the summary.
  const base = { tz: filters.tz, window: 'day', group_by: 'provider,model', ...fq };
  const history = useQuery({
    queryKey: ['usage-days', range.from, range.todayStart ?? range.to, base],
    enabled: range.from !== (range.todayStart ?? range.to),
    queryFn: () => call<UsageResponse>('GET', '/v1/usage', { query: { ...base, from: range.from, to: range.todayStart ?? range.to } }),
  });
  const todayQ = useQuery({
    queryKey: ['usage-today', range.todayStart, range.to, base],
    enabled: !!range.todayStart,
    queryFn: () => call<UsageResponse>('GET', '/v1/usage', { query: { ...base, from: range.todayStart!, to: range.to } }),
  });
  const summary = useQuery({ queryKey: ['summary', filters.tz], queryFn: () => call<SummaryResponse>('GET', '/v1/summary', { query: { tz: filters.tz } }) });
  const filtered = hasDimFilter(filters);
  // With a team / provider / model filter the cards are re-read from /v1/usage over the summary's own windows.
  const cards = useQuery({
    queryKey: ['cards', filters.tz, fq, summary.data?.as_of],
    enabled: filtered && !!summary.data,
    queryFn: async () => {
      const s = summary.data!;
      const one = (w: { from: string; to: string }) =>
        w.from === w.to ? Promise.resolve({ cost: '0', requests: 0 }) : call<UsageResponse>('GET', '/v1/usage', { query: { from: w.from, to: w.to, tz: filters.tz, window: 'none', ...fq } }).then((r) => r.totals);
      const [y, w, m] = await Promise.all([one(s.yesterday), one(s.this_week), one(s.month_to_date)]);
      return { yesterday: y, this_week: w, month_to_date: m };
    },
  });
  const rows = useMemo(() => [...(history.data?.rows ?? []), ...(todayQ.data?.rows ?? [])], [history.data, todayQ.data]);
  const pending = (history.isPending && history.fetchStatus !== 'idle') || (todayQ.isPending && todayQ.fetchStatus !== 'idle');
  const error = history.error ?? todayQ.error;
  const cost = useMemo(() => pivot(rows, 'provider', (r) => Number(r.cost)), [rows]);
  const tokens = useMemo(() => pivot(rows, 'model', (r) => tokensOf(r)), [rows]);
  const zoneNote = `Day (${filters.tz})`;
  // Memoised: a new option object re-draws the chart, and the page re-renders on every live event.
  const costOption = useMemo(() => stackedBars({ categories: cost.days, series: cost.series, xName: zoneNote, yName: 'Cost (USD)', money: true }), [cost, zoneNote]);
  const tokensOption = useMemo(() => stackedBars({ categories: tokens.days, series: tokens.series, xName: zoneNote, yName: 'Tokens (input + cache + output)' }), [tokens, zoneNote]);
  const c = filtered ? cards.data : summary.data;
  return (
    <div className="overview" data-ready={summary.isSuccess && !pending ? 'true' : 'false'}>
      <p className="live" data-testid="live" aria-live="polite">
        <span className={live.connected ? 'dot on' : 'dot'} /> {live.connected ? 'Live' : 'Connecting to live updates…'}
        {live.at ? ` · ${live.events} new events, last at ${live.at.slice(11, 19)} UTC` : ''}
      </p>
      <Loadable q={summary} what="the summary">
        {(s) => (
          <div className="stats" data-testid="cards">
            <Stat testid="card-yesterday" label={`Yesterday (${s.currency})`} value={c ? usd(c.yesterday.cost, 2) : '…'} sub={c ? `${num(c.yesterday.requests)} requests` : undefined} />
            <Stat testid="card-week" label={`This week (${s.currency})`} value={c ? usd(c.this_week.cost, 2) : '…'} sub={c ? `${num(c.this_week.requests)} requests` : undefined} />
            <Stat testid="card-mtd" label={`Month to date (${s.currency})`} value={c ? usd(c.month_to_date.cost, 2) : '…'} sub={c ? `${num(c.month_to_date.requests)} requests` : undefined} />
            <Stat
              testid="card-forecast"
              label={`Forecast month end (${s.currency})`}
              value={usd(s.forecast_month_end, 2)}
              sub={
                <>
                  {s.forecast ? `${Math.round(s.forecast.interval * 100)} % interval ${usd(s.forecast.low, 2)} – ${usd(s.forecast.high, 2)}` : null}
                  {filtered ? <><br />all usage (filters do not apply)</> : null}
                </>
              }
            />
          </div>
        )}
      </Loadable>
      <p className="note">Report zone {filters.tz}; amounts in USD as of {summary.data?.as_of?.replace('T', ' ').slice(0, 16) ?? '…'}.</p>
      <div className="grid2">
        <Section title="Daily cost by provider">
          {pending ? <p className="state loading" role="status">Loading daily cost…</p> : error ? <p className="state error" role="alert">Could not load usage: {(error as Error).message}</p> : rows.length === 0 ? <p className="state empty">No usage in this range for these filters.</p> : (
            <Chart label="Daily cost by provider, stacked" option={costOption} />
          )}
        </Section>
        <Section title="Tokens by model">
          {pending ? <p className="state loading" role="status">Loading tokens…</p> : error ? <p className="state error" role="alert">Could not load usage: {(error as Error).message}</p> : rows.length === 0 ? <p className="state empty">No usage in this range for these filters.</p> : (
            <Chart label="Daily tokens by model, stacked" option={tokensOption} />
          )}
        </Section>
      </div>
      {summary.data?.by_provider?.length ? (
        <Section title="Month to date by provider">
          <div className="table-wrap">
            <table data-testid="by-provider">
              <thead><tr><th>Provider</th><th className="num">Month to date (USD)</th><th className="num">Forecast month end (USD)</th></tr></thead>
              <tbody>
                {summary.data.by_provider.map((p, i) => (
                  <tr key={i}>
                    <td>{String(p.provider ?? '(none)')}</td>
                    <td className="num">{usd((p.month_to_date as { cost?: string })?.cost ?? (p.cost as string), 2)}</td>
                    <td className="num">{usd(p.forecast_month_end as string, 2)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </Section>
      ) : null}
    </div>
  );
}
