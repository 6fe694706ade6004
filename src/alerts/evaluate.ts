import { Decimal } from 'decimal.js';
import type { AnomalySignal, CollectorFailureSignal, ReconciliationMismatchSignal } from '../shared/signals.ts';
import { percentText, groupDigits } from './message.ts';
import type { Projection } from './forecast.ts';
import {
  budgetCondition,
  forecastCondition,
  levelCondition,
  type BudgetCondition,
  type Candidate,
  type EntitlementSnapshot,
  type ForecastCondition,
  type Rule,
  type RuleFilter,
  type RuleType,
} from './types.ts';

/**
 * Pure rule evaluation: from a rule and what happened (a signal, an entitlement's state, a meter
 * total, a projection) to the candidates that should fire. Dedup and throttle are decided against
 * the database afterwards (service.ts), in the transaction that records the firing.
 */

const HOUR_S = 3600;
const DAY_S = 86400;
/** "Once per period": longer than any period, so only the period in the key ends it. */
export const ONCE_PER_PERIOD_S = 400 * DAY_S;

/** The dedup window a rule gets when it sets none (DESIGN: 24 h; see docs/alerts.md for the others). */
export function effectiveDedupWindow(rule: Pick<Rule, 'on' | 'dedup_window_s'>): number {
  if (rule.on === 'collector.failure') return Math.max(rule.dedup_window_s ?? HOUR_S, HOUR_S);
  if (rule.dedup_window_s !== null) return rule.dedup_window_s;
  return rule.on === 'budget.amount' ? ONCE_PER_PERIOD_S : DAY_S;
}

/** The dedup key within a rule: (subject, level, period). */
export function dedupKey(c: Pick<Candidate, 'subject' | 'level' | 'period'> & { key_level?: string }): string {
  return `${c.subject ?? ''}|${c.key_level ?? c.level ?? ''}|${c.period}`;
}

/** Parses and defaults a rule's condition for its type; throws a zod error naming the field. */
export function parseCondition(on: RuleType, condition: Record<string, unknown> | undefined): Record<string, unknown> {
  switch (on) {
    case 'entitlement.level':
      return levelCondition.parse(condition ?? {});
    case 'budget.amount':
      return budgetCondition.parse(condition ?? {});
    case 'forecast.exceeds':
      return forecastCondition.parse(condition ?? {});
    default:
      return condition ?? {};
  }
}

const matches = (want: string | undefined, have: string | null | undefined) => want === undefined || want === have;

export interface LevelState extends Omit<EntitlementSnapshot, 'block_threshold'> {
  occurred_at: string;
}

function whoOf(s: { subject: string | null; team: string | null; api_key: string | null }): string {
  return s.subject ?? (s.team ? `team ${s.team}` : s.api_key ? `key ${s.api_key}` : 'everyone');
}

export function entitlementMatches(f: RuleFilter, s: Pick<EntitlementSnapshot, 'id' | 'meter' | 'subject' | 'team' | 'api_key'>): boolean {
  return matches(f.entitlement_id, s.id) && matches(f.meter, s.meter) && matches(f.subject, s.subject) && matches(f.team, s.team) && matches(f.api_key, s.api_key);
}

export function levelCandidate(rule: Rule, s: LevelState): Candidate | null {
  if (rule.on !== 'entitlement.level' || s.level === 'ok') return null;
  if (!entitlementMatches(rule.filter, s)) return null;
  const cond = levelCondition.parse(rule.condition);
  if (!cond.levels.includes(s.level)) return null;
  return {
    rule,
    subject: s.subject,
    team: s.team,
    level: s.level,
    period: `${s.id}@${s.period_start}`,
    value: s.usage,
    threshold: s.available,
    occurred_at: s.occurred_at,
    title: `${whoOf(s)} reached ${s.level}: ${percentText(s.percent)} of ${s.meter} used (${groupDigits(s.usage)} of ${groupDigits(s.available)})`,
    details: {
      entitlement_id: s.id,
      meter: s.meter,
      api_key: s.api_key,
      percent: s.percent,
      usage: s.usage,
      available: s.available,
      balance: s.balance,
      period_start: s.period_start,
      resets_at: s.resets_at,
      purchase_url: s.purchase_url,
    },
  };
}

/** The meter filters a budget rule reads its total with. */
export function budgetFilters(f: RuleFilter): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const k of ['subject', 'team', 'project', 'provider', 'model', 'feature', 'api_key'] as const) if (f[k]) out[k] = [f[k]!];
  return out;
}

/** Each threshold fraction of the amount the total has reached fires once per period. */
export function budgetCandidates(rule: Rule, total: string, period: { start: string; end: string }, now: Date): Candidate[] {
  if (rule.on !== 'budget.amount') return [];
  const c = budgetCondition.parse(rule.condition) as BudgetCondition;
  const amount = new Decimal(c.amount);
  const t = new Decimal(total);
  const out: Candidate[] = [];
  for (const frac of [...(c.thresholds ?? [1])].sort((a, b) => a - b)) {
    const limit = amount.times(frac);
    if (t.lt(limit)) continue;
    const pct = new Decimal(frac).times(100).toString();
    out.push({
      rule,
      subject: rule.filter.subject ?? null,
      team: rule.filter.team ?? null,
      level: null,
      key_level: `${pct}%`,
      period: period.start,
      value: t.toString(),
      threshold: limit.toString(),
      occurred_at: now.toISOString(),
      title: `Budget "${rule.name}" passed ${pct} %: ${groupDigits(t.toString())} of ${groupDigits(amount.toString())} ${c.meter} this ${c.period}`,
      details: { meter: c.meter, amount: amount.toString(), threshold_percent: pct, percent: t.div(amount).toDecimalPlaces(6).toString(), period: c.period, period_start: period.start, resets_at: period.end },
    } as Candidate);
  }
  return out;
}

