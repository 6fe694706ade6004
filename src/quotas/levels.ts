import { Money, type MoneyValue } from '../shared/money.ts';
import type { Decimal } from 'decimal.js';

/** Levels, admission and estimated turns: the engine's exact comparisons (pure, decimal). */

export type Level = 'ok' | 'warning' | 'critical' | 'blocked';

export interface Thresholds {
  warning: MoneyValue;
  critical: MoneyValue;
  block: MoneyValue;
}

const ZERO = new Money(0);

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
