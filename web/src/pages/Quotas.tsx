import { useMemo, useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, type Response } from '../api/client.ts';
import { useFilters } from '../filters.tsx';
import { useCanWrite, useSession } from '../session.tsx';
import { Chart, PALETTE, stackedBars } from '../chart.tsx';
import { Level, Loadable, Section, Stat, Table } from '../ui.tsx';
import { day, num, pct } from '../format.ts';

type Value = Response<'/v1/entitlements/{id}/value'>;
type History = Response<'/v1/entitlements/{id}/history'>;

/**
 * When the balance runs out at the last 7 days' average daily usage: a date, "not before the
 * reset" when the period ends first, or nothing without recent usage.
 */
export function projectedExhaustion(v: Value, h: History | undefined, now = Date.now()): { date?: string; text: string } {
  const rows = (h?.rows ?? []).filter((r) => Date.parse(r.window_start) <= now).slice(-7);
  const perDay = rows.length ? rows.reduce((s, r) => s + Number(r.usage), 0) / rows.length : 0;
  const balance = Number(v.balance);
  if (balance <= 0) return { text: 'exhausted now' };
  if (perDay <= 0) return { text: 'no recent usage' };
  const at = now + (balance / perDay) * 86_400_000;
  const date = new Date(at).toISOString().slice(0, 10);
  if (v.resets_at && at >= Date.parse(v.resets_at)) return { date, text: `not before the reset on ${day(v.resets_at)} (at ${num(perDay, 1)} a day)` };
  return { date, text: `${date} at ${num(perDay, 1)} a day (average of the period's last ${rows.length} day${rows.length === 1 ? '' : 's'})` };
}

const targetOf = (e: { subject: string | null; team: string | null; api_key: string | null }) => (e.subject ? `user ${e.subject}` : e.team ? `team ${e.team}` : e.api_key ? `key ${e.api_key}` : '—');
const unitOf = (meter: string) => (meter === 'llm_cost' ? 'USD' : meter.endsWith('_minutes') ? 'minutes' : meter.includes('tokens') ? 'tokens' : meter);

function Stats() {
  const { filters } = useFilters();
  const [meter, setMeter] = useState('llm_tokens');
  const q = useQuery({ queryKey: ['quota-stats', meter, filters.tz], queryFn: () => api.get('/v1/entitlements/stats', { query: { meter, tz: filters.tz } }) });
  return (
    <Section
      title="Usage distribution"
      actions={
        <label>
          Meter
          <select value={meter} onChange={(e) => setMeter(e.target.value)} name="stats-meter">
            <option value="llm_tokens">llm_tokens</option>
            <option value="llm_cost">llm_cost</option>
          </select>
        </label>
      }
    >
      <Loadable q={q} what="quota statistics" empty={(d) => d.overview.subjects === 0}>
        {(d) => (
          <>
            <div className="stats">
              <Stat label="Subjects with a quota" value={num(d.overview.subjects)} />
              <Stat label="Active this period" value={num(d.overview.active_subjects)} />
              <Stat label={`Used (${unitOf(meter)})`} value={num(d.overview.used, 2)} sub={`average ${num(d.overview.average_used, 2)}`} />
              <Stat label={`Purchased (${unitOf(meter)})`} value={num(d.overview.purchased, 2)} />
            </div>
            <Chart
              label="Subjects per usage bucket"
              height={220}
              option={stackedBars({ categories: d.distribution.map((b) => b.bucket), series: [{ name: 'subjects', data: d.distribution.map((b) => b.subjects) }], xName: 'Share of the period allowance used', yName: 'Subjects' })}
            />
          </>
        )}
      </Loadable>
    </Section>
  );
}

