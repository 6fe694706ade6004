import { useMemo, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api } from '../api/client.ts';
import { useFilters } from '../filters.tsx';
import { useCanWrite } from '../session.tsx';
import { Chart, PALETTE, type ChartOption } from '../chart.tsx';
import { Loadable, Section, Table } from '../ui.tsx';
import { dateTime, num, usd } from '../format.ts';

function Correlation() {
  const { filters, range } = useFilters();
  const [x, setX] = useState('video_minutes');
  const [y, setY] = useState('traffic_gb');
  const q = useQuery({ queryKey: ['correlation', x, y, range.from, range.to, filters.tz], queryFn: () => api.get('/v1/analysis/correlation', { query: { x, y, window: 'day', from: range.from, to: range.to, tz: filters.tz } }), retry: false });
  const option = useMemo<ChartOption | undefined>(() => {
    const d = q.data;
    if (!d) return undefined;
    const pts = d.points.map((p) => [Number(p.x[x] ?? Object.values(p.x)[0]), p.y]);
    const xs = pts.map((p) => p[0]!);
    const lo = Math.min(...xs);
    const hi = Math.max(...xs);
    const slope = d.slope ?? Number(Object.values(d.coefficients ?? {})[0] ?? 0);
    return {
      color: PALETTE,
      tooltip: { trigger: 'item', confine: true },
      legend: { top: 0 },
      grid: { left: 64, right: 16, top: 36, bottom: 44 },
      xAxis: { type: 'value', name: `${x} per day (${filters.tz})`, nameLocation: 'middle', nameGap: 28, scale: true },
      yAxis: { type: 'value', name: y, nameLocation: 'middle', nameGap: 48, scale: true },
      series: [
        { name: 'days', type: 'scatter', data: pts, symbolSize: 7 },
        { name: `fit (R² ${d.r2.toFixed(3)})`, type: 'line', data: [[lo, d.intercept + slope * lo], [hi, d.intercept + slope * hi]], symbol: 'none', lineStyle: { width: 2 } },
      ],
    };
  }, [q.data, x, y, filters.tz]);
  const meters = ['video_minutes', 'screen_share_minutes', 'participant_minutes', 'traffic_gb', 'cpu_percent', 'llm_requests', 'llm_tokens', 'llm_cost'];
  return (
    <Section
      title="Correlation"
      actions={
        <>
          <label>x<select name="corr-x" value={x} onChange={(e) => setX(e.target.value)}>{meters.map((m) => <option key={m}>{m}</option>)}</select></label>
          <label>y<select name="corr-y" value={y} onChange={(e) => setY(e.target.value)}>{meters.map((m) => <option key={m}>{m}</option>)}</select></label>
        </>
      }
    >
      <Loadable q={q} what="the correlation">
        {(d) => (
          <>
            <p className="formula" data-testid="formula">{d.formula} · R² {d.r2.toFixed(3)} · n {d.n} days</p>
            {option ? <Chart label={`${y} against ${x}, with the fitted line`} option={option} /> : null}
          </>
        )}
      </Loadable>
    </Section>
  );
}

