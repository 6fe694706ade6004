import type { Db, Queryable } from '../shared/db/index.ts';
import type { Window, WindowUnit } from '../shared/time.ts';
import type { StoredChange } from '../events/types.ts';
import type { Binding as KeyBinding } from '../auth/keys.ts';
import type { Dim } from './cubes.ts';
import type { Measures, RollupStore } from './store.ts';
import { pendingBacklog } from './maintenance-store.ts';
import { drain, inTransaction, prune, rebuild } from './maintenance.ts';
import { rollupQueries } from './query.ts';
import { init, rollupState, type ZoneInit } from './zone.ts';

/**
 * The rollups service: the usage queries (query.ts), the cubes' maintenance (maintenance.ts) and
 * the report zone (zone.ts) over one shared state; their SQL is in store.ts and
 * maintenance-store.ts.
 */

/** What a bound key limits a read to (auth/binding.ts holds the rule). */
export type Binding = Partial<KeyBinding>;

export interface UsageParams {
  from: Date;
  to: Date;
  tz: string;
  window: WindowUnit;
  groupBy: Dim[];
  filters: Partial<Record<Dim, string[]>>;
}

export type { Measures } from './store.ts';

export type UsageRow = { window_start: string; window_end: string } & Partial<Record<Dim, string | null>> & Measures;

export type TopMeasure = 'cost' | 'tokens' | 'requests';

/** A row's value of the dimension(s) it is grouped by (null: events without it). */
export type DimValues = Partial<Record<Dim, string | null>>;

export interface RollupService {
  store: RollupStore;
  usage(p: UsageParams, bind?: Binding): Promise<{ rows: UsageRow[]; totals: Measures }>;
  /** The same rows as usage(), window chunk by window chunk (export streams these). */
  usageChunks(p: UsageParams, bind?: Binding): AsyncGenerator<UsageRow[]>;
  top(p: Omit<UsageParams, 'window' | 'groupBy'> & { by: Dim; measure: TopMeasure; limit: number }, bind?: Binding): Promise<Array<DimValues & Measures & { rank: number }>>;
  topSeries(
    p: Omit<UsageParams, 'groupBy'> & { by: Dim; measure: TopMeasure; limit: number },
    bind?: Binding,
  ): Promise<{ windows: Array<{ window_start: string; window_end: string }>; series: Array<DimValues & { rank: number; totals: Measures; points: Array<{ window_start: string; window_end: string } & Measures> }> }>;
  /** Sums of several independent ranges at once (summary cards), optionally grouped; `tz` is the zone they were cut in. */
  ranges(ranges: Window[], groupBy: Dim[], bind?: Binding, tz?: string, filters?: Partial<Record<Dim, string[]>>): Promise<Array<{ w: number; dims: Record<string, string | null> } & Measures>>;
  /**
   * At start: makes the report-zone grains match the configured zone. When the zone changed (or is
   * new), drops the old zone's rows and rebuilds the new zone's from the raw events still stored;
   * days before those are answered from UTC grains. Returns what it did, for the startup log.
   */
  init(): Promise<ZoneInit>;
  /** The backlog the drain has not folded yet (the `tollgate_rollup_pending` gauge). */
  pending(): Promise<{ batches: number; events: number }>;
  /** Folds every pending ingest batch into the cubes (queries call it first; a timer calls it too). */
  drain(): Promise<number>;
  /**
   * Retention of the rollup tiers: drops sub-day buckets (`hourly` days) and day buckets (`daily`
   * days) older than the horizon. Queries that would need a dropped bucket are refused, never
   * answered short.
   */
  prune(tiers: Record<string, number | null>, now: Date): Promise<{ fine_before: string | null; day_before: string | null }>;
  /** Recomputes the cubes over whole months covering [from, to) from raw events (backfill). */
  rebuild(from: Date, to: Date, opts?: { bulk?: boolean }): Promise<{ from: Date; to: Date }>;
  /**
   * The hook in events' transactions (`inTransaction`): applies reprice's old→new differences to
   * events already folded, in the caller's transaction. Ingest batches are queued for the fold by
   * the trigger of migration 0018, in the statement that stores them.
   */
  inTransaction(tx: Queryable, change: StoredChange): Promise<void>;
}

export interface RollupOptions {
  /** The deployment's report zone (config `tz`): day and month rollups are also kept in it. */
  zone?: string;
}

export function rollupService(db: Db, opts: RollupOptions = {}): RollupService {
  const st = rollupState(db, opts.zone);
  return {
    get store() {
      return st.store;
    },
    ...rollupQueries(st),
    init: () => init(st),
    drain: () => drain(st),
    pending: () => pendingBacklog(db),
    prune: (tiers, now) => prune(st, tiers, now),
    rebuild: (from, to, o) => rebuild(st, from, to, o),
    inTransaction: (tx, change) => inTransaction(st, tx, change),
  };
}

export { addMeasures, checkRange, reportWindows, zeroMeasures } from './query.ts';
export { zoneDisagreement } from './zone.ts';
/** The usage dimensions (re-exported for other domains, e.g. meters' group_by validation). */
export { DIMS } from './cubes.ts';
