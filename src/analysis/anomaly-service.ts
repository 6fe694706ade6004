import type { Db } from '../shared/db/index.ts';
import type { Signals } from '../shared/signals.ts';
import { DAY, formatInZone, startOf, startOfHour, type Window } from '../shared/time.ts';
import type { Binding, RollupService, UsageRow } from '../rollups/service.ts';
import type { Dim } from '../rollups/cubes.ts';
import { detect, drivers as driversOf, firstNonZero, DEFAULT_DETECT, type Driver } from './anomalies.ts';
import { seriesOf, valueOf, type Measure } from './series.ts';
import { anomalyId, claimUnsignalled, upsertAnomalies, type StoredAnomaly } from './store.ts';

/** Dimensions whose values may explain an anomaly. */
export const DRIVER_DIMS: Dim[] = ['team', 'model', 'provider', 'feature', 'subject'];

/** Smallest excess worth a signal (and, by default, a listing), per measure: cents don't page anyone. */
export const DEFAULT_MIN_IMPACT: Record<Measure, number> = { cost: 1, tokens: 100_000, requests: 100 };
/** Smallest robust spread, so an (almost) always-zero series does not flag its first few calls. */
const SCALE_FLOOR: Record<Measure, number> = { cost: 0.01, tokens: 1_000, requests: 5 };

export interface ScanParams {
  measure: Measure;
  window: 'hour' | 'day';
  groupBy: Dim | null;
  from: Date;
  to: Date;
  tz: string;
  minImpact?: number;
  threshold?: number;
  /** Drivers are worked out for the largest anomalies only (each costs a few small queries). */
  maxDrivers?: number;
}

export interface AnomalyDeps {
  db: Db;
  rollups: Pick<RollupService, 'usage' | 'ranges'>;
  signals?: Signals;
}

const fmt = (m: Measure, v: number) => (m === 'cost' ? v.toFixed(6) : String(Math.round(v)));

/**
 * Scans [from, to) for anomalous windows (baselines from up to 8 weeks before `from`), works out
 * the drivers of the largest, stores them, and signals `anomaly` once for each new one whose excess
 * reaches the minimum impact. Returns the stored rows, newest window first.
 */
export async function scanAnomalies(deps: AnomalyDeps, p: ScanParams, now: Date, bind?: Binding): Promise<StoredAnomaly[]> {
  const period = p.window === 'hour' ? 168 : 7;
  const histFrom = p.window === 'hour' ? startOfHour(p.tz, p.from.getTime() - DEFAULT_DETECT.samples * 7 * DAY) : startOf(p.tz, 'day', p.from.getTime() - DEFAULT_DETECT.samples * 7 * DAY);
  const { windows, groups, total } = await seriesOf(deps.rollups, { from: histFrom, to: p.to, tz: p.tz, window: p.window, groupBy: p.groupBy ? [p.groupBy] : [], measure: p.measure }, bind);
  const fromIndex = windows.findIndex((w) => w.start.getTime() >= p.from.getTime());
  if (fromIndex < 0) return [];
  const minImpact = p.minImpact ?? DEFAULT_MIN_IMPACT[p.measure];
  const found = (p.groupBy ? groups : [total]).flatMap((g) =>
    detect(g.values, period, fromIndex, { minImpact, threshold: p.threshold, floor: SCALE_FLOOR[p.measure] }).map((d) => ({ ...d, group: g.group, first: firstNonZero(g.values) })),
  );
  found.sort((a, b) => b.actual - b.expected - (a.actual - a.expected));

  const records = [];
  for (const [rank, d] of found.entries()) {
    const target = windows[d.index]!;
    const base: Window[] = [];
    for (let j = d.index - period; j >= d.first && base.length < DEFAULT_DETECT.samples; j -= period) base.push(windows[j]!);
    const ds = rank < (p.maxDrivers ?? 20) ? await driversFor(deps.rollups, p, d.group, [target, ...base], d.actual - d.expected, bind) : [];
    records.push({
      id: anomalyId(p.measure, p.window, p.groupBy ?? '', d.group, target.start, { ...bind }),
      measure: p.measure,
      window_unit: p.window,
      group_by: p.groupBy ?? '',
      group_value: d.group,
      window_start: target.start,
      window_end: target.end,
      actual: fmt(p.measure, d.actual),
      expected: fmt(p.measure, d.expected),
      score: Math.round(d.score * 100) / 100,
      drivers: ds.map((x) => ({ dimension: x.dimension, value: x.value, share: Math.round(x.share * 1000) / 1000, excess: fmt(p.measure, x.excess) })),
    });
  }
  const stored = await upsertAnomalies(deps.db, records, now);
  // Signal each new anomaly once (claimed in the database, so one process does it).
  const fresh = stored.filter((a) => !a.signalled_at && !a.dismissed_at);
  const claimed = await claimUnsignalled(deps.db, fresh.map((a) => a.id), now);
  for (const a of fresh) {
    if (!claimed.has(a.id)) continue;
    deps.signals?.publish({
      type: 'anomaly',
      anomaly_id: a.id,
      measure: a.measure,
      window_start: formatInZone(p.tz, a.window_start),
      group: Object.fromEntries(Object.entries(a.group_value).map(([k, v]) => [k, v ?? ''])),
      actual: a.actual,
      expected: a.expected,
      score: a.score,
      occurred_at: now.toISOString(),
    });
    a.signalled_at = now;
  }
  return stored.sort((a, b) => b.window_start.getTime() - a.window_start.getTime() || b.score - a.score);
}

/** Each other dimension's values in the anomalous window against their own same-slot baselines. */
async function driversFor(
  rollups: Pick<RollupService, 'ranges'>,
  p: ScanParams,
  group: Record<string, string | null>,
  windows: Window[],
  excess: number,
  bind?: Binding,
): Promise<Driver[]> {
  const inputs = [];
  for (const dim of DRIVER_DIMS.filter((d) => d !== p.groupBy)) {
    // Narrowed to the anomaly's group in the query when its value is not null (null is no filter value).
    const value = p.groupBy ? (group[p.groupBy] ?? null) : null;
    const filters = p.groupBy && value !== null ? { [p.groupBy]: [value] } : {};
    const rows = await rollups.ranges(windows, p.groupBy ? [p.groupBy, dim] : [dim], bind, p.tz, filters);
    const byValue = new Map<string | null, number[]>();
    for (const r of rows) {
      if (p.groupBy && (r.dims[p.groupBy] ?? null) !== value) continue;
      const v = r.dims[dim] ?? null;
      let a = byValue.get(v);
      if (!a) byValue.set(v, (a = new Array<number>(windows.length).fill(0)));
      a[r.w]! += valueOf(r as unknown as UsageRow, p.measure);
    }
    for (const [value, a] of byValue) inputs.push({ dimension: dim, value, actual: a[0]!, baseline: a.slice(1) });
  }
  return driversOf(inputs, excess, 3);
}