function Forecast() {
  const { filters } = useFilters();
  const q = useQuery({ queryKey: ['forecast', filters.tz], queryFn: () => api.get('/v1/analysis/forecast', { query: { measure: 'cost', group_by: 'provider', tz: filters.tz } }) });
  const option = useMemo<ChartOption | undefined>(() => {
    const d = q.data;
    if (!d) return undefined;
    const rows = [d.total, ...d.rows];
    const cats = rows.map((r, i) => (i === 0 ? 'all' : String(r.group.provider ?? '(none)')));
    return {
      color: PALETTE,
      tooltip: { trigger: 'axis', confine: true, valueFormatter: (v: number) => `$${Number(v).toFixed(2)}` },
      legend: { top: 0 },
      grid: { left: 64, right: 16, top: 36, bottom: 44 },
      xAxis: { type: 'category', data: cats, name: 'Provider', nameLocation: 'middle', nameGap: 28 },
      yAxis: { type: 'value', name: `Cost (USD), ${d.period} to ${d.period_end.slice(0, 10)}`, nameLocation: 'middle', nameGap: 52 },
      series: [
        { name: 'to date', type: 'bar', data: rows.map((r) => Number(r.to_date)) },
        { name: 'expected', type: 'bar', data: rows.map((r) => Number(r.expected)) },
        { name: `${Math.round(d.interval * 100)} % low`, type: 'line', data: rows.map((r) => Number(r.low)), symbol: 'triangle', lineStyle: { opacity: 0 } },
        { name: `${Math.round(d.interval * 100)} % high`, type: 'line', data: rows.map((r) => Number(r.high)), symbol: 'triangle', symbolRotate: 180, lineStyle: { opacity: 0 } },
      ],
    };
  }, [q.data]);
  return (
    <Section title="Forecast (period end)">
      <Loadable q={q} what="the forecast">
        {(d) => (
          <>
            <p className="note" data-testid="forecast-total">All providers: {usd(d.total.expected, 2)} expected by {d.period_end.slice(0, 10)} ({Math.round(d.interval * 100)} % interval {usd(d.total.low, 2)} – {usd(d.total.high, 2)}; {d.total.method}, {d.total.history_days} days of history; zone {d.tz}).</p>
            {option ? <Chart label="Cost to date and expected by period end, per provider" option={option} height={260} /> : null}
          </>
        )}
      </Loadable>
    </Section>
  );
}

function Anomalies() {
  const qc = useQueryClient();
  const canWrite = useCanWrite();
  const { filters, range } = useFilters();
  const q = useQuery({ queryKey: ['anomalies', range.from, range.to, filters.tz], queryFn: () => api.get('/v1/analysis/anomalies', { query: { measure: 'cost', window: 'day', from: range.from, to: range.to, tz: filters.tz } }) });
  const dismiss = useMutation({ mutationFn: (id: string) => api.post('/v1/analysis/anomalies/{id}/dismiss', { params: { id }, body: { reason: 'reviewed in the dashboard' } }), onSuccess: () => qc.invalidateQueries({ queryKey: ['anomalies'] }) });
  return (
    <Section title="Anomalies (daily cost)">
      <Loadable q={q} what="anomalies" empty={(d) => d.rows.length === 0}>
        {(d) => (
          <Table
            testid="anomalies-table"
            columns={[{ key: 'when', label: `Day (${filters.tz})` }, { key: 'actual', label: 'Actual (USD)', num: true }, { key: 'expected', label: 'Expected (USD)', num: true }, { key: 'score', label: 'Score', num: true }, { key: 'drivers', label: 'Drivers' }, { key: 'act', label: '' }]}
            rows={d.rows.map((a) => ({
              when: a.window_start.slice(0, 10),
              actual: usd(a.actual, 2),
              expected: usd(a.expected, 2),
              score: num(a.score, 1),
              drivers: a.drivers.slice(0, 3).map((x) => `${x.dimension} ${x.value} (${Math.round(x.share * 100)} %)`).join(', '),
              act: a.dismissed ? `dismissed: ${a.dismissed.reason}` : canWrite ? <button className="secondary" onClick={() => dismiss.mutate(a.id)}>Dismiss</button> : '',
            }))}
          />
        )}
      </Loadable>
    </Section>
  );
}

function Suggestions() {
  const { filters } = useFilters();
  const q = useQuery({ queryKey: ['suggestions', filters.tz], queryFn: () => api.get('/v1/analysis/suggestions', { query: { tz: filters.tz } }) });
  return (
    <Section title="Suggestions">
      <Loadable q={q} what="suggestions" empty={(d) => d.data.length === 0}>
        {(d) => (
          <>
            <p className="note">Estimated savings: {usd(d.total_estimated_monthly_savings, 2)} a month (evidence from {d.from.slice(0, 10)} to {d.to.slice(0, 10)}).</p>
            {d.data.map((s, i) => (
              <div className="suggestion" key={i}>
                <strong>{s.title}</strong> — {usd(s.estimated_monthly_savings, 2)}/month <span className="note">({[s.kind, s.scope].filter(Boolean).join(', ')})</span>
                <details><summary>Evidence</summary><pre className="formula">{JSON.stringify(s.evidence, null, 2)}</pre></details>
              </div>
            ))}
          </>
        )}
      </Loadable>
    </Section>
  );
}

