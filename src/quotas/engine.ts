import { Money, type MoneyValue } from '../shared/money.ts';
import type { Decimal } from 'decimal.js';
import { periodStart, nextPeriodStart, periodStartsIn, type PeriodUnit, type Weekday } from './periods.ts';

/**
 * The credit engine: a pure function of (grants, usage, clock) → per-grant burn, balance, level,
 * resets. No I/O, no Date.now(): the service reads grants and usage and passes `now` in.
 *
 * The timeline from `start` to `now` is cut into phases at every instant where something changes
 * (a period reset, a grant's effective date, expiry or void, a recurring grant's refill, and any
 * extra window boundary asked for by /history). Within a phase the set of active grants and their
 * order are fixed, so the phase's usage burns them in one pass: priority (lower first), then
 * earliest expiry (none last), then oldest (effective date, then creation, then id).
 *
 * Usage beyond every active grant is debt: it counts in the period's usage (percent above 100 %),
 * is burned first from any grant balance that appears later in the same period (a new grant or a
 * refill; OpenMeter #4846: usage exceeding all grants must never leave a positive balance), and
 * is forgiven at the entitlement's period reset.
 */

export type Level = 'ok' | 'warning' | 'critical' | 'blocked';
export type GrantKind = 'free' | 'purchased' | 'promotional';

export interface Thresholds {
  warning: MoneyValue;
  critical: MoneyValue;
  block: MoneyValue;
}

export interface GrantInput {
  id: string;
  kind: GrantKind;
  amount: MoneyValue;
  priority: number;
  effective_at: Date;
  expires_at: Date | null;
  recurring: PeriodUnit | null;
  voided_at: Date | null;
  created_at: Date;
}

/** An amount of usage at an instant (an event, or a bucket at its start). */
export interface UsagePoint {
  at: Date;
  amount: MoneyValue;
}

export interface EngineInput {
  tz: string;
  period: PeriodUnit;
  weekStart?: Weekday;
  thresholds: Thresholds;
  grants: GrantInput[];
  usage: UsagePoint[];
  /** Where the timeline begins (the entitlement's creation); earlier grants' effective dates pull it back. */
  start: Date;
  now: Date;
  /** Extra phase boundaries (history windows); they never change the result, only its resolution. */
  windows?: Date[];
  /** Average usage per request over the last 7 days (null when there were no requests). */
  avg_per_request?: MoneyValue | null;
}

export interface GrantState {
  id: string;
  kind: GrantKind;
  amount: string;
  priority: number;
  active: boolean;
  /** Used since the grant's last refill (its whole life when it does not recur). */
  used: string;
  balance: string;
}

export interface PhaseBurn {
  from: Date;
  to: Date;
  usage: Decimal;
  burns: Map<string, Decimal>;
  /** Sum of the active grants' balances at the phase's end. */
  balance: Decimal;
}

export interface EngineResult {
  period_start: Date;
  resets_at: Date;
  usage: Decimal;
  available: Decimal;
  balance: Decimal;
  /** Usage in the period no grant covered. */
  overage: Decimal;
  /** usage / available, null when nothing is available. */
  percent: Decimal | null;
  level: Level;
  estimated_turns: number | null;
  grants: GrantState[];
  phases: PhaseBurn[];
}

const ZERO = new Money(0);
const t = (d: Date) => d.getTime();

