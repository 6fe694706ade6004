/** Zone-exact day arithmetic in the browser (Intl only): the API takes RFC 3339 with the zone's offset. */

const fmtCache = new Map<string, Intl.DateTimeFormat>();
function fmt(tz: string) {
  let f = fmtCache.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    fmtCache.set(tz, f);
  }
  return f;
}

export interface Ymd {
  y: number;
  m: number;
  d: number;
}

/** The zone's wall clock at a UTC instant. */
export function wallClock(tz: string, ms: number) {
  const parts = Object.fromEntries(fmt(tz).formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  return { y: +parts.year!, m: +parts.month!, d: +parts.day!, h: +parts.hour!, min: +parts.minute!, s: +parts.second! };
}

/** Offset of the zone from UTC at an instant, in minutes (+330 for Asia/Kolkata). */
export function offsetMinutes(tz: string, ms: number): number {
  const w = wallClock(tz, ms);
  const asUtc = Date.UTC(w.y, w.m - 1, w.d, w.h, w.min, w.s);
  return Math.round((asUtc - Math.floor(ms / 1000) * 1000) / 60000);
}

/** The UTC instant of 00:00 on a calendar day in the zone (the first instant of that day, across DST). */
export function startOfDay(tz: string, day: Ymd): number {
  const guess = Date.UTC(day.y, day.m - 1, day.d);
  let t = guess - offsetMinutes(tz, guess) * 60000;
  t = guess - offsetMinutes(tz, t) * 60000;
  return t;
}

export function today(tz: string, now = Date.now()): Ymd {
  const w = wallClock(tz, now);
  return { y: w.y, m: w.m, d: w.d };
}

export function addDays(day: Ymd, n: number): Ymd {
  const t = new Date(Date.UTC(day.y, day.m - 1, day.d + n));
  return { y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: t.getUTCDate() };
}

export const ymdString = (d: Ymd) => `${d.y}-${String(d.m).padStart(2, '0')}-${String(d.d).padStart(2, '0')}`;
export function parseYmd(s: string): Ymd | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  return m ? { y: +m[1]!, m: +m[2]!, d: +m[3]! } : undefined;
}

/** RFC 3339 with the zone's offset, e.g. 2026-03-02T00:00:00+05:30. */
export function rfc3339(tz: string, ms: number): string {
  const off = offsetMinutes(tz, ms);
  const w = wallClock(tz, ms);
  const p = (n: number) => String(n).padStart(2, '0');
  const sign = off < 0 ? '-' : '+';
  const a = Math.abs(off);
  return `${w.y}-${p(w.m)}-${p(w.d)}T${p(w.h)}:${p(w.min)}:${p(w.s)}${sign}${p(Math.floor(a / 60))}:${p(a % 60)}`;
}

export function isValidZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