function Calculator() {
  const [llm, setLlm] = useState({ provider: 'openai', model: 'gpt-4o-mini', requests: '100000', avg_input_tokens: '1200', avg_output_tokens: '300' });
  const [res, setRes] = useState({ users: '50', hours: '5', days: '22', unit_price: '', currency: 'USD', margin: '' });
  const l = useMutation({ mutationFn: () => api.get('/v1/analysis/predict', { query: llm }) });
  const r = useMutation({ mutationFn: () => api.get('/v1/analysis/predict', { query: { x: 'video_minutes', y: 'traffic_gb', window: 'day', ...res } }) });
  const field = (o: Record<string, string>, set: (v: Record<string, string>) => void, k: string, label: string) => (
    <label key={k}>{label}<input name={`calc-${k}`} value={o[k]} onChange={(e) => set({ ...o, [k]: e.target.value })} /></label>
  );
  const show = (m: typeof l) => (m.isPending ? <p className="state loading" role="status">Calculating…</p> : m.isError ? <p className="state error" role="alert">{(m.error as Error).message}</p> : m.data ? <pre className="formula" data-testid="calc-result">{formatPrediction(m.data as Record<string, unknown>)}</pre> : null);
  return (
    <Section title="Cost calculator">
      <form className="inline-form" aria-label="LLM cost calculator" onSubmit={(e) => { e.preventDefault(); l.mutate(); }}>
        {field(llm, setLlm as never, 'provider', 'Provider')}
        {field(llm, setLlm as never, 'model', 'Model')}
        {field(llm, setLlm as never, 'requests', 'Requests / month')}
        {field(llm, setLlm as never, 'avg_input_tokens', 'Avg input tokens')}
        {field(llm, setLlm as never, 'avg_output_tokens', 'Avg output tokens')}
        <button type="submit">Estimate LLM cost</button>
      </form>
      {show(l)}
      <form className="inline-form" aria-label="Media traffic calculator" onSubmit={(e) => { e.preventDefault(); r.mutate(); }}>
        {field(res, setRes as never, 'users', 'Video users')}
        {field(res, setRes as never, 'hours', 'Hours / day')}
        {field(res, setRes as never, 'days', 'Days')}
        {field(res, setRes as never, 'unit_price', 'Price per GB')}
        {field(res, setRes as never, 'currency', 'Currency')}
        {field(res, setRes as never, 'margin', 'Margin (0.45 = 45 %)')}
        <button type="submit">Estimate traffic</button>
      </form>
      {show(r as never)}
    </Section>
  );
}

function formatPrediction(d: Record<string, unknown>): string {
  if (d.kind === 'llm') {
    const models = (d.models as Array<Record<string, unknown>>) ?? [];
    return models.map((m) => `${m.model}: ${m.formula ?? ''}${m.monthly_cost ? ` → $${m.monthly_cost}` : ''}`).join('\n') || JSON.stringify(d, null, 2);
  }
  return [String(d.formula ?? ''), d.cost ? `cost ${d.cost} ${d.currency ?? ''}` : '', d.price_with_margin ? `price with margin ${d.price_with_margin} ${d.currency ?? ''}` : ''].filter(Boolean).join('\n');
}

export default function Analysis() {
  return (
    <div className="analysis">
      <div className="grid2">
        <Correlation />
        <Forecast />
      </div>
      <Anomalies />
      <Suggestions />
      <Calculator />
      <p className="note">Last loaded {dateTime(new Date().toISOString())} UTC.</p>
    </div>
  );
}