function Detail({ id }: { id: string }) {
  const qc = useQueryClient();
  const canWrite = useCanWrite();
  const ent = useQuery({ queryKey: ['ent', id], queryFn: () => api.get('/v1/entitlements/{id}', { params: { id } }) });
  const value = useQuery({ queryKey: ['ent', id, 'value'], queryFn: () => api.get('/v1/entitlements/{id}/value', { params: { id } }) });
  const history = useQuery({ queryKey: ['ent', id, 'history'], queryFn: () => api.get('/v1/entitlements/{id}/history', { params: { id }, query: { window: 'day' } }) });
  const grants = useQuery({ queryKey: ['ent', id, 'grants'], queryFn: () => api.get('/v1/entitlements/{id}/grants', { params: { id } }) });
  const refresh = () => qc.invalidateQueries({ queryKey: ['ent'] }).then(() => qc.invalidateQueries({ queryKey: ['ents'] }));
  const [th, setTh] = useState<{ warning: string; critical: string; block: string } | null>(null);
  const patch = useMutation({ mutationFn: (t: { warning: string; critical: string; block: string }) => api.patch('/v1/entitlements/{id}', { params: { id }, body: { thresholds: t } }), onSuccess: () => { setTh(null); return refresh(); } });
  const [grant, setGrant] = useState({ amount: '', kind: 'purchased' as 'free' | 'purchased' | 'promotional', priority: '1', expires_at: '' });
  const addGrant = useMutation({
    mutationFn: () => api.post('/v1/entitlements/{id}/grants', { params: { id }, body: { amount: grant.amount, kind: grant.kind, priority: Number(grant.priority), ...(grant.expires_at ? { expires_at: new Date(grant.expires_at).toISOString() } : {}) } }),
    onSuccess: () => { setGrant({ ...grant, amount: '' }); return refresh(); },
  });
  const voidGrant = useMutation({ mutationFn: (gid: string) => api.post('/v1/entitlements/{id}/grants/{gid}/void', { params: { id, gid } }), onSuccess: refresh });
  const chart = useMemo(() => {
    const rows = history.data?.rows ?? [];
    const o = stackedBars({ categories: rows.map((r) => day(r.window_start)), series: [{ name: 'usage', data: rows.map((r) => Number(r.usage)) }], xName: `Day (${ent.data?.tz ?? 'entitlement zone'})`, yName: unitOf(ent.data?.meter ?? '') });
    (o.series as object[]).push({ name: 'balance', type: 'line', data: rows.map((r) => Number(r.balance)), color: PALETTE[3], symbol: 'none' });
    return o;
  }, [history.data, ent.data, value.data]);
  const submitTh = (e: FormEvent) => {
    e.preventDefault();
    if (th) patch.mutate(th);
  };
  return (
    <Section title={ent.data ? `${targetOf(ent.data)} · ${ent.data.meter} per ${ent.data.period}` : 'Entitlement'} id="entitlement">
      <Loadable q={value} what="the entitlement's value">
        {(v) => {
          const ex = projectedExhaustion(v, history.data);
          return (
            <div className="stats" data-testid="ent-value">
              <Stat label={`Used (${unitOf(v.meter)})`} value={num(v.usage, 2)} sub={`of ${num(v.available, 2)} available`} />
              <Stat label="Used %" value={<span data-testid="ent-percent">{pct(v.percent)}</span>} sub={<span data-testid="ent-level"><Level level={v.level} /></span>} />
              <Stat label={`Balance (${unitOf(v.meter)})`} value={num(v.balance, 2)} sub={`≈ ${num(v.estimated_turns)} requests left; resets ${day(v.resets_at)}`} />
              <Stat testid="ent-exhaustion" label="Projected exhaustion" value={ex.date ?? '—'} sub={ex.text} />
            </div>
          );
        }}
      </Loadable>
      {ent.data ? (
        <form className="inline-form" onSubmit={submitTh} aria-label="Thresholds">
          {(['warning', 'critical', 'block'] as const).map((k) => (
            <label key={k}>
              {k} at (share of available)
              <input name={`threshold-${k}`} inputMode="decimal" disabled={!canWrite} value={(th ?? ent.data.thresholds)[k]} onChange={(e) => setTh({ ...(th ?? ent.data.thresholds), [k]: e.target.value })} />
            </label>
          ))}
          {canWrite ? <button type="submit" disabled={!th || patch.isPending}>Save thresholds</button> : null}
          {patch.isError ? <span className="state error" role="alert">{(patch.error as Error).message}</span> : null}
        </form>
      ) : null}
      <Loadable q={history} what="the history" empty={(d) => d.rows.length === 0}>
        {() => <Chart label="Usage per day and balance" option={chart} height={220} />}
      </Loadable>
      <h3>Grants</h3>
      <Loadable q={grants} what="grants" empty={(d) => d.data.length === 0}>
        {(d) => (
          <Table
            testid="grants-table"
            columns={[{ key: 'kind', label: 'Kind' }, { key: 'amount', label: 'Amount', num: true }, { key: 'used', label: 'Used', num: true }, { key: 'priority', label: 'Priority', num: true }, { key: 'recurring', label: 'Refills' }, { key: 'effective', label: 'From' }, { key: 'expires', label: 'Expires' }, { key: 'state', label: '' }]}
            rows={d.data.map((g) => {
              const vg = value.data?.grants.find((x) => x.id === g.id);
              return {
                kind: g.kind,
                amount: num(g.amount, 2),
                used: vg ? num(vg.used, 2) : '—',
                priority: g.priority,
                recurring: g.recurring ?? 'never',
                effective: day(g.effective_at),
                expires: g.expires_at ? day(g.expires_at) : 'never',
                state: g.voided_at ? 'voided' : canWrite ? <button className="secondary" onClick={() => voidGrant.mutate(g.id)}>Void</button> : '',
              };
            })}
          />
        )}
      </Loadable>
      {canWrite ? (
        <form className="inline-form" aria-label="Add grant" onSubmit={(e) => { e.preventDefault(); if (grant.amount) addGrant.mutate(); }}>
          <label>Amount<input name="grant-amount" inputMode="decimal" value={grant.amount} onChange={(e) => setGrant({ ...grant, amount: e.target.value })} /></label>
          <label>Kind<select name="grant-kind" value={grant.kind} onChange={(e) => setGrant({ ...grant, kind: e.target.value as typeof grant.kind })}><option>purchased</option><option>free</option><option>promotional</option></select></label>
          <label>Priority<input name="grant-priority" inputMode="numeric" value={grant.priority} onChange={(e) => setGrant({ ...grant, priority: e.target.value })} /></label>
          <label>Expires<input name="grant-expires" type="date" value={grant.expires_at} onChange={(e) => setGrant({ ...grant, expires_at: e.target.value })} /></label>
          <button type="submit" disabled={addGrant.isPending}>Add grant</button>
          {addGrant.isError ? <span className="state error" role="alert">{(addGrant.error as Error).message}</span> : null}
        </form>
      ) : null}
    </Section>
  );
}

