import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { addDays, parseYmd, rfc3339, startOfDay, today, ymdString, type Ymd } from './time.ts';
import type { Query } from './api/client.ts';

/** The global filter bar's state; lives in the URL hash (`#/usage?range=30d&tz=…`) so a view can be shared. */
export interface Filters {
  range: '7d' | '30d' | '90d' | 'mtd' | 'custom';
  from?: string; // YYYY-MM-DD, custom range, inclusive
  to?: string; // YYYY-MM-DD, custom range, inclusive
  tz: string;
  team?: string;
  provider?: string;
  model?: string;
}

export interface Route {
  page: string;
  params: Record<string, string>;
}

export function parseHash(hash: string, defaultTz: string): { route: Route; filters: Filters } {
  const [path, qs] = hash.replace(/^#\/?/, '').split('?');
  const q = new URLSearchParams(qs ?? '');
  const params: Record<string, string> = {};
  for (const [k, v] of q) params[k] = v;
  const range = (['7d', '30d', '90d', 'mtd', 'custom'] as const).find((r) => r === q.get('range')) ?? '30d';
  return {
    route: { page: path || 'overview', params },
    filters: { range, from: q.get('from') ?? undefined, to: q.get('to') ?? undefined, tz: q.get('tz') || defaultTz, team: q.get('team') ?? undefined, provider: q.get('provider') ?? undefined, model: q.get('model') ?? undefined },
  };
}

const FILTER_KEYS = ['range', 'from', 'to', 'tz', 'team', 'provider', 'model'] as const;

export function toHash(page: string, f: Filters, extra: Record<string, string | undefined> = {}): string {
  const q = new URLSearchParams();
  for (const k of FILTER_KEYS) {
    const v = f[k];
    if (v && !(k === 'range' && v === '30d')) q.set(k, v);
  }
  for (const [k, v] of Object.entries(extra)) if (v) q.set(k, v);
  const s = q.toString();
  return `#/${page}${s ? `?${s}` : ''}`;
}

export interface Range {
  fromDay: Ymd;
  /** Inclusive last day. */
  toDay: Ymd;
  from: string;
  to: string;
  /** Start of today in the zone, when the range includes today (the live slice). */
  todayStart?: string;
  days: number;
}

/** The filter's days in its zone → the API's [from, to) as RFC 3339 with the zone's offset. */
export function rangeOf(f: Filters, now = Date.now()): Range {
  const t = today(f.tz, now);
  let fromDay: Ymd;
  let toDay: Ymd = t;
  if (f.range === 'custom' && f.from && f.to && parseYmd(f.from) && parseYmd(f.to)) {
    fromDay = parseYmd(f.from)!;
    toDay = parseYmd(f.to)!;
  } else if (f.range === 'mtd') fromDay = { ...t, d: 1 };
  else fromDay = addDays(t, -(f.range === '7d' ? 7 : f.range === '90d' ? 90 : 30) + 1);
  const fromMs = startOfDay(f.tz, fromDay);
  const toMs = startOfDay(f.tz, addDays(toDay, 1));
  const todayMs = startOfDay(f.tz, t);
  const includesToday = todayMs >= fromMs && todayMs < toMs;
  return {
    fromDay,
    toDay,
    from: rfc3339(f.tz, fromMs),
    to: rfc3339(f.tz, toMs),
    todayStart: includesToday ? rfc3339(f.tz, todayMs) : undefined,
    days: Math.round((toMs - fromMs) / 86_400_000),
  };
}

/** filter[…] query parameters for the active team / provider / model. */
export function filterQuery(f: Filters): Query {
  return { 'filter[team]': f.team, 'filter[provider]': f.provider, 'filter[model]': f.model };
}
export const hasDimFilter = (f: Filters) => Boolean(f.team || f.provider || f.model);

interface Ctx {
  route: Route;
  filters: Filters;
  range: Range;
  setFilters(p: Partial<Filters>): void;
  go(page: string, extra?: Record<string, string | undefined>): void;
}
const FiltersContext = createContext<Ctx | null>(null);

export function FiltersProvider({ defaultTz, children }: { defaultTz: string; children: ReactNode }) {
  const [hash, setHash] = useState(() => window.location.hash);
  useEffect(() => {
    const on = () => setHash(window.location.hash);
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  const value = useMemo<Ctx>(() => {
    const { route, filters } = parseHash(hash, defaultTz);
    const pageExtras = Object.fromEntries(Object.entries(route.params).filter(([k]) => !(FILTER_KEYS as readonly string[]).includes(k)));
    return {
      route,
      filters,
      range: rangeOf(filters),
      setFilters(p) {
        window.location.hash = toHash(route.page, { ...filters, ...p }, pageExtras);
      },
      go(page, extra = {}) {
        window.location.hash = toHash(page, filters, extra);
      },
    };
  }, [hash, defaultTz]);
  return <FiltersContext.Provider value={value}>{children}</FiltersContext.Provider>;
}

export function useFilters(): Ctx {
  const c = useContext(FiltersContext);
  if (!c) throw new Error('useFilters outside FiltersProvider');
  return c;
}

export { ymdString };
