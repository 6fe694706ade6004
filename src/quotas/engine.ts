import { Money, type MoneyValue } from '../shared/money.ts';
import type { Decimal } from 'decimal.js';
import { periodStart, nextPeriodStart, periodStartsIn, type PeriodUnit, type Weekday } from './periods.ts';
import { estimatedTurns, levelOf, type Level, type Thresholds } from './levels.ts';

export { admit, estimatedTurns, levelOf, percentString, type Admission, type Level, type Thresholds } from './levels.ts';

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

export type GrantKind = 'free' | 'purchased' | 'promotional';


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
  /** Start from this state (a stored snapshot) instead of at `start`; usage before its instant is ignored. */
  resume?: EngineState;
  /** Also return the state at this instant (start ≤ captureAt ≤ now): the next snapshot. */
  captureAt?: Date;
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
  /** The state at `captureAt`, when asked for. */
  state?: EngineState;
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

/**
 * The engine's state at an instant: everything the replay carries from one phase to the next.
 * A stored snapshot of it lets a replay start there instead of at the entitlement's creation
 * (`resume`); it is only a starting state, so resuming from the state captured at S equals
 * replaying from the start (property test in engine.test.ts).
 */
export interface EngineState {
  /** The state holds just before the cut at this instant is processed. */
  at: Date;
  /** Balances of the grants that hold one (presence matters: an absent active grant is given at its next cut). */
  balances: Record<string, string>;
  since_refill: Record<string, string>;
  period_burn: Record<string, string>;
  debt: string;
  period_usage: string;
}

interface Timeline {
  grants: GrantInput[];
  startMs: number;
  cuts: number[];
  resets: Set<number>;
  refills: Map<string, Set<number>>;
}

/** Every instant in [start, now] where something changes, each once (a refill landing on a reset is one instant: OpenMeter #1408). */
function timeline(input: EngineInput, extra: Date[]): Timeline {
  const { tz, period, now } = input;
  const ws = input.weekStart ?? 1;
  const nowMs = t(now);
  const grants = [...input.grants].sort(burnOrder);
  let startMs: number;
  if (input.resume) startMs = t(input.resume.at);
  else {
    startMs = t(input.start);
    for (const g of grants) startMs = Math.min(startMs, t(g.effective_at));
  }
  startMs = Math.min(startMs, nowMs);
  // Resuming at S: the boundaries at S itself count (the state is from just before them).
  const after = new Date(input.resume ? startMs - 1 : startMs);
  const resets = new Set(periodStartsIn(tz, period, after, now, ws).map(t));
  const refills = new Map<string, Set<number>>();
  const bounds = new Set<number>([startMs, ...resets]);
  for (const g of grants) {
    for (const x of [g.effective_at, g.expires_at, g.voided_at]) if (x && t(x) >= startMs && t(x) <= nowMs) bounds.add(t(x));
    if (g.recurring && t(g.effective_at) < nowMs) {
      const from = t(g.effective_at) > t(after) ? g.effective_at : after;
      const rs = new Set(periodStartsIn(tz, g.recurring, from, now, ws).map(t));
      refills.set(g.id, rs);
      for (const r of rs) bounds.add(r);
    }
  }
  for (const w of extra) if (t(w) > startMs && t(w) <= nowMs) bounds.add(t(w));
  return { grants, startMs, resets, refills, cuts: [...bounds].sort((a, b) => a - b) };
}

/** Usage summed per phase: phase i is [cuts[i], cuts[i+1]); the last one is open-ended. */
function usagePerPhase(cuts: number[], usage: UsagePoint[], startMs: number, nowMs: number): Decimal[] {
  const out = cuts.map(() => new Money(0) as Decimal);
  for (const p of usage) {
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
    out[lo] = out[lo]!.plus(p.amount);
  }
  return out;
}

/** The replay's running state (EngineState in Decimal). */
interface Carry {
  balance: Map<string, Decimal>;
  sinceRefill: Map<string, Decimal>;
  periodBurn: Map<string, Decimal>;
  debt: Decimal;
  periodUsage: Decimal;
}

const toMap = (r: Record<string, string>) => new Map(Object.entries(r).map(([k, v]) => [k, new Money(v) as Decimal]));
const toRec = (m: Map<string, Decimal>) => Object.fromEntries([...m].map(([k, v]) => [k, v.toFixed()]));

function carryOf(s: EngineState | undefined): Carry {
  if (!s) return { balance: new Map(), sinceRefill: new Map(), periodBurn: new Map(), debt: ZERO, periodUsage: ZERO };
  return { balance: toMap(s.balances), sinceRefill: toMap(s.since_refill), periodBurn: toMap(s.period_burn), debt: new Money(s.debt), periodUsage: new Money(s.period_usage) };
}

