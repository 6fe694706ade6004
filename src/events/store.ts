import type { Queryable } from '../shared/db/index.ts';
import type { EventRow, StoredEvent } from './types.ts';

/** Column order shared by the bulk insert and the unnest() casts. */
const COLUMNS: Array<[keyof EventRow, string]> = [
  ['source', 'text'],
  ['id', 'text'],
  ['type', 'text'],
  ['subject', 'text'],
  ['time', 'timestamptz'],
  ['data', 'jsonb'],
  ['provider', 'text'],
  ['model', 'text'],
  ['region', 'text'],
  ['team', 'text'],
  ['project', 'text'],
  ['api_key', 'text'],
  ['feature', 'text'],
  ['input_tokens', 'bigint'],
  ['output_tokens', 'bigint'],
  ['cache_read_tokens', 'bigint'],
  ['cache_write_tokens', 'bigint'],
  ['reasoning_tokens', 'bigint'],
  ['cost', 'numeric'],
  ['cost_source', 'text'],
  ['computed_cost', 'numeric'],
  ['price', 'jsonb'],
  ['unpriced', 'boolean'],
  ['estimated', 'boolean'],
];

// Arrays travel as text[] and are cast per element: one round trip, one plan, any batch size.
const INSERT_SQL = `
WITH input AS (
  SELECT * FROM unnest(${COLUMNS.map((_, i) => `$${i + 1}::text[]`).join(', ')})
    AS t(${COLUMNS.map(([c]) => c).join(', ')})
)
INSERT INTO events (${COLUMNS.map(([c]) => c).join(', ')}, received_at)
SELECT ${COLUMNS.map(([c, t]) => (t === 'text' ? c : `${c}::${t}`)).join(', ')}, $${COLUMNS.length + 1}::timestamptz
FROM input i
WHERE NOT EXISTS (SELECT 1 FROM event_tombstones t WHERE t.source = i.source AND t.id = i.id)
ON CONFLICT (source, id) DO NOTHING
RETURNING seq, source, id`;

function cell(row: EventRow, col: keyof EventRow, type: string): string | null {
  const v = row[col];
  if (v === null || v === undefined) return null;
  if (type === 'jsonb') return JSON.stringify(v);
  if (v instanceof Date) return v.toISOString();
  return String(v);
}

export interface EventStore {
  /** Inserts rows whose (source, id) is new; returns the inserted ones with their seq. */
  insertNew(tx: Queryable, rows: EventRow[], receivedAt: Date): Promise<StoredEvent[]>;
  insertRejected(tx: Queryable, rows: Array<{ source: string | null; event_id: string | null; index: number; error: string; body: unknown }>, receivedAt: Date): Promise<void>;
  list(q: ListQuery): Promise<ListedEvent[]>;
  listRejected(q: { limit: number; before?: string; team?: string | null }): Promise<RejectedRow[]>;
}

export interface ListQuery {
  type?: string;
  subject?: string;
  source?: string;
  team?: string | null;
  from?: Date;
  to?: Date;
  limit: number;
  /** Keyset cursor: events strictly older than (time, seq). */
  after?: { time: Date; seq: string };
}

export interface ListedEvent {
  seq: string;
  source: string;
  id: string;
  type: string;
  subject: string | null;
  time: Date;
  received_at: Date;
  data: unknown;
  cost: string | null;
  cost_source: string | null;
  computed_cost: string | null;
  price: unknown;
  unpriced: boolean;
  estimated: boolean;
}

export interface RejectedRow {
  seq: string;
  received_at: Date;
  source: string | null;
  event_id: string | null;
  batch_index: number;
  error: string;
  body: unknown;
}

export function eventStore(db: Queryable): EventStore {
  return {
    async insertNew(tx, rows, receivedAt) {
      if (!rows.length) return [];
      const params: unknown[] = COLUMNS.map(([c, t]) => rows.map((r) => cell(r, c, t)));
      params.push(receivedAt.toISOString());
      const r = await tx.query<{ seq: string; source: string; id: string }>(INSERT_SQL, params);
      const byKey = new Map(rows.map((row) => [row.source + '\u0000' + row.id, row]));
      return r.rows.map((x) => ({ ...byKey.get(x.source + '\u0000' + x.id)!, seq: String(x.seq) }));
    },
    async insertRejected(tx, rows, receivedAt) {
      if (!rows.length) return;
      await tx.query(
        `INSERT INTO rejected_events (received_at, source, event_id, batch_index, error, body)
         SELECT $1::timestamptz, s, e, ix, err, b::jsonb FROM unnest($2::text[], $3::text[], $4::int[], $5::text[], $6::text[]) AS t(s, e, ix, err, b)`,
        [
          receivedAt.toISOString(),
          rows.map((r) => r.source),
          rows.map((r) => r.event_id),
          rows.map((r) => r.index),
          rows.map((r) => r.error),
          rows.map((r) => {
            const s = JSON.stringify(r.body ?? null) ?? 'null';
            // Keep a huge rejected body from bloating the table; the reason is what matters.
            return s.length > 65_536 ? JSON.stringify({ truncated: true, prefix: s.slice(0, 4096) }) : s;
          }),
        ],
      );
    },
    async list(q) {
      const where: string[] = [];
      const p: unknown[] = [];
      const add = (sql: string, v: unknown) => {
        p.push(v);
        where.push(sql.replace('?', `$${p.length}`));
      };
      if (q.type) add('type = ?', q.type);
      if (q.subject) add('subject = ?', q.subject);
      if (q.source) add('source = ?', q.source);
      if (q.team) add('team = ?', q.team);
      if (q.from) add('time >= ?', q.from);
      if (q.to) add('time < ?', q.to);
      if (q.after) {
        p.push(q.after.time, q.after.seq);
        where.push(`(time, seq) < ($${p.length - 1}::timestamptz, $${p.length}::bigint)`);
      }
      p.push(q.limit);
      const r = await db.query<ListedEvent>(
        `SELECT seq, source, id, type, subject, time, received_at, data, cost, cost_source, computed_cost, price, unpriced, estimated
         FROM events ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
         ORDER BY time DESC, seq DESC LIMIT $${p.length}`,
        p,
      );
      return r.rows;
    },
    async listRejected(q) {
      const p: unknown[] = [q.limit];
      const where: string[] = [];
      if (q.before) {
        p.push(q.before);
        where.push(`seq < $${p.length}::bigint`);
      }
      if (q.team) {
        p.push(q.team);
        where.push(`body->'data'->>'team' = $${p.length}`);
      }
      const r = await db.query<RejectedRow>(
        `SELECT seq, received_at, source, event_id, batch_index, error, body FROM rejected_events
         ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY seq DESC LIMIT $1`,
        p,
      );
      return r.rows;
    },
  };
}