/** The burn-down order. */
export function burnOrder(a: GrantInput, b: GrantInput): number {
  if (a.priority !== b.priority) return a.priority - b.priority;
  const ea = a.expires_at ? t(a.expires_at) : Infinity;
  const eb = b.expires_at ? t(b.expires_at) : Infinity;
  if (ea !== eb) return ea < eb ? -1 : 1;
  if (t(a.effective_at) !== t(b.effective_at)) return t(a.effective_at) - t(b.effective_at);
  if (t(a.created_at) !== t(b.created_at)) return t(a.created_at) - t(b.created_at);
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function activeAt(g: GrantInput, at: number): boolean {
  return t(g.effective_at) <= at && (g.expires_at === null || at < t(g.expires_at)) && (g.voided_at === null || at < t(g.voided_at));
}

/** The level of a usage against what is available, by exact comparison (no rounded percent). */
export function levelOf(usage: Decimal, available: Decimal, th: Thresholds): Level {
  // Nothing granted: nothing may be used.
  if (available.lte(0)) return 'blocked';
  if (usage.gte(available.times(th.block))) return 'blocked';
  if (usage.gte(available.times(th.critical))) return 'critical';
  if (usage.gte(available.times(th.warning))) return 'warning';
  return 'ok';
}

export function estimatedTurns(balance: Decimal, avg: MoneyValue | null | undefined): number | null {
  if (avg === null || avg === undefined) return null;
  const a = new Money(avg);
  if (a.lte(0)) return null;
  return balance.div(a).floor().toNumber();
}

export function run(input: EngineInput): EngineResult {
  const { tz, period, now } = input;
  const ws = input.weekStart ?? 1;
  const nowMs = t(now);
  const grants = [...input.grants].sort(burnOrder);
  let startMs = t(input.start);
  for (const g of grants) startMs = Math.min(startMs, t(g.effective_at));
  startMs = Math.min(startMs, nowMs);
  const start = new Date(startMs);

  // Boundaries, each processed once (a refill landing on a reset is one instant: OpenMeter #1408).
  const resets = new Set(periodStartsIn(tz, period, start, now, ws).map(t));
  const refills = new Map<string, Set<number>>();
  const bounds = new Set<number>([startMs, ...resets]);
  for (const g of grants) {
    for (const x of [g.effective_at, g.expires_at, g.voided_at]) if (x && t(x) >= startMs && t(x) <= nowMs) bounds.add(t(x));
    if (g.recurring && t(g.effective_at) < nowMs) {
      const rs = new Set(periodStartsIn(tz, g.recurring, g.effective_at, now, ws).map(t));
      refills.set(g.id, rs);
      for (const r of rs) bounds.add(r);
    }
  }
  for (const w of input.windows ?? []) if (t(w) > startMs && t(w) <= nowMs) bounds.add(t(w));
  const cuts = [...bounds].sort((a, b) => a - b);

  // Usage summed per phase: phase i is [cuts[i], cuts[i+1]); the last one is open-ended.
  const phaseUsage = cuts.map(() => new Money(0));
  for (const p of input.usage) {
    const at = t(p.at);
    // Only what happened in [start, now] counts; a point after now is not usage yet.
    if (at < startMs || at > nowMs) continue;
    let lo = 0;
    let hi = cuts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (cuts[mid]! <= at) lo = mid;
      else hi = mid - 1;
    }
    phaseUsage[lo] = phaseUsage[lo]!.plus(p.amount);
  }

  const balance = new Map<string, Decimal>();
  const sinceRefill = new Map<string, Decimal>();
  let periodBurn = new Map<string, Decimal>();
  let debt = ZERO;
  let periodUsage = ZERO;
  const pStart = periodStart(tz, period, now, ws);
  const phases: PhaseBurn[] = [];

  const give = (g: GrantInput) => {
    // A balance that appears pays the period's debt first.
    let b = new Money(g.amount);
    const paid = Decimal_min(b, debt);
    b = b.minus(paid);
    debt = debt.minus(paid);
    balance.set(g.id, b);
    sinceRefill.set(g.id, paid);
    periodBurn.set(g.id, (periodBurn.get(g.id) ?? ZERO).plus(paid));
  };

  for (let i = 0; i < cuts.length; i++) {
    const at = cuts[i]!;
    if (resets.has(at)) {
      debt = ZERO;
      periodUsage = ZERO;
      periodBurn = new Map();
    }
    for (const g of grants) {
      if (!activeAt(g, at)) {
        balance.delete(g.id);
        continue;
      }
      const fresh = !balance.has(g.id);
      if (fresh || refills.get(g.id)?.has(at)) give(g);
    }
    const from = new Date(at);
    const to = new Date(i + 1 < cuts.length ? cuts[i + 1]! : Math.max(nowMs, at));
    let left = phaseUsage[i]!;
    periodUsage = periodUsage.plus(left);
    const burns = new Map<string, Decimal>();
    for (const g of grants) {
      if (left.lte(0)) break;
      const b = balance.get(g.id);
      if (!b || b.lte(0)) continue;
      const take = Decimal_min(b, left);
      balance.set(g.id, b.minus(take));
      sinceRefill.set(g.id, sinceRefill.get(g.id)!.plus(take));
      periodBurn.set(g.id, (periodBurn.get(g.id) ?? ZERO).plus(take));
      burns.set(g.id, take);
      left = left.minus(take);
    }
    debt = debt.plus(left);
    let total = ZERO;
    for (const b of balance.values()) total = total.plus(b);
    phases.push({ from, to, usage: phaseUsage[i]!, burns, balance: total });
  }

  let available = ZERO;
  let bal = ZERO;
  const states: GrantState[] = [];
  for (const g of grants) {
    const active = activeAt(g, nowMs) && balance.has(g.id);
    const b = active ? balance.get(g.id)! : ZERO;
    const burned = periodBurn.get(g.id) ?? ZERO;
    if (active || burned.gt(0)) available = available.plus(burned).plus(b);
    bal = bal.plus(b);
    if (active) states.push({ id: g.id, kind: g.kind, amount: new Money(g.amount).toFixed(), priority: g.priority, active, used: (sinceRefill.get(g.id) ?? ZERO).toFixed(), balance: b.toFixed() });
    else states.push({ id: g.id, kind: g.kind, amount: new Money(g.amount).toFixed(), priority: g.priority, active, used: (sinceRefill.get(g.id) ?? ZERO).toFixed(), balance: '0' });
  }
  const percent = available.gt(0) ? periodUsage.div(available) : null;
  return {
    period_start: pStart,
    resets_at: nextPeriodStart(tz, period, now, ws),
    usage: periodUsage,
    available,
    balance: bal,
    overage: debt,
    percent,
    level: levelOf(periodUsage, available, input.thresholds),
    estimated_turns: estimatedTurns(bal, input.avg_per_request),
    grants: states,
    phases,
  };
}

