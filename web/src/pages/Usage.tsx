import { useMemo, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { buildUrl, call } from '../api/client.ts';
import type { UsageResponse, UsageRow } from '../api/types.ts';
import { filterQuery, useFilters } from '../filters.tsx';
import { Chart, stackedBars } from '../chart.tsx';
import { Loadable, Section, Table } from '../ui.tsx';
import { num, usd, tokensOf } from '../format.ts';

export const DIMS = ['provider', 'model', 'team', 'project', 'subject', 'feature', 'region', 'api_key'] as const;
const MEASURES = { cost: 'Cost (USD)', tokens: 'Tokens', requests: 'Requests' } as const;
type Measure = keyof typeof MEASURES;
const valueOf = (m: Measure) => (r: UsageRow) => (m === 'cost' ? Number(r.cost) : m === 'tokens' ? tokensOf(r) : r.requests);

function windowLabel(s: string | undefined, w: string) {
  if (!s) return '';
  return w === 'hour' ? s.slice(5, 16).replace('T', ' ') : w === 'month' ? s.slice(0, 7) : s.slice(0, 10);
}

export default function Usage() {
  const { filters, range, route, go } = useFilters();
  const p = route.params;
  const dim1 = (DIMS as readonly string[]).includes(p.group ?? '') ? p.group! : 'provider';
  const dim2 = (DIMS as readonly string[]).includes(p.stack ?? '') && p.stack !== dim1 ? p.stack! : '';
  const measure = (Object.keys(MEASURES).includes(p.measure ?? '') ? p.measure : 'cost') as Measure;
  const win = ['hour', 'day', 'week', 'month'].includes(p.window ?? '') ? p.window! : 'day';
  const [anonymize, setAnonymize] = useState(false);
  const set = (k: string, v: string) => go('usage', { ...p, [k]: v });
  const common = { from: range.from, to: range.to, tz: filters.tz, ...filterQuery(filters) };
  const series = useQuery({
    queryKey: ['usage', 'series', common, dim1, win],
    queryFn: () => call<UsageResponse>('GET', '/v1/usage', { query: { ...common, window: win, group_by: dim1 } }),
  });
  const groupBy = dim2 ? `${dim1},${dim2}` : dim1;
  const breakdown = useQuery({
    queryKey: ['usage', 'breakdown', common, groupBy],
    queryFn: () => call<UsageResponse>('GET', '/v1/usage', { query: { ...common, window: 'none', group_by: groupBy } }),
  });
  const timeChart = useMemo(() => {
    const rows = series.data?.rows ?? [];
    const cats = [...new Set(rows.map((r) => windowLabel(r.window_start, win)))].sort();
    const totals = new Map<string, number>();
    const cell = new Map<string, number>();
    for (const r of rows) {
      const k = String(r[dim1] ?? '(none)');
      const v = valueOf(measure)(r);
      totals.set(k, (totals.get(k) ?? 0) + v);
      cell.set(`${windowLabel(r.window_start, win)}\u0000${k}`, (cell.get(`${windowLabel(r.window_start, win)}\u0000${k}`) ?? 0) + v);
    }
    const keys = [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([k]) => k);
    return stackedBars({ categories: cats, series: keys.map((k) => ({ name: k, data: cats.map((c) => +(cell.get(`${c}\u0000${k}`) ?? 0).toFixed(6)) })), xName: `${win[0]!.toUpperCase() + win.slice(1)} (${filters.tz})`, yName: MEASURES[measure], money: measure === 'cost' });
  }, [series.data, dim1, measure, win, filters.tz]);
  const twoDim = useMemo(() => {
    const rows = breakdown.data?.rows ?? [];
    const by1 = new Map<string, number>();
    for (const r of rows) by1.set(String(r[dim1] ?? '(none)'), (by1.get(String(r[dim1] ?? '(none)')) ?? 0) + valueOf(measure)(r));
    const cats = [...by1.entries()].sort((a, b) => b[1] - a[1]).slice(0, 20).map(([k]) => k);
    const keys2 = dim2 ? [...new Set(rows.map((r) => String(r[dim2] ?? '(none)')))] : [MEASURES[measure]];
    const cell = new Map<string, number>();
    for (const r of rows) {
      const c = `${String(r[dim1] ?? '(none)')}\u0000${dim2 ? String(r[dim2] ?? '(none)') : MEASURES[measure]}`;
      cell.set(c, (cell.get(c) ?? 0) + valueOf(measure)(r));
    }
    return stackedBars({ categories: cats, horizontal: true, series: keys2.map((k) => ({ name: k, data: cats.map((c) => +(cell.get(`${c}\u0000${k}`) ?? 0).toFixed(6)) })), xName: dim1, yName: `${MEASURES[measure]}, ${range.from.slice(0, 10)} → ${range.to.slice(0, 10)} (${filters.tz})`, money: measure === 'cost' });
  }, [breakdown.data, dim1, dim2, measure, range, filters.tz]);
  const exportUrl = (format: 'csv' | 'ndjson') => buildUrl('/v1/export', {}, { ...common, format, window: win, group_by: groupBy, anonymize: anonymize ? 'true' : undefined });
  const sel = (name: string, label: string, value: string, options: readonly string[], onChange: (v: string) => void, none?: string) => (
    <label>
      {label}
      <select name={name} value={value} onChange={(e) => onChange(e.target.value)}>
        {none !== undefined ? <option value="">{none}</option> : null}
        {options.map((o) => <option key={o} value={o}>{o}</option>)}
      </select>
    </label>
  );
  return (
    <div className="usage">
      <form className="controls" aria-label="Explorer" onSubmit={(e) => e.preventDefault()}>
        {sel('group', 'Group by', dim1, DIMS, (v) => set('group', v))}
        {sel('stack', 'Stack by', dim2, DIMS.filter((d) => d !== dim1), (v) => set('stack', v), 'nothing')}
        {sel('measure', 'Measure', measure, Object.keys(MEASURES), (v) => set('measure', v))}
        {sel('window', 'Window', win, ['hour', 'day', 'week', 'month'], (v) => set('window', v))}
        <label className="check">
          <input type="checkbox" checked={anonymize} onChange={(e) => setAnonymize(e.target.checked)} /> anonymise subjects
        </label>
        <a className="button" href={exportUrl('csv')} download="tollgate-usage.csv" data-testid="export-csv">Export CSV</a>
        <a className="button secondary" href={exportUrl('ndjson')} download="tollgate-usage.ndjson">NDJSON</a>
      </form>
      <Section title={`${MEASURES[measure]} per ${win} by ${dim1}`}>
        <Loadable q={series} what="usage" empty={(d) => d.rows.length === 0}>
          {() => <Chart label={`${MEASURES[measure]} per ${win} by ${dim1}, stacked`} option={timeChart} />}
        </Loadable>
      </Section>
      <Section title={dim2 ? `${MEASURES[measure]} by ${dim1}, stacked by ${dim2}` : `${MEASURES[measure]} by ${dim1}`}>
        <Loadable q={breakdown} what="the breakdown" empty={(d) => d.rows.length === 0}>
          {(d) => (
            <>
              <Chart label="Two-dimension breakdown" option={twoDim} height={Math.max(240, Math.min(20, new Set(d.rows.map((r) => r[dim1])).size) * 26 + 80)} />
              <Table
                testid="usage-table"
                columns={[
                  { key: 'd1', label: dim1 },
                  ...(dim2 ? [{ key: 'd2', label: dim2 }] : []),
                  { key: 'requests', label: 'Requests', num: true },
                  { key: 'tokens', label: 'Tokens', num: true },
                  { key: 'cost', label: 'Cost (USD)', num: true },
                ]}
                rows={[...d.rows]
                  .sort((a, b) => Number(b.cost) - Number(a.cost))
                  .map((r) => ({ d1: String(r[dim1] ?? '(none)'), d2: String(r[dim2] ?? '(none)'), requests: num(r.requests), tokens: num(tokensOf(r)), cost: usd(r.cost, 4) }))
                  .concat([{ d1: 'Total', d2: '', requests: num(d.totals.requests), tokens: num(tokensOf(d.totals)), cost: usd(d.totals.cost, 4) }])}
              />
            </>
          )}
        </Loadable>
      </Section>
    </div>
  );
}
