import { useMemo } from 'react';
import { useQuery } from '@tanstack/react-query';
import { api, call } from '../api/client.ts';
import type { TopResponse, TopSeriesResponse, UsageResponse } from '../api/types.ts';
import { filterQuery, useFilters } from '../filters.tsx';
import { useSession } from '../session.tsx';
import { Chart, stackedBars } from '../chart.tsx';
import { Level, Loadable, Section, Table } from '../ui.tsx';
import { num, pct, usd, tokensOf, day } from '../format.ts';

export default function Users() {
  const { filters, range, route, go } = useFilters();
  const session = useSession();
  const measure = ['cost', 'tokens', 'requests'].includes(route.params.measure ?? '') ? route.params.measure! : 'cost';
  const selected = route.params.user;
  const common = { from: range.from, to: range.to, tz: filters.tz, ...filterQuery(filters) };
  const top = useQuery({ queryKey: ['users', 'top', common, measure], queryFn: () => call<TopResponse>('GET', '/v1/usage/top', { query: { ...common, by: 'subject', measure, limit: 50 } }) });
  const series = useQuery({
    queryKey: ['users', 'series', common, measure],
    queryFn: () => call<TopSeriesResponse>('GET', '/v1/usage/top/series', { query: { ...common, by: 'subject', measure, limit: 5, window: 'day' } }),
  });
  // Quota state per user: the stats' top list (admin only), else nothing to join.
  const stats = useQuery({
    queryKey: ['users', 'quota-stats', filters.tz],
    enabled: session.features.quotas && !session.read_only && !session.team,
    queryFn: () => api.get('/v1/entitlements/stats', { query: { meter: 'llm_tokens', tz: filters.tz } }),
    retry: false,
  });
  const quotaOf = useMemo(() => new Map((stats.data?.top ?? []).map((t) => [t.subject, t])), [stats.data]);
  const userSeries = useQuery({
    queryKey: ['users', 'one', common, selected],
    enabled: !!selected,
    queryFn: () => call<UsageResponse>('GET', '/v1/usage', { query: { ...common, window: 'day', group_by: 'model', 'filter[subject]': selected } }),
  });
  const userEnts = useQuery({
    queryKey: ['users', 'ents', selected],
    enabled: !!selected && session.features.quotas,
    queryFn: async () => {
      const list = await api.get('/v1/entitlements', { query: { subject: selected } });
      return Promise.all(list.data.map(async (e) => ({ e, v: await api.get('/v1/entitlements/{id}/value', { params: { id: e.id } }) })));
    },
  });
  const seriesChart = useMemo(() => {
    const d = series.data;
    const days = (d?.windows ?? []).map((w) => day(w.window_start));
    const v = (r: Parameters<typeof tokensOf>[0] & { cost: string; requests: number }) => (measure === 'cost' ? Number(r.cost) : measure === 'tokens' ? tokensOf(r) : r.requests);
    return stackedBars({ categories: days, series: (d?.series ?? []).map((s) => ({ name: String(s.subject), data: s.points.map((p) => +v(p).toFixed(6)) })), xName: `Day (${filters.tz})`, yName: measure === 'cost' ? 'Cost (USD)' : measure === 'tokens' ? 'Tokens' : 'Requests', money: measure === 'cost' });
  }, [series.data, measure, filters.tz]);
  const oneChart = useMemo(() => {
    const rows = userSeries.data?.rows ?? [];
    const days = [...new Set(rows.map((r) => day(r.window_start)))].sort();
    const models = [...new Set(rows.map((r) => String(r.model)))];
    const cell = new Map<string, number>();
    for (const r of rows) cell.set(`${day(r.window_start)}\u0000${r.model}`, Number(r.cost));
    return stackedBars({ categories: days, series: models.map((m) => ({ name: m, data: days.map((d) => cell.get(`${d}\u0000${m}`) ?? 0) })), xName: `Day (${filters.tz})`, yName: 'Cost (USD)', money: true });
  }, [userSeries.data, filters.tz]);
  return (
    <div className="users">
      <form className="controls" onSubmit={(e) => e.preventDefault()}>
        <label>
          Rank by
          <select name="measure" value={measure} onChange={(e) => go('users', { ...route.params, measure: e.target.value })}>
            <option value="cost">cost</option>
            <option value="tokens">tokens</option>
            <option value="requests">requests</option>
          </select>
        </label>
      </form>
      <div className="grid2">
        <Section title="Top 50 users">
          <Loadable q={top} what="users" empty={(d) => d.rows.length === 0}>
            {(d) => (
              <Table
                testid="users-table"
                columns={[
                  { key: 'rank', label: '#', num: true },
                  { key: 'subject', label: 'User' },
                  { key: 'requests', label: 'Requests', num: true },
                  { key: 'tokens', label: 'Tokens', num: true },
                  { key: 'cost', label: 'Cost (USD)', num: true },
                  { key: 'quota', label: 'Quota (tokens, month)', num: true },
                ]}
                rows={d.rows.map((r, i) => {
                  const q = quotaOf.get(String(r.subject));
                  return {
                    rank: i + 1,
                    subject: <a href="#" onClick={(e) => { e.preventDefault(); go('users', { ...route.params, user: String(r.subject) }); }}>{String(r.subject)}</a>,
                    requests: num(r.requests),
                    tokens: num(tokensOf(r)),
                    cost: usd(r.cost, 4),
                    quota: q ? pct(q.percent) : '—',
                  };
                })}
              />
            )}
          </Loadable>
        </Section>
        <Section title={`Top 5 users per day (${measure})`}>
          <Loadable q={series} what="the top users' series" empty={(d) => d.series.length === 0}>
            {() => <Chart label="Top 5 users per day, stacked" option={seriesChart} />}
          </Loadable>
        </Section>
      </div>
      {selected ? (
        <Section title={`User ${selected}`} id="user-detail">
          <Loadable q={userSeries} what={`${selected}'s usage`} empty={(d) => d.rows.length === 0}>
            {(d) => (
              <>
                <p className="note">{num(d.totals.requests)} requests, {num(tokensOf(d.totals))} tokens, {usd(d.totals.cost, 4)} in this range.</p>
                <Chart label={`Daily cost of ${selected} by model`} option={oneChart} height={240} />
              </>
            )}
          </Loadable>
          {session.features.quotas ? (
            <Loadable q={userEnts} what="quota state" empty={(d) => d.length === 0}>
              {(d) => (
                <Table
                  testid="user-quotas"
                  columns={[{ key: 'meter', label: 'Meter' }, { key: 'usage', label: 'Used', num: true }, { key: 'available', label: 'Available', num: true }, { key: 'percent', label: 'Used %', num: true }, { key: 'level', label: 'Level' }, { key: 'resets', label: 'Resets' }]}
                  rows={d.map(({ e, v }) => ({ meter: `${e.meter} / ${e.period}`, usage: num(v.usage, 2), available: num(v.available, 2), percent: pct(v.percent), level: <Level level={v.level} />, resets: day(v.resets_at) }))}
                />
              )}
            </Loadable>
          ) : null}
        </Section>
      ) : (
        <p className="note">Pick a user to see their daily series and quota state.</p>
      )}
    </div>
  );
}
