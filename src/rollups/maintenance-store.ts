import type { Queryable } from '../shared/db/index.ts';
import { CUBES, type Grain } from './cubes.ts';

/**
 * SQL of the rollups' bookkeeping: the pending queue (migrations/0008), the settings table (export
 * key, report zone, pruning horizons), tier pruning and the raw-event spans the zone build and
 * pruning read. The cubes' own SQL (fold, deltas, rebuild, query) is in store.ts.
 */

/** Serialises drains, reprice deltas, rebuilds and pruning across processes (transaction-scoped). */
const ROLLUP_LOCK = 7_401_003;

export async function lockRollups(tx: Queryable): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1)', [ROLLUP_LOCK]);
}

/** Takes the oldest `limit` queued batches (every one when null) off the queue; returns their seqs. */
export async function claimPending(tx: Queryable, limit: number | null): Promise<string[]> {
  const r = await tx.query<{ seqs: Array<string | number> }>(
    limit === null
      ? 'DELETE FROM rollup_pending RETURNING seqs'
      : 'DELETE FROM rollup_pending WHERE id IN (SELECT id FROM rollup_pending ORDER BY id LIMIT $1) RETURNING seqs',
    limit === null ? [] : [limit],
  );
  return r.rows.flatMap((x) => x.seqs.map(String));
}

export async function anyPending(q: Queryable): Promise<boolean> {
  return (await q.query('SELECT 1 FROM rollup_pending LIMIT 1')).rows.length > 0;
}

/** The backlog: queued batches and the events in them (the `tollgate_rollup_pending` gauge). */
export async function pendingBacklog(q: Queryable): Promise<{ batches: number; events: number }> {
  const r = await q.query<{ batches: string | number; events: string | number | null }>(
    'SELECT count(*) AS batches, sum(cardinality(seqs)) AS events FROM rollup_pending',
  );
  return { batches: Number(r.rows[0]!.batches), events: Number(r.rows[0]!.events ?? 0) };
}

/** Which of these seqs are still queued (reprice skips them: the drain reads their new cost). */
export async function stillPending(tx: Queryable, seqs: string[]): Promise<Set<string>> {
  const r = await tx.query<{ s: string }>('SELECT s::text AS s FROM rollup_pending, unnest(seqs) AS s WHERE s = ANY($1::bigint[])', [seqs]);
  return new Set(r.rows.map((x) => x.s));
}

/** Retention horizons (epoch ms, −∞ when nothing was dropped) and whether batches wait to be folded, in one round trip. */
export async function queryState(q: Queryable): Promise<{ fine: number; day: number; pending: boolean }> {
  const r = await q.query<{ pending: boolean; fine: string | null; day: string | null }>(
    `SELECT EXISTS (SELECT 1 FROM rollup_pending) AS pending,
       (SELECT value FROM rollup_settings WHERE key = 'fine_pruned_before') AS fine,
       (SELECT value FROM rollup_settings WHERE key = 'day_pruned_before') AS day`,
  );
  const row = r.rows[0]!;
  const at = (v: string | null) => (v ? new Date(v).getTime() : -Infinity);
  return { fine: at(row.fine), day: at(row.day), pending: row.pending };
}

/** The oldest and newest stored llm.usage event times (epoch ms), or nulls when there are none. */
export async function llmSpan(q: Queryable): Promise<{ lo: number | null; hi: number | null }> {
  const r = await q.query<{ lo: Date | string | null; hi: Date | string | null }>("SELECT min(time) AS lo, max(time) AS hi FROM events WHERE type = 'llm.usage'");
  const at = (v: Date | string | null) => (v === null ? null : new Date(v).getTime());
  return { lo: at(r.rows[0]!.lo), hi: at(r.rows[0]!.hi) };
}

