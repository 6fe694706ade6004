import type { Queryable } from '../shared/db/index.ts';

/** SQL of reservations and slices (quota_reservations; `quota_entitlements.reserved`). */

const iso = (v: unknown) => (v instanceof Date ? v : new Date(v as string));

/**
 * `asyncCommit`: the reservation statements (reserve, settle, release, sweep) commit with
 * `synchronous_commit = off`, set for their own transaction only (set_config(…, true)): they do
 * not wait for the WAL flush (~1–3 ms of fsync here, more under load). What it risks, and only
 * on a PostgreSQL crash: the last ≤ 3 × wal_writer_delay (600 ms by default) of these commits may
 * be lost — see docs/quotas.md for why that stays bounded. Usage events are never committed so.
 */
export function reservationStore(db: Queryable, opts: { asyncCommit?: boolean } = {}) {
  const commit = opts.asyncCommit ? 'off' : 'on';
  return { ...takeSql(db, commit), ...endSql(db, commit) };
}

/** Takes room: a reservation, a slice or more of one; the reserved figure. */
function takeSql(db: Queryable, commit: string) {
  return {
    /**
     * Takes `amount` of room in one entitlement, or nothing: the row's `reserved` grows only while
     * reserved + amount stays within `room` (= block × available − metered usage). An UPDATE's
     * WHERE is re-checked on the locked row after any concurrent writer commits, so two processes
     * can never both take the last room (the check and the increment are one step).
     */
    async reserve(r: { id: string; entitlement_id: string; amount: string; room: string; now: Date; expires_at: Date }): Promise<{ ok: boolean; reserved: string }> {
      const res = await db.query<{ reserved: string }>(
        `WITH e AS (
           UPDATE quota_entitlements SET reserved = reserved + $3::numeric
            WHERE id = $2 AND reserved < $4::numeric AND reserved + $3::numeric <= $4::numeric AND set_config('synchronous_commit', $7, true) IS NOT NULL
            RETURNING reserved)
         INSERT INTO quota_reservations (id, entitlement_id, amount, state, created_at, expires_at)
         SELECT $1, $2, $3::numeric, 'open', $5, $6 FROM e
         RETURNING (SELECT reserved FROM e)::text AS reserved`,
        [r.id, r.entitlement_id, r.amount, r.room, r.now, r.expires_at, commit],
        { prepare: 'quota_reserve' },
      );
      if (res.rows[0]) return { ok: true, reserved: res.rows[0].reserved };
      return { ok: false, reserved: await this.reserved(r.entitlement_id) };
    },
    /**
     * A process's slice of room (slices.ts): one reservation row like any other, sized in the
     * statement from the newest `reserved` — max(min, min(fraction × what is left, max)) — and
     * taken only while reserved + min stays within `room`. The row is locked first (FOR UPDATE
     * waits for concurrent writers and returns the newest version) so the size and the increment
     * read the same figure.
     */
    async takeSlice(r: { id: string; entitlement_id: string; min: string; fraction: string; max: string; room: string; now: Date; expires_at: Date }): Promise<{ ok: boolean; size: string; reserved: string }> {
      const res = await db.query<{ size: string; reserved: string }>(
        `WITH o AS (SELECT id, reserved FROM quota_entitlements WHERE id = $2 FOR UPDATE),
         z AS (SELECT o.id, GREATEST($3::numeric, LEAST(($4::numeric - o.reserved) * $5::numeric, $6::numeric)) AS size FROM o
                WHERE o.reserved < $4::numeric AND o.reserved + $3::numeric <= $4::numeric),
         e AS (UPDATE quota_entitlements q SET reserved = q.reserved + z.size FROM z
                WHERE q.id = z.id AND set_config('synchronous_commit', $9, true) IS NOT NULL RETURNING q.reserved, z.size)
         INSERT INTO quota_reservations (id, entitlement_id, amount, state, created_at, expires_at)
         SELECT $1, $2, e.size, 'open', $7, $8 FROM e
         RETURNING amount::text AS size, (SELECT reserved FROM e)::text AS reserved`,
        [r.id, r.entitlement_id, r.min, r.room, r.fraction, r.max, r.now, r.expires_at, commit],
        { prepare: 'quota_take_slice' },
      );
      if (res.rows[0]) return { ok: true, size: res.rows[0].size, reserved: res.rows[0].reserved };
      return { ok: false, size: '0', reserved: await this.reserved(r.entitlement_id) };
    },
    /**
     * Grows an open slice by max(min, min(fraction × what is left, max)) under the same rule as
     * takeSlice. Locks the reservation row before the entitlement row, like settle and sweep, so
     * the three never deadlock; `gone` when the slice is no longer open (expired by its ttl).
     */
    async growSlice(r: { id: string; entitlement_id: string; min: string; fraction: string; max: string; room: string }): Promise<{ ok: boolean; gone: boolean; size: string; reserved: string }> {
      const res = await db.query<{ size: string | null; reserved: string | null; open: boolean }>(
        `WITH s AS (SELECT id, entitlement_id FROM quota_reservations WHERE id = $1 AND entitlement_id = $2 AND state = 'open' FOR UPDATE),
         o AS (SELECT q.id, q.reserved FROM quota_entitlements q, s WHERE q.id = s.entitlement_id FOR UPDATE OF q),
         z AS (SELECT o.id, GREATEST($3::numeric, LEAST(($4::numeric - o.reserved) * $5::numeric, $6::numeric)) AS size FROM o
                WHERE o.reserved < $4::numeric AND o.reserved + $3::numeric <= $4::numeric),
         e AS (UPDATE quota_entitlements q SET reserved = q.reserved + z.size FROM z
                WHERE q.id = z.id AND set_config('synchronous_commit', $7, true) IS NOT NULL RETURNING q.reserved, z.size),
         g AS (UPDATE quota_reservations r SET amount = r.amount + e.size FROM e, s WHERE r.id = s.id AND r.entitlement_id = s.entitlement_id RETURNING r.id)
         SELECT (SELECT size FROM e)::text AS size, (SELECT reserved FROM e)::text AS reserved, EXISTS (SELECT 1 FROM s) AS open, (SELECT count(*) FROM g) AS grown`,
        [r.id, r.entitlement_id, r.min, r.room, r.fraction, r.max, commit],
        { prepare: 'quota_grow_slice' },
      );
      const row = res.rows[0]!;
      if (row.size !== null) return { ok: true, gone: false, size: row.size, reserved: row.reserved! };
      return { ok: false, gone: !row.open, size: '0', reserved: await this.reserved(r.entitlement_id) };
    },
    async reserved(entitlementId: string): Promise<string> {
      const r = await db.query<{ reserved: string }>(`SELECT reserved::text AS reserved FROM quota_entitlements WHERE id = $1`, [entitlementId], { prepare: 'quota_reserved' });
      return r.rows[0]?.reserved ?? '0';
    },
  };
}

