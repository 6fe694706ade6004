import { Decimal } from 'decimal.js';

/**
 * Money is decimal everywhere: Decimal in memory, numeric in the database, decimal strings on the
 * wire. 40 significant digits is far past any sum of per-token prices we will ever add up.
 */
export const Money = Decimal.clone({ precision: 40, rounding: Decimal.ROUND_HALF_EVEN, toExpNeg: -40, toExpPos: 40 });
export type Money = Decimal;
export type MoneyValue = Decimal.Value;

export const ZERO = new Money(0);

export function money(v: MoneyValue | null | undefined): Decimal {
  return v === null || v === undefined || v === '' ? ZERO : new Money(v);
}

/** Canonical wire form: plain decimal notation, no exponent, no trailing zeros. */
export function moneyString(v: MoneyValue | null | undefined): string {
  return money(v).toFixed();
}
