import { Decimal } from 'decimal.js';
import { startOf, startOfNext } from '../shared/time.ts';
import { DAY_MS, type AlertCtx } from './context.ts';
import { projectCrossing, type Projection } from './forecast.ts';
import {
  budgetCandidates,
  budgetFilters,
  entitlementMatches,
  forecastBudgetCandidate,
  forecastEntitlementCandidate,
  levelCandidate,
} from './evaluate.ts';
import type { BudgetCondition, Candidate, EntitlementSnapshot, ForecastCondition, Rule } from './types.ts';

/**
 * Evaluation against durable state (meter totals, entitlements), for the sweep and the budget
 * marks: the I/O around the pure candidates of evaluate.ts. A rule whose read fails is logged and
 * skipped; the others still run.
 */

function periodOf(period: 'day' | 'week' | 'month', tz: string, now: Date) {
  return { start: startOf(tz, period, now), end: startOfNext(tz, period, now) };
}

/** Entitlement levels as they stand now (the sweep re-notifies a standing level once its dedup window lapses). */
export async function levelEval(ctx: AlertCtx, list: Rule[], now: Date): Promise<Candidate[]> {
  const entitlements = ctx.entitlements();
  const out: Candidate[] = [];
  if (!list.length || !entitlements) return out;
  for (const s of await entitlements.list()) {
    for (const r of list) {
      const c = levelCandidate(r, { ...s, occurred_at: now.toISOString() });
      if (c) out.push(c);
    }
  }
  return out;
}

/**
 * Budget candidates for these rules. Rules reading the same total share one query, and rules
 * that differ only in their subject filter share one query grouped by subject, so 1,000
 * per-user budgets cost one round trip, not 1,000.
 */
export async function budgetEval(ctx: AlertCtx, list: Rule[], now: Date): Promise<Candidate[]> {
  const meters = ctx.meters;
  if (!meters || !list.length) return [];
  const groups = new Map<string, { c: BudgetCondition; tz: string; p: { start: Date; end: Date }; filters: Record<string, string[]>; rules: Rule[] }>();
  for (const r of list) {
    const c = r.condition as BudgetCondition;
    const tz = c.tz ?? ctx.tz;
    const p = periodOf(c.period, tz, now);
    const { subject: _s, ...filters } = budgetFilters(r.filter);
    const k = JSON.stringify([c.meter, tz, p.start.getTime(), filters, r.filter.subject === undefined]);
    if (!groups.has(k)) groups.set(k, { c, tz, p, filters, rules: [] });
    groups.get(k)!.rules.push(r);
  }
  const out: Candidate[] = [];
  for (const g of groups.values()) {
    const period = { start: g.p.start.toISOString(), end: g.p.end.toISOString() };
    try {
      const bySubject = g.rules[0]!.filter.subject !== undefined;
      if (!bySubject) {
        const total = await meters.total(g.c.meter, g.p.start, now, g.tz, g.filters);
        for (const r of g.rules) out.push(...budgetCandidates(r, total, period, now));
      } else {
        const subjects = [...new Set(g.rules.map((r) => r.filter.subject!))];
        const totals = await meters.totalsBy(g.c.meter, g.p.start, now, g.tz, { ...g.filters, subject: subjects }, 'subject');
        for (const r of g.rules) out.push(...budgetCandidates(r, totals.get(r.filter.subject!) ?? '0', period, now));
      }
    } catch (err) {
      ctx.logger.warn({ err, rules: g.rules.map((r) => r.id) }, 'alerts: could not read a budget total');
    }
  }
  return out;
}

interface ProjectionQuery {
  tz: string;
  dayStart: Date;
  lookback: number;
  usage: string;
  limit: string;
  periodStart: Date;
  periodEnd: Date;
  now: Date;
  /** Usage per local day over [from, to); undefined when the source cannot date its days. */
  dated: (from: Date, to: Date) => Promise<Array<{ day: string; usage: string }>> | undefined;
  /** Usage per local day over [from, to), oldest first. */
  daily: (from: Date, to: Date) => Promise<string[]>;
}