/** Ends reservations and slices: settle, release, the ttl sweep; counts. */
function endSql(db: Queryable, commit: string) {
  return {
    /** Gives back `amount` of an open slice's room at once (a retired slice's unused part, while its calls still run). */
    async shrinkSlice(id: string, amount: string): Promise<number> {
      const r = await db.query(
        `WITH s AS (SELECT id, entitlement_id FROM quota_reservations WHERE id = $1 AND state = 'open' AND amount >= $2::numeric FOR UPDATE),
         r AS (UPDATE quota_reservations q SET amount = q.amount - $2::numeric FROM s WHERE q.id = s.id AND q.entitlement_id = s.entitlement_id RETURNING q.entitlement_id)
         UPDATE quota_entitlements e SET reserved = e.reserved - $2::numeric FROM r WHERE e.id = r.entitlement_id AND set_config('synchronous_commit', $3, true) IS NOT NULL RETURNING e.id`,
        [id, amount, commit],
        { prepare: 'quota_shrink_slice' },
      );
      return r.rowCount;
    },
    /**
     * Settles every row of a reservation to its actual amounts: the estimate stops counting, the
     * actual counts until `hold_until` (its usage is then metered). A reservation that expired
     * first is settled too (its actual still has to count); one settled or released is left as is.
     */
    async settle(id: string, actuals: Map<string, string> | ((entitlementId: string) => string), now: Date, holdUntil: Date): Promise<number> {
      const rows = await db.query<{ entitlement_id: string }>(`SELECT entitlement_id FROM quota_reservations WHERE id = $1 AND state IN ('open', 'expired')`, [id]);
      let n = 0;
      for (const { entitlement_id } of rows.rows) {
        const actual = typeof actuals === 'function' ? actuals(entitlement_id) : (actuals.get(entitlement_id) ?? '0');
        const r = await db.query(
          `WITH old AS (
             SELECT id, entitlement_id, amount, state FROM quota_reservations
              WHERE id = $1 AND entitlement_id = $2 AND state IN ('open', 'expired') FOR UPDATE),
           r AS (
             UPDATE quota_reservations q SET state = 'settled', actual = $3::numeric, settled_at = $4, hold_until = $5
               FROM old WHERE q.id = old.id AND q.entitlement_id = old.entitlement_id
             RETURNING old.entitlement_id, CASE WHEN old.state = 'open' THEN old.amount ELSE 0 END AS counted)
           UPDATE quota_entitlements e SET reserved = e.reserved - r.counted + $3::numeric FROM r WHERE e.id = r.entitlement_id AND set_config('synchronous_commit', $6, true) IS NOT NULL RETURNING e.id`,
          [id, entitlement_id, actual, now, holdUntil, commit],
          { prepare: 'quota_settle' },
        );
        n += r.rowCount;
      }
      return n;
    },
    /** Gives an open reservation's room back at once (failed or cancelled call). */
    async release(id: string, now: Date): Promise<number> {
      const r = await db.query(
        `WITH r AS (
           UPDATE quota_reservations SET state = 'released', settled_at = $2 WHERE id = $1 AND state = 'open' RETURNING entitlement_id, amount)
         UPDATE quota_entitlements e SET reserved = e.reserved - r.amount FROM r WHERE e.id = r.entitlement_id AND set_config('synchronous_commit', $3, true) IS NOT NULL RETURNING e.id`,
        [id, now, commit],
        { prepare: 'quota_release' },
      );
      return r.rowCount;
    },
    async reservation(id: string): Promise<Array<{ entitlement_id: string; amount: string; actual: string | null; state: string; expires_at: Date }>> {
      const r = await db.query<any>(`SELECT entitlement_id, amount::text, actual::text, state, expires_at FROM quota_reservations WHERE id = $1`, [id]);
      return r.rows.map((x) => ({ ...x, expires_at: iso(x.expires_at)! }));
    },
    /**
     * Expires open reservations past their ttl and ends the hold of settled ones, in one
     * statement (each row changes state once however many processes sweep), and forgets closed
     * rows older than `forgetBefore`. Returns how many expired and how many holds ended.
     */
    async sweep(now: Date, forgetBefore: Date): Promise<{ expired: number; done: number; touched: string[] }> {
      const r = await db.query<{ id: string; expired: string; done: string }>(
        `WITH x AS (
           UPDATE quota_reservations SET state = CASE WHEN state = 'open' THEN 'expired' ELSE 'done' END
            WHERE (state = 'open' AND expires_at <= $1) OR (state = 'settled' AND hold_until <= $1)
            RETURNING entitlement_id, state, CASE WHEN state = 'expired' THEN amount ELSE actual END AS counted),
         s AS (SELECT entitlement_id, sum(counted) AS c, count(*) FILTER (WHERE state = 'expired') AS expired, count(*) FILTER (WHERE state = 'done') AS done FROM x GROUP BY entitlement_id)
         UPDATE quota_entitlements e SET reserved = e.reserved - s.c FROM s WHERE e.id = s.entitlement_id AND set_config('synchronous_commit', $2, true) IS NOT NULL
         RETURNING e.id, s.expired::text AS expired, s.done::text AS done`,
        [now, commit],
      );
      await db.query(`DELETE FROM quota_reservations WHERE state IN ('released', 'expired', 'done') AND created_at < $1`, [forgetBefore]);
      let expired = 0;
      let done = 0;
      for (const row of r.rows) {
        expired += Number(row.expired);
        done += Number(row.done);
      }
      return { expired, done, touched: r.rows.map((x) => x.id) };
    },
    async openReservations(): Promise<number> {
      const r = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM quota_reservations WHERE state = 'open'`);
      return Number(r.rows[0]!.n);
    },
  };
}
