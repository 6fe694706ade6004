import type { Queryable } from '../shared/db/index.ts';
import { COLUMNS } from './store.ts';
import type { EventRow } from './types.ts';

/**
 * The events store's archive seam, used by retention (src/jobs): read a day of raw events in full,
 * delete exactly the archived rows (their keys move to event_tombstones so dedup stays forever),
 * and restore archived rows. Restore writes rows as they were (same seq, cost, price) and runs no
 * ingest hooks: rollups, meters and quotas counted them when they first arrived.
 */

/**
 * Every stored column of an event, as it travels in an archive line: the stored row's fields with
 * instants as RFC 3339 strings and counts as decimal strings (exact past 2^53), plus seq and
 * received_at.
 */
export type ArchivedEvent = {
  [K in keyof EventRow]: EventRow[K] extends Date ? string : EventRow[K] extends number | null ? string | null : EventRow[K];
} & { seq: string; received_at: string };

// The stored columns in the ingest order, plus the two ingest assigns itself.
const COLS: Array<[keyof ArchivedEvent, string]> = [['seq', 'bigint'], ...COLUMNS.slice(0, 5), ['received_at', 'timestamptz'], ...COLUMNS.slice(5)];

const SELECT_COLS = COLS.map(([c, t]) =>
  t === 'timestamptz' ? `to_char(${c} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ${c}` : t === 'bigint' || t === 'numeric' ? `${c}::text AS ${c}` : c,
).join(', ');

export interface ArchiveDay {
  type: string;
  /** UTC date YYYY-MM-DD. */
  day: string;
  rows: number;
}

export interface EventArchiveStore {
  /** (type, UTC day) pairs with events older than `before`, oldest first. */
  daysBefore(before: Date, types?: { only?: string[]; except?: string[] }): Promise<ArchiveDay[]>;
  /** One page of a type's events on a UTC day, in seq order after `afterSeq`. */
  page(type: string, day: string, before: Date, afterSeq: string, limit: number): Promise<ArchivedEvent[]>;
  /** Deletes exactly these rows and tombstones their keys, in the caller's transaction. */
  deleteArchived(tx: Queryable, seqs: string[], at: Date): Promise<number>;
  /** Puts archived rows back (same columns and seq) and lifts their tombstones; returns how many were inserted. */
  restoreRows(tx: Queryable, rows: ArchivedEvent[]): Promise<number>;
}

export function eventArchiveStore(db: Queryable): EventArchiveStore {
  return {
    async daysBefore(before, types = {}) {
      const p: unknown[] = [before.toISOString()];
      const where: string[] = ['time < $1'];
      if (types.only) {
        p.push(types.only);
        where.push(`type = ANY($${p.length}::text[])`);
      }
      if (types.except?.length) {
        p.push(types.except);
        where.push(`NOT (type = ANY($${p.length}::text[]))`);
      }
      const r = await db.query<{ type: string; day: string; rows: string }>(
        `SELECT type, to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*)::text AS rows
         FROM events WHERE ${where.join(' AND ')} GROUP BY 1, 2 ORDER BY 2, 1`,
        p,
      );
      return r.rows.map((x) => ({ type: x.type, day: x.day, rows: Number(x.rows) }));
    },
    async page(type, day, before, afterSeq, limit) {
      const r = await db.query<ArchivedEvent>(
        `SELECT ${SELECT_COLS} FROM events
         WHERE type = $1 AND time >= ($2::date)::timestamp AT TIME ZONE 'UTC' AND time < (($2::date + 1)::timestamp AT TIME ZONE 'UTC')
           AND time < $3 AND seq > $4::bigint
         ORDER BY seq LIMIT $5`,
        [type, day, before.toISOString(), afterSeq, limit],
      );
      return r.rows.map((x) => ({ ...x, seq: String(x.seq) }));
    },
    async deleteArchived(tx, seqs, at) {
      let n = 0;
      for (let i = 0; i < seqs.length; i += 10_000) {
        const r = await tx.query<{ n: string }>(
          `WITH d AS (DELETE FROM events WHERE seq = ANY($1::bigint[]) RETURNING source, id),
                t AS (INSERT INTO event_tombstones (source, id, deleted_at) SELECT source, id, $2 FROM d ON CONFLICT DO NOTHING)
           SELECT count(*)::text AS n FROM d`,
          [seqs.slice(i, i + 10_000), at.toISOString()],
        );
        n += Number(r.rows[0]?.n ?? 0);
      }
      return n;
    },
    async restoreRows(tx, rows) {
      if (!rows.length) return 0;
      const json = JSON.stringify(rows.map((r) => Object.fromEntries(COLS.map(([c]) => [c, r[c] ?? null]))));
      const ins = await tx.query<{ source: string; id: string }>(
        `INSERT INTO events (${COLS.map(([c]) => c).join(', ')})
         SELECT ${COLS.map(([c]) => c).join(', ')} FROM json_to_recordset($1::json) AS r(${COLS.map(([c, t]) => `${c} ${t}`).join(', ')})
         ON CONFLICT DO NOTHING RETURNING source, id`,
        [json],
      );
      await tx.query(
        `DELETE FROM event_tombstones t USING json_to_recordset($1::json) AS r(source text, id text) WHERE t.source = r.source AND t.id = r.id`,
        [JSON.stringify(rows.map((r) => ({ source: r.source, id: r.id })))],
      );
      return ins.rows.length;
    },
  };
}
