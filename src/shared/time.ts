/**
 * Zone and window math on IANA zones with Intl only (no tz library). Instants are JS Dates (UTC);
 * "wall" times are the local calendar fields in a zone. Every function is pure.
 *
 * Rules:
 * - A wall time that does not exist (spring-forward gap) resolves forward, like Temporal's
 *   "compatible" disambiguation; a wall time that exists twice (fall-back) resolves to the earlier
 *   instant. So the start of a local day is always the first instant of that local date.
 * - Weeks are ISO weeks (Monday start).
 *
 * Intl is slow (a few µs per formatToParts), so zone offsets are memoised per 15-minute slot: a
 * slot whose first and last second have the same offset has it throughout (offset changes are
 * whole 15-minute steps except for historical local-mean-time ones, whose slots are not
 * memoised). Everything else is arithmetic on that offset.
 */

export type WindowUnit = 'hour' | 'day' | 'week' | 'month' | 'none';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
export const QUARTER_HOUR = 15 * MINUTE;

/**
 * The instants Tollgate accepts (query parameters and event times; docs/foundation.md): from the
 * Unix epoch to 9999-01-01T00:00:00Z, inclusive. Past it, a window end or a day in a +14:00 zone
 * would fall in year 10000, which neither PostgreSQL's input format nor ISO strings carry (those
 * queries answered 500); before 1970 there is no usage to meter.
 */
export const SUPPORTED_FROM = Date.UTC(1970, 0, 1);
export const SUPPORTED_TO = Date.UTC(9999, 0, 1);
export const SUPPORTED_RANGE = '1970-01-01T00:00:00Z .. 9999-01-01T00:00:00Z';
export const inSupportedRange = (d: Date): boolean => d.getTime() >= SUPPORTED_FROM && d.getTime() <= SUPPORTED_TO;

export function isValidZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
    formatters.set(tz, f);
  }
  return f;
}

export interface Wall {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** The local calendar fields of an instant in a zone (whole seconds). */
export function wallOf(tz: string, t: Date | number): Wall {
  const ms = Math.floor((typeof t === 'number' ? t : t.getTime()) / 1000) * 1000;
  const d = new Date(ms + offsetMs(tz, ms));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds() };
}

/** wallOf straight from Intl (whole seconds). */
function intlWallOf(tz: string, ms: number): Wall {
  const parts = formatter(tz).formatToParts(new Date(ms));
  const w: Wall = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  let bc = false;
  for (const p of parts) {
    switch (p.type) {
      case 'year':
        w.year = Number(p.value);
        break;
      case 'month':
        w.month = Number(p.value);
        break;
      case 'day':
        w.day = Number(p.value);
        break;
      case 'hour':
        w.hour = Number(p.value);
        break;
      case 'minute':
        w.minute = Number(p.value);
        break;
      case 'second':
        w.second = Number(p.value);
        break;
      case 'era':
        bc = p.value.startsWith('B');
        break;
    }
  }
  if (bc) w.year = 1 - w.year;
  return w;
}

const intlOffset = (tz: string, floored: number) => wallAsUtc(intlWallOf(tz, floored)) - floored;

/** tz → 15-minute slot index → offset in force for the whole slot, or NaN if it changes inside. */
const slotOffsets = new Map<string, Map<number, number>>();
const SLOT_CACHE_MAX = 200_000;

function wallAsUtc(w: Wall): number {
  const d = new Date(0);
  d.setUTCFullYear(w.year, w.month - 1, w.day);
  d.setUTCHours(w.hour, w.minute, w.second, 0);
  return d.getTime();
}

/** True for the zone names that are plain UTC. */
export const isUtc = (tz: string): boolean => tz === 'UTC' || tz === 'Etc/UTC';

/** The zone's offset from UTC at an instant, in milliseconds (east positive), to whole seconds. */
export function offsetMs(tz: string, t: Date | number): number {
  if (isUtc(tz)) return 0;
  const ms = typeof t === 'number' ? t : t.getTime();
  const floored = Math.floor(ms / 1000) * 1000;
  let slots = slotOffsets.get(tz);
  if (!slots) slotOffsets.set(tz, (slots = new Map()));
  const slot = Math.floor(floored / QUARTER_HOUR);
  let o = slots.get(slot);
  if (o === undefined) {
    const first = intlOffset(tz, slot * QUARTER_HOUR);
    o = first === intlOffset(tz, slot * QUARTER_HOUR + QUARTER_HOUR - 1000) ? first : NaN;
    if (slots.size >= SLOT_CACHE_MAX) slots.clear();
    slots.set(slot, o);
  }
  return Number.isNaN(o) ? intlOffset(tz, floored) : o;
}

/** The instant of a wall time in a zone (gap → forward, overlap → earlier). */
export function wallToInstant(tz: string, w: Wall): Date {
  const asUtc = wallAsUtc(w);
  const before = offsetMs(tz, asUtc - DAY);
  const after = offsetMs(tz, asUtc + DAY);
  const candidates: number[] = [];
  for (const o of new Set([before, after])) {
    const t = asUtc - o;
    if (offsetMs(tz, t) === o) candidates.push(t);
  }
  if (candidates.length) return new Date(Math.min(...candidates));
  // In a gap: shift forward by the size of the gap (the offset in force before it).
  return new Date(asUtc - before);
}

function addDays(w: Wall, n: number): Wall {
  const d = new Date(wallAsUtc({ ...w, hour: 0, minute: 0, second: 0 }) + n * DAY);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: 0, minute: 0, second: 0 };
}

/** 1 = Monday … 7 = Sunday. */
function isoWeekday(w: Wall): number {
  const d = new Date(wallAsUtc({ ...w, hour: 0, minute: 0, second: 0 })).getUTCDay();
  return d === 0 ? 7 : d;
}

