import { Money } from '../shared/money.ts';
import { admit, estimatedTurns, percentString, type Admission, type Level } from './engine.ts';
import type { Entitlement } from './store.ts';
import type { Snapshot } from './usage.ts';

/** The wire shapes of /value and /check (and the gateway's decision), from a snapshot and the reserved room. */

export interface ValueOut {
  id: string;
  meter: string;
  usage: string;
  available: string;
  balance: string;
  reserved: string;
  percent: string | null;
  level: Level;
  estimated_turns: number | null;
  period_start: string;
  resets_at: string;
  purchase_url: string | null;
  grants: Array<{ id: string; kind: string; amount: string; used: string; balance: string; priority: number; active: boolean }>;
}

export interface CheckOut {
  entitlement_id: string | null;
  allowed: boolean;
  level: Level;
  balance: string | null;
  remaining: string | null;
  percent: string | null;
  estimated_turns: number | null;
  resets_at: string | null;
  purchase_url: string | null;
}

/** /v1/entitlements/:id/value from a snapshot and the entitlement's reserved room. */
export function valueOf(s: Snapshot, reserved: string): ValueOut {
  const r = s.result;
  return {
    id: s.ent.id,
    meter: s.ent.meter,
    usage: r.usage.toFixed(),
    available: r.available.toFixed(),
    balance: r.balance.toFixed(),
    reserved: new Money(reserved).toFixed(),
    percent: percentString(r.percent),
    level: r.level,
    estimated_turns: r.estimated_turns,
    period_start: r.period_start.toISOString(),
    resets_at: r.resets_at.toISOString(),
    purchase_url: s.ent.purchase_url,
    grants: r.grants.map((g) => ({ id: g.id, kind: g.kind, amount: g.amount, used: g.used, balance: g.balance, priority: g.priority, active: g.active })),
  };
}


/** An admission's answer: `reserved` is what was held before `amount`. */
export function checkOut(e: Entitlement, s: Snapshot, reserved: string, amount: Money): CheckOut & { admission: Admission } {
  const r = s.result;
  const a = admit(r.usage, r.available, new Money(reserved), amount, e.thresholds);
  return {
    entitlement_id: e.id,
    allowed: a.allowed,
    level: a.level,
    balance: a.balance.toFixed(),
    remaining: a.remaining.toFixed(),
    percent: percentString(a.percent),
    estimated_turns: estimatedTurns(a.balance, s.avg),
    resets_at: r.resets_at.toISOString(),
    purchase_url: e.purchase_url,
    admission: a,
  };
}


/** The answer of a target without any entitlement on the meter. */
export const NO_ENTITLEMENT: CheckOut = Object.freeze({ entitlement_id: null, allowed: true, level: 'ok' as const, balance: null, remaining: null, percent: null, estimated_turns: null, resets_at: null, purchase_url: null });

const RANK: Record<Level, number> = { ok: 0, warning: 1, critical: 2, blocked: 3 };
export const rank = (l: Level) => RANK[l];


/** The worse of two answers (a refusal, else the higher level). */
export const worse = <T extends CheckOut>(a: T | null, b: T): T => (!a || (!b.allowed && a.allowed) || rank(b.level) > rank(a.level) ? b : a);
