import { useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, type Response } from '../api/client.ts';
import { usd, num } from '../format.ts';

export type Rule = Response<'/v1/alerts/rules'>['data'][number];

/** What a rule listens to (src/alerts/types.ts RULE_TYPES), with words for the picker. */
export const RULE_TYPES = [
  ['entitlement.level', 'Quota level reached'],
  ['budget.amount', 'Budget amount reached'],
  ['forecast.exceeds', 'Forecast exceeds'],
  ['anomaly', 'Anomaly detected'],
  ['collector.failure', 'Collector failure'],
  ['reconciliation.mismatch', 'Reconciliation mismatch'],
] as const;
type RuleType = (typeof RULE_TYPES)[number][0];
const LEVELS = ['warning', 'critical', 'blocked'] as const;

/** The form's fields; conditions and filters the form does not show are kept as they were on edit. */
interface Draft {
  name: string;
  on: RuleType;
  levels: string[];
  meter: string;
  amount: string;
  period: 'day' | 'week' | 'month';
  thresholds: string;
  team: string;
  subject: string;
  inApp: boolean;
  email: string;
  webhook: string;
  dedupHours: string;
  enabled: boolean;
}

const EMPTY: Draft = { name: '', on: 'budget.amount', levels: [...LEVELS], meter: 'llm_cost', amount: '', period: 'month', thresholds: '0.8, 1', team: '', subject: '', inApp: true, email: '', webhook: '', dedupHours: '', enabled: true };

function draftOf(r: Rule): Draft {
  const c = r.condition as { levels?: string[]; meter?: string; amount?: string; period?: Draft['period']; thresholds?: number[] };
  const ch = r.channels as Array<{ type: string; to?: string[]; url?: string }>;
  return {
    name: r.name,
    on: r.on as RuleType,
    levels: c.levels ?? [...LEVELS],
    meter: c.meter ?? 'llm_cost',
    amount: c.amount ?? '',
    period: c.period ?? 'month',
    thresholds: (c.thresholds ?? [1]).join(', '),
    team: String(r.filter.team ?? ''),
    subject: String(r.filter.subject ?? ''),
    inApp: ch.some((x) => x.type === 'in_app'),
    email: ch.flatMap((x) => (x.type === 'email' ? (x.to ?? []) : [])).join(', '),
    webhook: ch.find((x) => x.type === 'webhook')?.url ?? '',
    dedupHours: r.dedup_window_s === null ? '' : String(r.dedup_window_s / 3600),
    enabled: r.enabled,
  };
}

const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);

/** The create / PATCH body (src/alerts/types.ts ruleInput). A webhook's secret is kept by the server when its URL stays. */
export function bodyOf(d: Draft, existing?: Rule): Record<string, unknown> {
  const filter: Record<string, unknown> = { ...(existing?.filter ?? {}) };
  for (const k of ['team', 'subject'] as const) {
    if (d[k].trim()) filter[k] = d[k].trim();
    else delete filter[k];
  }
  const kept = existing && existing.on === d.on ? existing.condition : {};
  let condition: Record<string, unknown> | undefined;
  if (d.on === 'entitlement.level') condition = { ...kept, levels: d.levels };
  else if (d.on === 'budget.amount') condition = { ...kept, meter: d.meter, amount: d.amount.trim(), period: d.period, thresholds: list(d.thresholds).map(Number) };
  else if (d.on === 'forecast.exceeds') condition = d.amount.trim() ? { ...kept, meter: d.meter, amount: d.amount.trim(), period: d.period } : { ...kept };
  const channels: Array<Record<string, unknown>> = [];
  if (d.inApp) channels.push({ type: 'in_app' });
  if (list(d.email).length) channels.push({ type: 'email', to: list(d.email) });
  if (d.webhook.trim()) channels.push({ type: 'webhook', url: d.webhook.trim() });
  return {
    name: d.name.trim(),
    on: d.on,
    filter,
    ...(condition ? { condition } : {}),
    channels,
    ...(d.dedupHours.trim() ? { dedup_window_s: Math.round(Number(d.dedupHours) * 3600) } : {}),
    enabled: d.enabled,
  };
}

/** A rule's condition in words (the table's column). */
export function describeCondition(r: Pick<Rule, 'on' | 'condition' | 'filter'>): string {
  const c = r.condition as { levels?: string[]; meter?: string; amount?: string; period?: string; thresholds?: number[] };
  const money = (v?: string) => (c.meter === 'llm_cost' ? usd(v, 2) : `${num(v)} ${c.meter ?? ''}`);
  const scope = [r.filter.team ? `team ${r.filter.team}` : '', r.filter.subject ? `user ${r.filter.subject}` : ''].filter(Boolean).join(', ');
  let what = '—';
  if (r.on === 'entitlement.level') what = `levels ${(c.levels ?? []).join(', ')}`;
  else if (r.on === 'budget.amount') what = `${money(c.amount)} a ${c.period}${c.thresholds ? ` at ${c.thresholds.map((t) => `${Math.round(t * 100)} %`).join(', ')}` : ''}`;
  else if (r.on === 'forecast.exceeds') what = c.amount ? `forecast over ${money(c.amount)} a ${c.period}` : 'forecast over each quota';
  return scope ? `${what} (${scope})` : what;
}