/** Start of the local calendar unit (day/week/month) holding instant t. */
export function startOf(tz: string, unit: 'day' | 'week' | 'month', t: Date | number): Date {
  const w = wallOf(tz, t);
  let date: Wall = { ...w, hour: 0, minute: 0, second: 0 };
  if (unit === 'week') date = addDays(date, 1 - isoWeekday(date));
  if (unit === 'month') date = { ...date, day: 1 };
  return wallToInstant(tz, date);
}

/** Start of the next local day/week/month after the one holding t. */
export function startOfNext(tz: string, unit: 'day' | 'week' | 'month', t: Date | number): Date {
  const start = wallOf(tz, startOf(tz, unit, t));
  let next: Wall;
  if (unit === 'day') next = addDays(start, 1);
  else if (unit === 'week') next = addDays(start, 7);
  else next = start.month === 12 ? { ...start, year: start.year + 1, month: 1, day: 1 } : { ...start, month: start.month + 1, day: 1 };
  return wallToInstant(tz, { ...next, hour: 0, minute: 0, second: 0 });
}

/** Local hour start holding t: the latest instant ≤ t whose local minute and second are 0. */
export function startOfHour(tz: string, t: Date | number): Date {
  const ms = typeof t === 'number' ? t : t.getTime();
  const w = wallOf(tz, ms);
  return new Date(Math.floor(ms / 1000) * 1000 - (w.minute * MINUTE + w.second * 1000));
}

/** Next local hour start strictly after t (offset changes are whole quarter hours or more). */
export function startOfNextHour(tz: string, t: Date | number): Date {
  const start = startOfHour(tz, t).getTime();
  // Candidates: +1h in absolute time, unless the offset changed within it (a 30-minute DST step).
  let c = start + HOUR;
  const back = startOfHour(tz, c - 1).getTime();
  if (back > start) c = back;
  return new Date(c);
}

export function windowStart(tz: string, unit: Exclude<WindowUnit, 'none'>, t: Date | number): Date {
  return unit === 'hour' ? startOfHour(tz, t) : startOf(tz, unit, t);
}

export function nextWindowStart(tz: string, unit: Exclude<WindowUnit, 'none'>, t: Date | number): Date {
  return unit === 'hour' ? startOfNextHour(tz, t) : startOfNext(tz, unit, t);
}

export interface Window {
  start: Date;
  end: Date;
}

export class TooManyWindowsError extends Error {}

/** At most this many report windows per query (usage, export, meters): more is a 400 naming `window`. */
export const MAX_WINDOWS = 10_000;

/**
 * The report windows covering [from, to) in a zone, clipped to the range: the first starts at
 * `from`, the last ends at `to`, every boundary in between is a local unit start.
 */
export function windowsOf(tz: string, unit: WindowUnit, from: Date, to: Date, max = MAX_WINDOWS): Window[] {
  if (!(from.getTime() < to.getTime())) return [];
  if (unit === 'none') return [{ start: from, end: to }];
  const out: Window[] = [];
  let start = from.getTime();
  while (start < to.getTime()) {
    const next = nextWindowStart(tz, unit, start).getTime();
    const end = Math.min(next, to.getTime());
    out.push({ start: new Date(start), end: new Date(end) });
    if (out.length > max) throw new TooManyWindowsError(`the range holds more than ${max} ${unit} windows`);
    start = end;
  }
  return out;
}

const pad = (n: number, w = 2) => String(Math.abs(n)).padStart(w, '0');

/** RFC 3339 with the zone's offset at that instant, e.g. 2026-03-02T00:00:00+05:30 (Z for UTC). */
export function formatInZone(tz: string, t: Date | number): string {
  const ms = typeof t === 'number' ? t : t.getTime();
  const w = wallOf(tz, ms);
  const off = offsetMs(tz, ms);
  const frac = ms % 1000 === 0 ? '' : '.' + pad(((ms % 1000) + 1000) % 1000, 3);
  const sign = off < 0 ? '-' : '+';
  const offMin = Math.abs(off) / MINUTE;
  const offStr = off === 0 && tz.toUpperCase() === 'UTC' ? 'Z' : `${sign}${pad(Math.floor(offMin / 60))}:${pad(Math.floor(offMin % 60))}`;
  const year = w.year >= 0 && w.year <= 9999 ? pad(w.year, 4) : String(w.year);
  return `${year}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}${frac}${offStr}`;
}

export const ceilTo = (t: number, step: number) => Math.ceil(t / step) * step;

// RFC 3339: date, 'T' (or 't' / space is not allowed here), time, optional fraction, Z or ±hh:mm.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-](\d{2}):(\d{2}))$/;

export function parseRfc3339(s: string): Date | undefined {
  const m = RFC3339.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, se, frac, z, oh, om] = m;
  const year = Number(y), month = Number(mo), day = Number(d), hour = Number(h), minute = Number(mi);
  let second = Number(se);
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 60) return undefined;
  if (oh !== undefined && (Number(oh) > 23 || Number(om) > 59)) return undefined;
  const dim = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > dim) return undefined;
  if (second === 60) second = 59; // a leap second is held at :59, as JavaScript time has none
  // Sub-millisecond digits are dropped: JavaScript and the stored epoch-ms carry milliseconds.
  const ms = frac ? Math.floor(Number(frac.slice(1, 4).padEnd(3, '0'))) : 0;
  const offsetMin = z === 'Z' || z === 'z' ? 0 : (z![0] === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om));
  const t = Date.UTC(year, month - 1, day, hour, minute, second, ms) - offsetMin * 60_000;
  if (year < 100) return new Date(new Date(t).setUTCFullYear(year)); // Date.UTC maps 0–99 to 19xx
  return new Date(t);
}