export default function Quotas() {
  const { filters, route, go } = useFilters();
  const session = useSession();
  const list = useQuery({ queryKey: ['ents', filters.team], queryFn: () => api.get('/v1/entitlements', { query: { limit: 500, team: filters.team } }) });
  const selected = route.params.ent;
  return (
    <div className="quotas">
      {!session.read_only && !session.team ? <Stats /> : null}
      <Section title="Entitlements">
        <Loadable q={list} what="entitlements" empty={(d) => d.data.length === 0}>
          {(d) => (
            <Table
              testid="ents-table"
              columns={[{ key: 'target', label: 'For' }, { key: 'meter', label: 'Meter' }, { key: 'period', label: 'Period' }, { key: 'th', label: 'Warn / critical / block' }, { key: 'level', label: 'Level' }]}
              rows={d.data.map((e) => ({
                target: <a href="#" data-ent={e.id} onClick={(ev) => { ev.preventDefault(); go('quotas', { ...route.params, ent: e.id }); }}>{targetOf(e)}</a>,
                meter: `${e.meter}${e.filter && Object.keys(e.filter).length ? ` (${Object.entries(e.filter).map(([k, v]) => `${k}=${v}`).join(', ')})` : ''}`,
                period: `${e.period} (${e.tz})`,
                th: `${pct(e.thresholds.warning, 0)} / ${pct(e.thresholds.critical, 0)} / ${pct(e.thresholds.block, 0)}`,
                level: <Level level={e.level} />,
              }))}
            />
          )}
        </Loadable>
      </Section>
      {selected ? <Detail id={selected} key={selected} /> : <p className="note">Pick an entitlement to see its value, history, grants and thresholds.</p>}
    </div>
  );
}