/** The newest 15-minute bucket before `before` (every bucket when null) in the smallest cube, or null. */
export async function lastFineBucketBefore(q: Queryable, before: number | null): Promise<number | null> {
  const r = await q.query<{ b: Date | string | null }>(
    `SELECT max(bucket) AS b FROM ${CUBES[0]!.table} WHERE grain = 1 AND ($1::timestamptz IS NULL OR bucket < $1)`,
    [before === null ? null : new Date(before).toISOString()],
  );
  const b = r.rows[0]!.b;
  return b === null ? null : new Date(b).getTime();
}

/** Drops these grains' rows from every cube (the old report zone's). */
export async function deleteGrains(tx: Queryable, grains: readonly Grain[]): Promise<void> {
  for (const cube of CUBES) await tx.query(`DELETE FROM ${cube.table} WHERE grain = ANY($1::smallint[])`, [grains]);
}

/** Drops these grains' buckets before `before` from every cube; returns where the dropped buckets end (epoch ms), or null. */
export async function pruneGrains(tx: Queryable, grains: readonly Grain[], before: Date): Promise<number | null> {
  let droppedTo: number | null = null;
  for (const cube of CUBES) {
    const r = await tx.query<{ e: Date | string | null }>(
      `WITH d AS (DELETE FROM ${cube.table} WHERE grain = ANY($1::smallint[]) AND bucket < $2 RETURNING grain, bucket)
       SELECT max(bucket + CASE grain WHEN 1 THEN interval '15 minutes' WHEN 2 THEN interval '1 hour' WHEN 3 THEN interval '1 day' ELSE interval '25 hours' END) AS e FROM d`,
      [grains, before.toISOString()],
    );
    const e = r.rows[0]?.e;
    if (e !== null && e !== undefined) droppedTo = Math.max(droppedTo ?? -Infinity, new Date(e).getTime());
  }
  return droppedTo;
}

/** Records a pruning horizon; it only moves forward. */
export async function recordHorizon(tx: Queryable, key: 'fine_pruned_before' | 'day_pruned_before', at: number): Promise<void> {
  await tx.query(
    `INSERT INTO rollup_settings (key, value) VALUES ($1, $2)
     ON CONFLICT (key) DO UPDATE SET value = GREATEST(rollup_settings.value::timestamptz, EXCLUDED.value::timestamptz)::text`,
    [key, new Date(at).toISOString()],
  );
}

/** Each local day 2000–2040 as `YYYY-MM-DD` with the instant PostgreSQL starts it at in `zone` (zoneDisagreement). */
export async function zoneDayStarts(q: Queryable, zone: string): Promise<Array<{ d: string; t: Date | string }>> {
  const r = await q.query<{ d: string; t: Date | string }>(
    `SELECT to_char(d, 'YYYY-MM-DD') AS d, (d::timestamp AT TIME ZONE ${zoneLiteral(zone)}) AS t
     FROM generate_series(timestamp '2000-01-01', timestamp '2041-01-01', interval '1 day') AS d`,
  );
  return r.rows;
}

/** A zone name as an SQL literal (config validated it as an IANA zone; quotes doubled anyway). */
export const zoneLiteral = (zone: string) => `'${zone.replace(/'/g, "''")}'`;

export async function getSetting(db: Queryable, key: string): Promise<string | null> {
  const r = await db.query<{ value: string }>('SELECT value FROM rollup_settings WHERE key = $1', [key]);
  return r.rows[0]?.value || null;
}

export async function putSetting(db: Queryable, key: string, value: string): Promise<void> {
  await db.query('INSERT INTO rollup_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value', [key, value]);
}

/** Settings the rollups domain keeps (export anonymisation key, report zone). */
export async function getOrCreateSetting(db: Queryable, key: string, make: () => string): Promise<string> {
  await db.query('INSERT INTO rollup_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, make()]);
  const r = await db.query<{ value: string }>('SELECT value FROM rollup_settings WHERE key = $1', [key]);
  return r.rows[0]!.value;
}