/**
 * The wired forecaster's projection over its own (longer) history; else (none wired, too little
 * history, already crossed) the linear projection over the last `lookback` days.
 */
async function projection(ctx: AlertCtx, q: ProjectionQuery): Promise<Projection> {
  const f = ctx.forecaster;
  const { usage, limit, periodStart, periodEnd, now } = q;
  if (f && !new Decimal(usage).gte(limit)) {
    const rows = await q.dated(new Date(q.dayStart.getTime() - f.historyDays * DAY_MS), q.dayStart);
    const p = rows ? await f.project({ usage, limit, periodStart, periodEnd, now, daily: rows, tz: q.tz }) : null;
    if (p) return p;
  }
  const from = new Date(Math.max(periodStart.getTime(), q.dayStart.getTime() - q.lookback * DAY_MS));
  const recentDaily = from < q.dayStart ? await q.daily(from, q.dayStart) : [];
  return projectCrossing({ usage, limit, recentDaily, periodStart, periodEnd, now });
}

async function forecastBudget(ctx: AlertCtx, r: Rule, c: ForecastCondition, now: Date): Promise<Candidate | null> {
  const meters = ctx.meters;
  if (!meters) return null;
  const tz = c.tz ?? ctx.tz;
  const p = periodOf(c.period!, tz, now);
  const filters = budgetFilters(r.filter);
  const total = await meters.total(c.meter!, p.start, now, tz, filters);
  const proj = await projection(ctx, {
    tz,
    dayStart: startOf(tz, 'day', now),
    lookback: c.lookback_days ?? 7,
    usage: total,
    limit: String(c.amount),
    periodStart: p.start,
    periodEnd: p.end,
    now,
    dated: (f, t) => meters.dailyByDay?.(c.meter!, f, t, tz, filters),
    daily: (f, t) => meters.daily(c.meter!, f, t, tz, filters),
  });
  return forecastBudgetCandidate(r, total, proj, { start: p.start.toISOString(), end: p.end.toISOString() }, now);
}

async function forecastEntitlement(ctx: AlertCtx, r: Rule, c: ForecastCondition, s: EntitlementSnapshot, now: Date): Promise<Candidate | null> {
  const entitlements = ctx.entitlements()!;
  const limit = (Number(s.block_threshold) > 0 ? s.block_threshold : '1') as string;
  const proj = await projection(ctx, {
    tz: 'UTC',
    dayStart: startOf('UTC', 'day', now),
    lookback: c.lookback_days ?? 7,
    usage: s.usage,
    limit: new Decimal(s.available).times(limit).toString(),
    periodStart: new Date(s.period_start),
    periodEnd: new Date(s.resets_at!),
    now,
    dated: (f, t) => entitlements.dailyUsage(s.id, f, t),
    daily: async (f, t) => (await entitlements.dailyUsage(s.id, f, t)).map((x) => x.usage),
  });
  return forecastEntitlementCandidate(r, s, proj, now);
}

/** forecast.exceeds: a meter total against an amount, or each matching entitlement against its block threshold. */
export async function forecastEval(ctx: AlertCtx, list: Rule[], now: Date): Promise<Candidate[]> {
  const out: Candidate[] = [];
  let snaps: EntitlementSnapshot[] | undefined;
  for (const r of list) {
    const c = r.condition as ForecastCondition;
    try {
      if (c.amount && c.meter && c.period) {
        const cand = await forecastBudget(ctx, r, c, now);
        if (cand) out.push(cand);
        continue;
      }
      const entitlements = ctx.entitlements();
      if (!entitlements) continue;
      snaps ??= await entitlements.list();
      for (const s of snaps) {
        if (!entitlementMatches(r.filter, s) || !s.resets_at) continue;
        const cand = await forecastEntitlement(ctx, r, c, s, now);
        if (cand) out.push(cand);
      }
    } catch (err) {
      ctx.logger.warn({ err, rule: r.id }, 'alerts: could not evaluate a forecast');
    }
  }
  return out;
}
