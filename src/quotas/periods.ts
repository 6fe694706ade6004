import { wallOf, wallToInstant, type Wall } from '../shared/time.ts';

/**
 * Period boundaries in an entitlement's own IANA zone. A period starts at local midnight of the
 * day, of the week's first day (configurable: 1 = Monday … 7 = Sunday, never hard-coded), or of
 * the 1st of the month — compared as instants, never as naive UTC wall times (LiteLLM #34896).
 */
export type PeriodUnit = 'day' | 'week' | 'month';

/** 1 = Monday … 7 = Sunday (ISO). */
export type Weekday = 1 | 2 | 3 | 4 | 5 | 6 | 7;

const DAY_MS = 86_400_000;

function dateOnly(w: Wall): Wall {
  return { year: w.year, month: w.month, day: w.day, hour: 0, minute: 0, second: 0 };
}

function addDays(w: Wall, n: number): Wall {
  const d = new Date(Date.UTC(w.year, w.month - 1, w.day) + n * DAY_MS);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: 0, minute: 0, second: 0 };
}

function isoWeekday(w: Wall): number {
  const d = new Date(Date.UTC(w.year, w.month - 1, w.day)).getUTCDay();
  return d === 0 ? 7 : d;
}

/** The start of the period holding instant t. */
export function periodStart(tz: string, unit: PeriodUnit, t: Date | number, weekStart: Weekday = 1): Date {
  let w = dateOnly(wallOf(tz, t));
  if (unit === 'week') w = addDays(w, -((isoWeekday(w) - weekStart + 7) % 7));
  if (unit === 'month') w = { ...w, day: 1 };
  let start = wallToInstant(tz, w);
  // A zone whose midnight falls in a DST gap starts the day at the first instant after it; that
  // instant can still be after t only if t itself is in the skipped wall hour, which cannot be.
  if (start.getTime() > (typeof t === 'number' ? t : t.getTime())) start = wallToInstant(tz, addDays(w, unit === 'day' ? -1 : unit === 'week' ? -7 : 0));
  return start;
}

/** The start of the period after the one holding instant t. */
export function nextPeriodStart(tz: string, unit: PeriodUnit, t: Date | number, weekStart: Weekday = 1): Date {
  const start = wallOf(tz, periodStart(tz, unit, t, weekStart));
  const d = dateOnly(start);
  const next = unit === 'day' ? addDays(d, 1) : unit === 'week' ? addDays(d, 7) : d.month === 12 ? { ...d, year: d.year + 1, month: 1, day: 1 } : { ...d, month: d.month + 1, day: 1 };
  return wallToInstant(tz, next);
}

/** Every period start s with from < s ≤ to (the resets inside a span), oldest first. */
export function periodStartsIn(tz: string, unit: PeriodUnit, from: Date, to: Date, weekStart: Weekday = 1, max = 100_000): Date[] {
  const out: Date[] = [];
  let s = nextPeriodStart(tz, unit, from, weekStart);
  while (s.getTime() <= to.getTime()) {
    out.push(s);
    if (out.length > max) throw new Error(`more than ${max} periods between ${from.toISOString()} and ${to.toISOString()}`);
    s = nextPeriodStart(tz, unit, s, weekStart);
  }
  return out;
}
