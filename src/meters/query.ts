import type { Queryable } from '../shared/db/index.ts';
import type { Binding, RollupService } from '../rollups/service.ts';
import { badRequest } from '../shared/errors.ts';
import { Money } from '../shared/money.ts';
import { formatInZone, windowsOf, TooManyWindowsError, type Window, type WindowUnit } from '../shared/time.ts';
import { isRollupMeter, meterGroups, type Meter } from './definitions.ts';
import { queryGeneric, type PartRow } from './store.ts';
import { sessionsFor } from './media-store.ts';
import { mediaValues, type MediaMeter } from './media.ts';
import { queryResource } from './resource-store.ts';
import { queryRollupMeter } from './llm-query.ts';

/** A meter query: checked against the meter's groups, cut into the zone's windows, answered by the meter's kind. */

export interface MeterQuery {
  from: Date;
  to: Date;
  window: WindowUnit;
  tz: string;
  groupBy: string[];
  filters: Record<string, string[]>;
  /** For avg meters: avg (default), min or max. */
  stat?: 'avg' | 'min' | 'max';
  /** The reading key's team/project/subject binding (the llm_* meters pass it on to the rollups). */
  bind?: Binding;
}

export interface MeterRow {
  window_start: string;
  window_end: string;
  /** A decimal string for every meter (an integer one for counts). */
  value: string;
  [group: string]: string | null;
}

/** Builds the row of window w (1-based) and a group. */
export type RowOf = (w: number, groups: Record<string, string | null>, value: string) => MeterRow;

export interface QueryDeps {
  db: Queryable;
  rollups: Pick<RollupService, 'usage'>;
  /** Epoch ms now (open media sessions count up to it). */
  now(): number;
  /** Media sessions count at most this long. */
  maxMs: number;
}

const GB = new Money('1e9');
const MINUTE_MS = new Money(60_000);

function checkQuery(m: Meter, q: MeterQuery): void {
  const allowed = meterGroups(m);
  const list = allowed.join(', ') || '(none)';
  for (const g of q.groupBy) if (!allowed.includes(g)) throw badRequest('INVALID_FIELD', `meter "${m.slug}" has no group "${g}"; groups: ${list}`, 'group_by');
  for (const f of Object.keys(q.filters)) if (!allowed.includes(f)) throw badRequest('INVALID_FIELD', `meter "${m.slug}" has no group "${f}" to filter on; groups: ${list}`, `filter[${f}]`);
  if (!(q.from.getTime() < q.to.getTime())) throw badRequest('INVALID_FIELD', 'from must be before to', 'from');
}

function windowsFor(q: MeterQuery): Window[] {
  try {
    return windowsOf(q.tz, q.window, q.from, q.to);
  } catch (e) {
    if (e instanceof TooManyWindowsError) throw badRequest('TOO_MANY_WINDOWS', `${e.message}; narrow from/to or use a coarser window`, 'window');
    throw e;
  }
}

export async function queryMeter(d: QueryDeps, m: Meter, q: MeterQuery): Promise<MeterRow[]> {
  checkQuery(m, q);
  const windows = windowsFor(q);
  const row: RowOf = (w, groups, value) => ({
    window_start: formatInZone(q.tz, windows[w - 1]!.start),
    window_end: formatInZone(q.tz, windows[w - 1]!.end),
    ...groups,
    value,
  });
  if (isRollupMeter(m)) return queryRollupMeter(d.db, d.rollups, m, q, windows, row);
  if (m.kind === 'media') return mediaRows(d, m, q, windows, row);
  const bounds = [...windows.map((w) => w.start), q.to];
  if (m.kind === 'resource') return resourceRows(d.db, m, q, windows.length, bounds, row);
  return genericRows(d.db, m, q, windows.length, bounds, row);
}

async function mediaRows(d: QueryDeps, m: Meter, q: MeterQuery, windows: Window[], row: RowOf): Promise<MeterRow[]> {
  const sessions = await sessionsFor(d.db, q.from, q.to, d.maxMs, q.filters);
  const vals = mediaValues(m.slug as MediaMeter, sessions, windows.map((w) => [w.start.getTime(), w.end.getTime()]), q.groupBy, { now: d.now(), maxMs: d.maxMs });
  const key = (g: Record<string, string | null>) => JSON.stringify(q.groupBy.map((n) => g[n]));
  vals.sort((a, b) => a.w - b.w || key(a.groups).localeCompare(key(b.groups)));
  return vals.map((v) => row(v.w, v.groups, m.slug === 'concurrent_participants' ? String(v.value) : new Money(v.value).div(MINUTE_MS).toDecimalPlaces(6).toFixed()));
}

/** avg (6 dp), min or max of a gauge. */
function gaugeValue(stat: MeterQuery['stat'], sum: string | null, n: number | string, min: string | null, max: string | null): string | null {
  if (stat === 'min') return min === null ? null : new Money(min).toFixed();
  if (stat === 'max') return max === null ? null : new Money(max).toFixed();
  return sum === null || Number(n) === 0 ? null : new Money(sum).div(n).toDecimalPlaces(6).toFixed();
}

async function resourceRows(db: Queryable, m: Meter, q: MeterQuery, nWindows: number, bounds: Date[], row: RowOf): Promise<MeterRow[]> {
  const byHost = q.groupBy.includes('host');
  const out: MeterRow[] = [];
  for (const p of await queryResource(db, q.from, q.to, bounds, byHost, q.filters.host)) {
    if (p.w < 1 || p.w > nWindows) continue;
    const groups: Record<string, string | null> = byHost ? { host: p.host } : {};
    let value: string | null;
    if (m.slug === 'traffic_gb') value = p.traffic === null ? null : new Money(p.traffic).div(GB).toFixed();
    else if (m.slug === 'cpu_percent') value = gaugeValue(q.stat, p.cpu_sum, p.cpu_n, p.cpu_min, p.cpu_max);
    else value = gaugeValue(q.stat, p.mem_sum, p.mem_n, p.mem_min, p.mem_max);
    if (value !== null) out.push(row(p.w, groups, value));
  }
  return out;
}

const fixed = (v: string | null) => (v === null ? null : new Money(v).toFixed());

/** A bucketed meter's value of one part, or null when it has none there. */
function genericValue(m: Meter, stat: MeterQuery['stat'], p: PartRow): string | null {
  switch (m.aggregation) {
    case 'count':
      return String(p.count);
    case 'unique_count':
      return String(p.distinct ?? 0);
    case 'sum':
      return fixed(p.sum);
    case 'min':
      return fixed(p.min);
    case 'max':
      return fixed(p.max);
    case 'latest':
      return fixed(p.latest);
    case 'avg':
      return gaugeValue(stat, p.sum, p.count, p.min, p.max);
  }
}

async function genericRows(db: Queryable, m: Meter, q: MeterQuery, nWindows: number, bounds: Date[], row: RowOf): Promise<MeterRow[]> {
  const out: MeterRow[] = [];
  for (const p of await queryGeneric(db, { meter: m, from: q.from, to: q.to, bounds, groupBy: q.groupBy, filters: q.filters })) {
    if (p.w < 1 || p.w > nWindows) continue;
    const value = genericValue(m, q.stat, p);
    if (value !== null) out.push(row(p.w, p.groups, value));
  }
  return out;
}
