import type { Db, Queryable } from '../shared/db/index.ts';
import { QUARTER_HOUR, isUtc, startOf, startOfNext, wallToInstant } from '../shared/time.ts';
import { CUBES, ZONE_GRAINS, decomposeSigned, queryGrains, type SignedPiece } from './cubes.ts';
import { rollupStore, type RollupStore } from './store.ts';
import { claimPending, deleteGrains, getSetting, lastFineBucketBefore, llmSpan, lockRollups, putSetting, zoneDayStarts } from './maintenance-store.ts';

/**
 * The report zone: which zone's day and month grains the cubes hold (init), and which buckets a
 * window is read from (piecesOf). Every path that writes or reads zone grains waits for init()
 * (which the server also calls at start): folding before the zone is known would leave zone
 * buckets short.
 */

export interface ZoneInit {
  zone: string | null;
  rebuilt: boolean;
  since: string | null;
  refused?: string;
}

/** What the rollups' modules share: the store cut for the zone the cubes hold, once init() has checked it. */
export interface RollupState {
  db: Db;
  /** The configured report zone (config `tz`). */
  configured: string | undefined;
  /** The zone whose grains the cubes hold; null until init() has checked it (and for UTC). */
  zone: string | null;
  /** Zone grains are complete from here (epoch ms); before it queries read UTC buckets. */
  zoneSince: number;
  store: RollupStore;
  ready: Promise<ZoneInit> | null;
}

export function rollupState(db: Db, configured: string | undefined): RollupState {
  return { db, configured, zone: null, zoneSince: -Infinity, store: rollupStore(db, null), ready: null };
}

/** The years zoneDisagreement checks; report-zone buckets answer only inside them. */
const ZONE_CHECKED: readonly [number, number] = [Date.UTC(2000, 0, 1), Date.UTC(2041, 0, 1)];

/**
 * Report-zone buckets are cut by PostgreSQL (its tz database) and read back by windows cut in JS
 * (Intl's). For every local day 2000–2040 the bucket PostgreSQL labels it with must fall inside
 * the day as JS bounds it, and JS's day start must lie on the 15-minute grid. (Where midnight
 * repeats in a fall-back, PostgreSQL labels the day with the later midnight and JS starts it at
 * the earlier one: the label differs, the events in the day do not.) A zone failing this gets no
 * zone grains; its queries read UTC buckets, exactly as before.
 */
export async function zoneDisagreement(q: Queryable, zone: string): Promise<string | null> {
  const rows = await zoneDayStarts(q, zone);
  const jsStart = (d: string) => {
    const [y, m, day] = d.split('-').map(Number) as [number, number, number];
    return wallToInstant(zone, { year: y, month: m, day, hour: 0, minute: 0, second: 0 }).getTime();
  };
  let start = jsStart(rows[0]!.d);
  for (let i = 0; i + 1 < rows.length; i++) {
    const row = rows[i]!;
    const next = jsStart(rows[i + 1]!.d);
    const pg = new Date(row.t).getTime();
    if (start % QUARTER_HOUR !== 0) return `${zone}: ${row.d} starts off the 15-minute grid`;
    if (pg < start || pg >= next) return `${zone}: the database puts ${row.d} at ${new Date(pg).toISOString()}, outside the day as Node's time zone data bounds it`;
    start = next;
  }
  return null;
}

/** Runs initZone once; a failure (the database down) is retried by the next caller, not remembered forever. */
export function init(st: RollupState): Promise<ZoneInit> {
  if (!st.ready) {
    st.ready = initZone(st);
    st.ready.catch(() => {
      st.ready = null;
    });
  }
  return st.ready;
}

/**
 * Makes the report-zone grains match the configured zone. When the zone changed (or is new),
 * folds what is pending, drops the old zone's rows and rebuilds the new zone's from the raw
 * events still stored.
 */
async function initZone(st: RollupState): Promise<ZoneInit> {
  const want = st.configured && !isUtc(st.configured) ? st.configured : null;
  const got = await getSetting(st.db, 'report_zone');
  if ((got || null) === want) {
    st.zone = want;
    st.store = rollupStore(st.db, want);
    const since = await getSetting(st.db, 'zone_since');
    st.zoneSince = since ? new Date(since).getTime() : -Infinity;
    return { zone: want, rebuilt: false, since };
  }
  const refused = want ? await zoneDisagreement(st.db, want) : null;
  const next = refused ? null : want;
  const nextStore = rollupStore(st.db, next);
  const since = await st.db.transaction(async (tx) => {
    await lockRollups(tx);
    // Pending batches are folded with the new zone's grains; the old zone's rows go.
    await nextStore.fold(tx, await claimPending(tx, null));
    await deleteGrains(tx, ZONE_GRAINS);
    const sinceIso = next ? await buildZone(tx, nextStore, next) : null;
    await putSetting(tx, 'report_zone', next ?? '');
    await putSetting(tx, 'zone_since', sinceIso ?? '');
    return sinceIso;
  });
  st.zone = next;
  st.store = nextStore;
  st.zoneSince = since ? new Date(since).getTime() : -Infinity;
  return { zone: next, rebuilt: true, since, ...(refused ? { refused } : {}) };
}

/** Builds `zone`'s grains from the raw events still stored; returns the first complete zone day (ISO), or null. */
async function buildZone(tx: Queryable, store: RollupStore, zone: string): Promise<string | null> {
  const { lo, hi } = await llmSpan(tx);
  // Only the zone grains: the UTC ones may hold events retention has since deleted.
  if (lo !== null && hi !== null) await store.rebuild(tx, new Date(lo), new Date(hi + 1), { only: 'zone' });
  // Rollups older than the oldest raw event mean retention deleted raw events: zone days are
  // complete only from the first one that starts at or after the oldest raw event (or, with no
  // raw events left, after the newest rollup).
  const b = await lastFineBucketBefore(tx, lo === null ? null : Math.floor(lo / QUARTER_HOUR) * QUARTER_HOUR);
  if (b === null) return null;
  const from = lo ?? b + QUARTER_HOUR;
  const since = startOf(zone, 'day', from).getTime() === from ? from : startOfNext(zone, 'day', from).getTime();
  return new Date(since).toISOString();
}

/**
 * A window's buckets: in the report zone, its own day and month buckets from the day they are
 * complete (zoneSince) and within the years zoneDisagreement checked (ZONE_CHECKED), UTC ones
 * (plus 15-minute edges, exact in any zone) outside; in any other zone, UTC ones. Outside the
 * checked years a zone may have off-grid days (Kiritimati was −10:40 until 1979), and walking
 * its days over centuries cost one Intl call per step (a 1970–9999 query took 90 s).
 */
export function piecesOf(st: RollupState, cube: (typeof CUBES)[number], tz: string, start: number, end: number): SignedPiece[] {
  const { zone } = st;
  const utc = queryGrains(cube, 'UTC', zone);
  if (zone === null || tz !== zone) return decomposeSigned(start, end, utc);
  const clamp = (t: number) => Math.min(Math.max(t, start), end);
  const a = clamp(Math.max(st.zoneSince, ZONE_CHECKED[0]));
  const b = Math.max(a, clamp(ZONE_CHECKED[1]));
  return [
    ...(a > start ? decomposeSigned(start, a, utc) : []),
    ...(b > a ? decomposeSigned(a, b, queryGrains(cube, tz, zone), zone) : []),
    ...(end > b ? decomposeSigned(b, end, utc) : []),
  ];
}