/**
 * Create (no `rule`) or edit one alert rule: name, type, the type's condition, a team/user filter,
 * channels (in-app, email, webhook), dedup window, enabled. Admin keys only (the page decides).
 */
export function RuleForm({ rule, onDone }: { rule?: Rule; onDone(): void }) {
  const qc = useQueryClient();
  const [d, setD] = useState<Draft>(() => (rule ? draftOf(rule) : EMPTY));
  const set = (p: Partial<Draft>) => setD((x) => ({ ...x, ...p }));
  const save = useMutation({
    mutationFn: () => (rule ? api.patch('/v1/alerts/rules/{id}', { params: { id: rule.id }, body: bodyOf(d, rule) }) : api.post('/v1/alerts/rules', { body: bodyOf(d) })),
    onSuccess: (r) => {
      void qc.invalidateQueries({ queryKey: ['alert-rules'] });
      if (!r.secrets || !Object.keys(r.secrets).length) onDone();
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  const err = save.error as ApiError | null;
  const hasAmount = d.on === 'budget.amount' || d.on === 'forecast.exceeds';
  return (
    <form className="rule-form" aria-label={rule ? `Edit rule ${rule.name}` : 'New alert rule'} onSubmit={submit} data-testid="rule-form">
      <div className="inline-form">
        <label>Name<input name="rule-name" value={d.name} required maxLength={200} onChange={(e) => set({ name: e.target.value })} /></label>
        <label>
          When
          <select name="rule-on" value={d.on} onChange={(e) => set({ on: e.target.value as RuleType })}>
            {RULE_TYPES.map(([v, l]) => <option key={v} value={v}>{l} ({v})</option>)}
          </select>
        </label>
        {d.on === 'entitlement.level' ? (
          <fieldset className="levels">
            <legend>Levels</legend>
            {LEVELS.map((l) => (
              <label key={l} className="check">
                <input type="checkbox" name={`rule-level-${l}`} checked={d.levels.includes(l)} onChange={(e) => set({ levels: e.target.checked ? [...d.levels, l] : d.levels.filter((x) => x !== l) })} />
                {l}
              </label>
            ))}
          </fieldset>
        ) : null}
        {hasAmount ? (
          <>
            <label>
              Meter
              <select name="rule-meter" value={d.meter} onChange={(e) => set({ meter: e.target.value })}>
                <option value="llm_cost">llm_cost (USD)</option>
                <option value="llm_tokens">llm_tokens</option>
                <option value="llm_requests">llm_requests</option>
              </select>
            </label>
            <label>{d.meter === 'llm_cost' ? 'Amount (USD)' : 'Amount'}<input name="rule-amount" inputMode="decimal" value={d.amount} required={d.on === 'budget.amount'} onChange={(e) => set({ amount: e.target.value })} /></label>
            <label>
              Per
              <select name="rule-period" value={d.period} onChange={(e) => set({ period: e.target.value as Draft['period'] })}>
                <option value="day">day</option>
                <option value="week">week</option>
                <option value="month">month</option>
              </select>
            </label>
          </>
        ) : null}
        {d.on === 'budget.amount' ? <label>At fractions<input name="rule-thresholds" value={d.thresholds} placeholder="0.5, 0.8, 1" onChange={(e) => set({ thresholds: e.target.value })} /></label> : null}
      </div>
      <div className="inline-form">
        <label>Team (optional)<input name="rule-team" value={d.team} onChange={(e) => set({ team: e.target.value })} /></label>
        <label>User (optional)<input name="rule-subject" value={d.subject} onChange={(e) => set({ subject: e.target.value })} /></label>
        <label className="check"><input type="checkbox" name="rule-in-app" checked={d.inApp} onChange={(e) => set({ inApp: e.target.checked })} />In-app</label>
        <label>Email to (comma-separated)<input name="rule-email" type="text" value={d.email} onChange={(e) => set({ email: e.target.value })} /></label>
        <label>Webhook URL<input name="rule-webhook" type="url" value={d.webhook} onChange={(e) => set({ webhook: e.target.value })} /></label>
        <label>Dedup (hours)<input name="rule-dedup" inputMode="decimal" value={d.dedupHours} placeholder="type default" onChange={(e) => set({ dedupHours: e.target.value })} /></label>
        <label className="check"><input type="checkbox" name="rule-enabled" checked={d.enabled} onChange={(e) => set({ enabled: e.target.checked })} />Enabled</label>
      </div>
      <div className="inline-form">
        <button type="submit" disabled={save.isPending || !d.name.trim()}>{rule ? 'Save rule' : 'Create rule'}</button>
        <button type="button" className="secondary" onClick={onDone}>{save.data?.secrets ? 'Done' : 'Cancel'}</button>
        {err ? <span className="state error" role="alert">{err.message}{err.code ? ` (${err.code})` : ''}</span> : null}
        {save.data?.secrets ? (
          <span className="note" role="status" data-testid="webhook-secret">
            Webhook signing secret (shown once): <code>{Object.values(save.data.secrets).join(', ')}</code>
          </span>
        ) : null}
      </div>
    </form>
  );
}
