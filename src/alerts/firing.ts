import { randomBytes } from 'node:crypto';
import { startOfNext } from '../shared/time.ts';
import { DAY_MS } from './context.ts';
import type { Candidate, Firing, Rule } from './types.ts';

export const newId = (prefix: string) => prefix + randomBytes(12).toString('base64url');

/** The firing a candidate becomes (`test`: a sample from POST /rules/:id/test, never deduplicated). */
export function firingOf(c: Candidate, now: Date, test: boolean): Firing {
  return {
    id: newId('fir_'),
    rule_id: c.rule.id,
    rule_name: c.rule.name,
    type: c.rule.on,
    subject: c.subject,
    team: c.team,
    level: c.level,
    period: c.period,
    value: c.value,
    threshold: c.threshold,
    occurred_at: c.occurred_at,
    created_at: now.toISOString(),
    test,
    title: c.title,
    details: c.details,
  };
}

/** A sample of what the rule would send, for POST /v1/alerts/rules/:id/test. */
export function sampleCandidate(rule: Rule, now: Date): Candidate {
  const at = now.toISOString();
  const subject = rule.filter.subject ?? 'sample-user';
  const base = { rule, subject, team: rule.filter.team ?? null, occurred_at: at, period: 'test', level: null as string | null };
  const meter = (rule.condition.meter as string | undefined) ?? rule.filter.meter ?? 'llm_tokens';
  switch (rule.on) {
    case 'budget.amount': {
      const amount = String(rule.condition.amount ?? '100');
      return { ...base, value: amount, threshold: amount, title: `Test: budget "${rule.name}" reached ${amount} ${meter}`, details: { meter, amount, percent: '1' } };
    }
    case 'forecast.exceeds':
      return {
        ...base,
        value: '70000',
        threshold: '105000',
        title: `Test: ${subject} is projected to reach the ${meter} limit on ${new Date(now.getTime() + 7 * DAY_MS).toISOString().slice(0, 10)}`,
        details: { meter, projected_at: new Date(now.getTime() + 7 * DAY_MS).toISOString(), projected_total: '150000' },
      };
    case 'collector.failure':
      return { ...base, subject: null, value: null, threshold: null, title: 'Test: collector sample failed', details: { collector: rule.filter.collector ?? 'openai', error: 'sample error' } };
    case 'reconciliation.mismatch':
      return { ...base, subject: null, value: '10.00', threshold: '12.00', title: 'Test: reconciliation mismatch', details: { provider: rule.filter.provider ?? 'openai' } };
    case 'anomaly':
      return { ...base, value: '120', threshold: '40', title: 'Test: anomaly', details: { measure: rule.filter.measure ?? 'cost', score: 5 } };
    default:
      return {
        ...base,
        level: 'warning',
        value: '90000',
        threshold: '100000',
        title: `Test: ${subject} reached warning: 90 % of ${meter} used (90,000 of 100,000)`,
        details: { meter, percent: '0.9', available: '100000', resets_at: startOfNext('UTC', 'month', now).toISOString() },
      };
  }
}