function Decimal_min(a: Decimal, b: Decimal): Decimal {
  return a.lte(b) ? a : b;
}

export interface Admission {
  allowed: boolean;
  /** The level as of admission: usage so far, open reservations and this amount. */
  level: Level;
  /** Room left under the block threshold after this amount (never negative). */
  remaining: Decimal;
  /** Balance after this amount (never negative). */
  balance: Decimal;
  percent: Decimal | null;
}

/**
 * Whether `amount` more may start, given the period's usage, what is already reserved and the
 * block threshold: refused at or past the threshold, or when the amount would cross it.
 */
export function admit(usage: Decimal, available: Decimal, reserved: Decimal, amount: Decimal, th: Thresholds): Admission {
  const limit = available.times(th.block);
  const held = usage.plus(reserved);
  const after = held.plus(amount);
  const allowed = available.gt(0) && held.lt(limit) && after.lte(limit);
  const counted = allowed ? after : held;
  const level = allowed ? levelOf(counted, available, th) : 'blocked';
  const rem = limit.minus(counted);
  const bal = available.minus(counted);
  return {
    allowed,
    level: level === 'blocked' && allowed ? 'critical' : level,
    remaining: rem.gt(0) ? rem : ZERO,
    balance: bal.gt(0) ? bal : ZERO,
    percent: available.gt(0) ? counted.div(available) : null,
  };
}

/** A decimal fraction as the wire's percent string (6 places, exact comparisons happen before). */
export const percentString = (p: Decimal | null): string | null => (p === null ? null : p.toDecimalPlaces(6).toFixed());
