import type { Queryable } from '../shared/db/index.ts';
import type { EngineState } from './engine.ts';

/** SQL of the stored usage snapshots (migrations/0016_quota_usage_snapshots.sql). */

export interface StoredSnapshot {
  entitlement_id: string;
  /** The state is the engine's just before this instant (an hour boundary). */
  at: Date;
  grants_key: string;
  state: EngineState;
  /** Metered usage in [start, at) the state consumed. */
  usage_before: string;
  avg: string | null;
  avg_at: Date | null;
}

const date = (v: unknown) => (v === null || v === undefined ? null : v instanceof Date ? v : new Date(v as string));

function rowOf(r: any): StoredSnapshot {
  const state = typeof r.state === 'string' ? JSON.parse(r.state) : r.state;
  return {
    entitlement_id: r.entitlement_id,
    at: date(r.at)!,
    grants_key: r.grants_key,
    state: { ...state, at: date(r.at)! },
    usage_before: String(r.usage_before),
    avg: r.avg === null ? null : String(r.avg),
    avg_at: date(r.avg_at),
  };
}

export function usageSnapshotStore(db: Queryable, opts: { asyncCommit?: boolean } = {}) {
  const commit = opts.asyncCommit ? 'off' : 'on';
  return {
    async get(entitlementId: string): Promise<StoredSnapshot | null> {
      const r = await db.query(
        `SELECT entitlement_id, at, grants_key, state, usage_before::text AS usage_before, avg::text AS avg, avg_at FROM quota_usage_snapshots WHERE entitlement_id = $1`,
        [entitlementId],
        { prepare: 'quota_usage_snapshot' },
      );
      return r.rows[0] ? rowOf(r.rows[0]) : null;
    },
    /**
     * Stores a snapshot unless a later one is there. Two processes may race: each writes a state
     * that was valid when computed; one that a late event made stale is caught by the next
     * read's usage_before check, so the race costs at most a rebuild.
     */
    async put(s: StoredSnapshot, now: Date): Promise<void> {
      const { at: _at, ...state } = s.state;
      await db.query(
        `INSERT INTO quota_usage_snapshots (entitlement_id, at, grants_key, state, usage_before, avg, avg_at, built_at)
         SELECT $1, $2, $3, $4::jsonb, $5::numeric, $6::numeric, $7, $8 WHERE set_config('synchronous_commit', $9, true) IS NOT NULL
         ON CONFLICT (entitlement_id) DO UPDATE SET at = EXCLUDED.at, grants_key = EXCLUDED.grants_key, state = EXCLUDED.state, usage_before = EXCLUDED.usage_before,
           avg = EXCLUDED.avg, avg_at = EXCLUDED.avg_at, built_at = EXCLUDED.built_at
         WHERE quota_usage_snapshots.at <= EXCLUDED.at`,
        [s.entitlement_id, s.at, s.grants_key, JSON.stringify(state), s.usage_before, s.avg, s.avg_at, now, commit],
        { prepare: 'quota_usage_snapshot_put' },
      );
    },
  };
}

export type UsageSnapshotStore = ReturnType<typeof usageSnapshotStore>;
