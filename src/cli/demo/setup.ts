import type { Tollgate } from '../../app.ts';
import { startOf } from '../../shared/time.ts';
import { Money, money, moneyString } from '../../shared/money.ts';
import { collectorStore } from '../../collectors/store.ts';
import { DAY, type DemoUser } from './catalog.ts';

/**
 * What the demo creates beside its events, through the domains' services: entitlements and grants,
 * alert rules, and a week of collector runs. Decisions: docs/dashboard.md "tollgate demo".
 */

/** This month's usage so far per `dim`, through the meters (what the quotas engine reads). */
async function monthSoFar(tg: Tollgate, meter: string, dim: string, from: Date, to: Date): Promise<Map<string, string>> {
  const rows = await tg.meters.query(meter, { from, to, window: 'none', tz: tg.config.tz, groupBy: [dim], filters: {} });
  return new Map(rows.map((r) => [String((r as Record<string, unknown>)[dim]), String(r.value)]));
}

/**
 * A team budget that puts this month's spend at `ratio` of it: rounded down (to cents from a dollar
 * up, else to 6 places), so early in a month, when the spend is a few cents, rounding cannot pull
 * the team back under its ratio (on the 1st, $0.05 ÷ 1.12 rounded to $0.05 was 100 %, not 112 %).
 */
export function budgetFor(spend: string, ratio: number): string {
  const b = money(spend).div(ratio);
  const amount = b.toDecimalPlaces(b.gte(1) ? 2 : 6, Money.ROUND_DOWN);
  return amount.gt(0) ? moneyString(amount) : '0.01';
}

/**
 * Quotas: a monthly free token grant (recurring, from the month's start; seed 003) for up to 24
 * users, one of them sized to sit at 92 %, some with a purchased grant; three team USD budgets,
 * `research` over its budget. Returns how many entitlements were made.
 */
export async function seedQuotas(tg: Tollgate, users: DemoUser[]): Promise<number> {
  const quotas = tg.quotas.service;
  const tz = tg.config.tz;
  const now = tg.clock.now();
  const periodStart = startOf(tz, 'month', now);
  const tokens = await monthSoFar(tg, 'llm_tokens', 'subject', periodStart, now);
  const costs = await monthSoFar(tg, 'llm_cost', 'team', periodStart, now);
  const thresholds = { warning: '0.9', critical: '0.95', block: '1.05' };
  const entitled = users.slice(0, Math.min(24, users.length));
  // The user sized to 92 %: the heaviest this month (early on the 1st, most users have none yet).
  const near = entitled.reduce((a, b) => (Number(tokens.get(b.subject) ?? 0) > Number(tokens.get(a.subject) ?? 0) ? b : a), entitled[Math.min(6, entitled.length - 1)]!);
  const created: string[] = [];
  for (const u of entitled) {
    const e = await quotas.createEntitlement({ subject: u.subject, meter: 'llm_tokens', period: 'month', tz, thresholds, purchase_url: 'https://example.com/buy-tokens' });
    created.push(e.id);
    const usage = Number(tokens.get(u.subject) ?? 0);
    const amount = u === near ? Math.max(1, Math.round(usage / 0.92)) : Math.max(100_000, Math.ceil((usage * (1.3 + (created.length % 5) * 0.5)) / 1000) * 1000);
    await quotas.createGrant(e.id, { amount: String(amount), kind: 'free', priority: 10, recurring: 'month', effective_at: periodStart });
    if (created.length % 7 === 3 && u !== near) await quotas.createGrant(e.id, { amount: '50000', kind: 'purchased', priority: 1, effective_at: periodStart });
  }
  // Team budgets in USD (llm_cost): research is over its budget this month, the others within.
  for (const [team, ratio] of [['research', 1.12], ['support', 0.4], ['search', 0.7]] as const) {
    const e = await quotas.createEntitlement({ team, meter: 'llm_cost', period: 'month', tz, thresholds: { warning: '0.8', critical: '0.95', block: '1.05' } });
    created.push(e.id);
    await quotas.createGrant(e.id, { amount: budgetFor(costs.get(team) ?? '0', ratio), kind: 'free', priority: 10, recurring: 'month', effective_at: periodStart });
  }
  // Levels are published as usage is checked: read every value once so stats and alerts see them.
  for (const id of created) await quotas.value(id);
  return created.length;
}

const RULES = [
  { name: 'Quota levels (warning, critical, blocked)', on: 'entitlement.level', condition: { levels: ['warning', 'critical', 'blocked'] }, channels: [{ type: 'in_app' }] },
  { name: 'Monthly LLM spend over $250', on: 'budget.amount', condition: { meter: 'llm_cost', amount: '250', period: 'month', thresholds: [0.5, 0.8, 1] }, channels: [{ type: 'in_app' }] },
  { name: 'Cost anomalies', on: 'anomaly', channels: [{ type: 'in_app' }] },
  { name: 'Collector failures', on: 'collector.failure', channels: [{ type: 'in_app' }] },
];

/** Four in-app alert rules (nothing leaves the machine), then one sweep. Returns how many were made. */
export async function seedAlertRules(tg: Tollgate): Promise<number> {
  let rules = 0;
  for (const b of RULES) {
    try {
      await tg.alerts.createRule(b);
      rules++;
    } catch (e) {
      tg.logger.warn({ err: e }, `demo: alert rule "${b.name}" not created`);
    }
  }
  await tg.alerts.sweep().catch((err) => tg.logger.warn({ err }, 'demo: alert sweep failed'));
  return rules;
}

/**
 * A week of collector runs (the providers' APIs are not reachable offline), the last Anthropic one
 * failed: recorded through the collectors' own store — the one place the demo reaches into another
 * domain's store.
 */
export async function seedCollectorRuns(tg: Tollgate, now: Date): Promise<void> {
  try {
    const store = collectorStore(tg.db);
    const today = Math.floor(now.getTime() / DAY) * DAY;
    for (let d = 7; d >= 1; d--) {
      const day = new Date(today - d * DAY).toISOString().slice(0, 10);
      const at = new Date(today - (d - 1) * DAY + 60_000);
      const id = await store.startRun('openai', 'default', day, day, at);
      await store.finishRun(id, new Date(at.getTime() + 4000), { status: 'ok', events: 40 + d, rows: 40 + d, cost: (120 + d * 3.17).toFixed(2) });
      const a = await store.startRun('anthropic', 'default', day, day, at);
      await store.finishRun(a, new Date(at.getTime() + 9000), d === 1 ? { status: 'failed', error: 'demo: 401 invalid x-api-key (the admin key was rotated)' } : { status: 'ok', events: 25, rows: 25, cost: '88.40' });
    }
  } catch (err) {
    tg.logger.warn({ err }, 'demo: no collector run history');
  }
}