function stateOf(c: Carry, at: number): EngineState {
  return { at: new Date(at), balances: toRec(c.balance), since_refill: toRec(c.sinceRefill), period_burn: toRec(c.periodBurn), debt: c.debt.toFixed(), period_usage: c.periodUsage.toFixed() };
}

/** A balance that appears (a grant given or refilled) pays the period's debt first. */
function give(c: Carry, g: GrantInput): void {
  let b: Decimal = new Money(g.amount);
  const paid = Decimal_min(b, c.debt);
  b = b.minus(paid);
  c.debt = c.debt.minus(paid);
  c.balance.set(g.id, b);
  c.sinceRefill.set(g.id, paid);
  c.periodBurn.set(g.id, (c.periodBurn.get(g.id) ?? ZERO).plus(paid));
}

/** One phase: resets, gives and refills at its start, then its usage burnt in order. */
function phase(c: Carry, tl: Timeline, at: number, usage: Decimal): Map<string, Decimal> {
  if (tl.resets.has(at)) {
    c.debt = ZERO;
    c.periodUsage = ZERO;
    c.periodBurn = new Map();
  }
  for (const g of tl.grants) {
    if (!activeAt(g, at)) {
      c.balance.delete(g.id);
      continue;
    }
    if (!c.balance.has(g.id) || tl.refills.get(g.id)?.has(at)) give(c, g);
  }
  let left = usage;
  c.periodUsage = c.periodUsage.plus(left);
  const burns = new Map<string, Decimal>();
  for (const g of tl.grants) {
    if (left.lte(0)) break;
    const b = c.balance.get(g.id);
    if (!b || b.lte(0)) continue;
    const take = Decimal_min(b, left);
    c.balance.set(g.id, b.minus(take));
    c.sinceRefill.set(g.id, c.sinceRefill.get(g.id)!.plus(take));
    c.periodBurn.set(g.id, (c.periodBurn.get(g.id) ?? ZERO).plus(take));
    burns.set(g.id, take);
    left = left.minus(take);
  }
  c.debt = c.debt.plus(left);
  return burns;
}

/** The figures at `now` from the replay's final state. */
function summary(input: EngineInput, grants: GrantInput[], c: Carry, phases: PhaseBurn[], state: EngineState | undefined): EngineResult {
  const { tz, period, now } = input;
  const ws = input.weekStart ?? 1;
  let available = ZERO;
  let bal = ZERO;
  const states: GrantState[] = [];
  for (const g of grants) {
    const active = activeAt(g, t(now)) && c.balance.has(g.id);
    const b = active ? c.balance.get(g.id)! : ZERO;
    const burned = c.periodBurn.get(g.id) ?? ZERO;
    if (active || burned.gt(0)) available = available.plus(burned).plus(b);
    bal = bal.plus(b);
    states.push({ id: g.id, kind: g.kind, amount: new Money(g.amount).toFixed(), priority: g.priority, active, used: (c.sinceRefill.get(g.id) ?? ZERO).toFixed(), balance: b.toFixed() });
  }
  return {
    period_start: periodStart(tz, period, now, ws),
    resets_at: nextPeriodStart(tz, period, now, ws),
    usage: c.periodUsage,
    available,
    balance: bal,
    overage: c.debt,
    percent: available.gt(0) ? c.periodUsage.div(available) : null,
    level: levelOf(c.periodUsage, available, input.thresholds),
    estimated_turns: estimatedTurns(bal, input.avg_per_request),
    grants: states,
    phases,
    ...(state ? { state } : {}),
  };
}

export function run(input: EngineInput): EngineResult {
  const nowMs = t(input.now);
  const capture = input.captureAt ? t(input.captureAt) : null;
  const tl = timeline(input, capture === null ? (input.windows ?? []) : [...(input.windows ?? []), new Date(capture)]);
  const perPhase = usagePerPhase(tl.cuts, input.usage, tl.startMs, nowMs);
  const c = carryOf(input.resume);
  const phases: PhaseBurn[] = [];
  let state: EngineState | undefined;
  for (let i = 0; i < tl.cuts.length; i++) {
    const at = tl.cuts[i]!;
    if (at === capture) state = stateOf(c, at);
    const burns = phase(c, tl, at, perPhase[i]!);
    let total = ZERO;
    for (const b of c.balance.values()) total = total.plus(b);
    const to = new Date(i + 1 < tl.cuts.length ? tl.cuts[i + 1]! : Math.max(nowMs, at));
    phases.push({ from: new Date(at), to, usage: perPhase[i]!, burns, balance: total });
  }
  return summary(input, tl.grants, c, phases, state);
}

function Decimal_min(a: Decimal, b: Decimal): Decimal {
  return a.lte(b) ? a : b;
}