/** A wired forecaster names its method and interval; the linear projection adds nothing. */
const methodOf = (p: Projection) => (p.method ? { forecast_method: p.method, projected_low: p.low, projected_high: p.high } : {});

/** forecast.exceeds for an entitlement: its usage projected past available × block threshold. */
export function forecastEntitlementCandidate(rule: Rule, s: EntitlementSnapshot, p: Projection, now: Date): Candidate | null {
  if (rule.on !== 'forecast.exceeds' || !p.crosses_at) return null;
  const limit = new Decimal(s.available).times(s.block_threshold);
  const day = p.crosses_at.toISOString().slice(0, 10);
  return {
    rule,
    subject: s.subject,
    team: s.team,
    level: null,
    key_level: 'forecast',
    period: `${s.id}@${s.period_start}`,
    value: s.usage,
    threshold: limit.toString(),
    occurred_at: now.toISOString(),
    title: `${whoOf(s)} is projected to reach the ${s.meter} limit on ${day}, before the period ends${s.resets_at ? ` (${s.resets_at.slice(0, 10)})` : ''}`,
    details: {
      entitlement_id: s.id,
      meter: s.meter,
      usage: s.usage,
      available: s.available,
      percent: s.percent,
      rate_per_day: p.rate,
      projected_total: p.projected_total,
      projected_at: p.crosses_at.toISOString(),
      ...methodOf(p),
      period_start: s.period_start,
      resets_at: s.resets_at,
      purchase_url: s.purchase_url,
    },
  } as Candidate;
}

/** forecast.exceeds in its budget form: a meter total projected past an amount. */
export function forecastBudgetCandidate(rule: Rule, total: string, p: Projection, period: { start: string; end: string }, now: Date): Candidate | null {
  if (rule.on !== 'forecast.exceeds' || !p.crosses_at) return null;
  const c = forecastCondition.parse(rule.condition) as ForecastCondition;
  const day = p.crosses_at.toISOString().slice(0, 10);
  return {
    rule,
    subject: rule.filter.subject ?? null,
    team: rule.filter.team ?? null,
    level: null,
    key_level: 'forecast',
    period: period.start,
    value: total,
    threshold: String(c.amount),
    occurred_at: now.toISOString(),
    title: `Budget "${rule.name}" is projected to pass ${groupDigits(String(c.amount))} ${c.meter} on ${day}, before the ${c.period} ends`,
    details: { meter: c.meter, amount: c.amount, rate_per_day: p.rate, projected_total: p.projected_total, projected_at: p.crosses_at.toISOString(), ...methodOf(p), period_start: period.start, resets_at: period.end },
  } as Candidate;
}

export function collectorCandidate(rule: Rule, s: CollectorFailureSignal): Candidate | null {
  if (rule.on !== 'collector.failure' || !matches(rule.filter.collector, s.collector)) return null;
  const who = s.account ? `${s.collector}/${s.account}` : s.collector;
  return {
    rule,
    subject: null,
    team: null,
    level: null,
    key_level: who,
    period: '',
    value: null,
    threshold: null,
    occurred_at: s.occurred_at,
    title: `Collector ${who} failed for ${s.window}: ${s.error.slice(0, 160)}`,
    details: { collector: s.collector, account: s.account, window: s.window, error: s.error },
  } as Candidate;
}

export function reconciliationCandidate(rule: Rule, s: ReconciliationMismatchSignal): Candidate | null {
  if (rule.on !== 'reconciliation.mismatch' || !matches(rule.filter.provider, s.provider) || !matches(rule.filter.model, s.model)) return null;
  const cost = s.difference.cost ?? null;
  return {
    rule,
    subject: null,
    team: null,
    level: null,
    key_level: `${s.provider}/${s.model}`,
    period: s.date,
    value: s.recorded.cost ?? null,
    threshold: s.reported.cost ?? null,
    occurred_at: s.occurred_at,
    title: `Reconciliation mismatch: ${s.provider} ${s.model} on ${s.date}${cost ? ` (cost differs by ${cost})` : ''}`,
    details: { provider: s.provider, model: s.model, date: s.date, recorded: s.recorded, reported: s.reported, difference: s.difference },
  } as Candidate;
}

export function anomalyCandidate(rule: Rule, s: AnomalySignal): Candidate | null {
  if (rule.on !== 'anomaly' || !matches(rule.filter.measure, s.measure)) return null;
  if (rule.filter.min_score !== undefined && s.score < rule.filter.min_score) return null;
  for (const k of ['subject', 'team', 'project', 'provider', 'model', 'feature'] as const) if (!matches(rule.filter[k], s.group[k])) return null;
  const group = Object.entries(s.group).map(([k, v]) => `${k}=${v}`).join(', ');
  return {
    rule,
    subject: s.group.subject ?? null,
    team: s.group.team ?? null,
    level: null,
    key_level: s.anomaly_id,
    period: s.window_start,
    value: s.actual,
    threshold: s.expected,
    occurred_at: s.occurred_at,
    title: `Anomaly in ${s.measure}${group ? ` (${group})` : ''}: ${groupDigits(s.actual)} against ${groupDigits(s.expected)} expected`,
    details: { anomaly_id: s.anomaly_id, measure: s.measure, window_start: s.window_start, group: s.group, score: s.score },
  } as Candidate;
}
