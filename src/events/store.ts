import type { Queryable } from '../shared/db/index.ts';
import type { CostChange, EventRow, StoredEvent } from './types.ts';
import { storableJson, storableString } from '../shared/strings.ts';

/** Column order shared by the bulk insert and the unnest() casts. */
export const COLUMNS: Array<[keyof EventRow, string]> = [
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

// The batch travels as one JSON parameter, parsed once as jsonb and unpacked with ->>: one round
// trip, one plan, any batch size. (json_to_recordset was 4x slower per row.) Times travel as epoch
// milliseconds. The JSON goes as bytes (bytea, decoded in the statement), not as a text parameter:
// node-postgres kept each batch's text parameter reachable across young-generation collections,
// so at 500 events/s every scavenge copied and promoted another ~0.35 MB of batch text on the
// gateway's event loop (docs/gateway.md). Bytes live outside the JS heap.
const extract = (c: string, t: string) =>
  c === 'time' ? `TIMESTAMPTZ 'epoch' + (e->>'time_ms')::bigint * INTERVAL '1 millisecond'` : t === 'jsonb' ? `e->'${c}'` : t === 'text' ? `e->>'${c}'` : `(e->>'${c}')::${t}`;
const INSERT_SQL = `
INSERT INTO events (${COLUMNS.map(([c]) => c).join(', ')}, received_at)
SELECT ${COLUMNS.map(([c, t]) => extract(c, t)).join(', ')}, $2::timestamptz
FROM jsonb_array_elements(convert_from($1::bytea, 'UTF8')::jsonb) e
WHERE NOT EXISTS (SELECT 1 FROM event_tombstones t WHERE t.source = e->>'source' AND t.id = e->>'id')
  AND (SELECT set_config('tollgate.ingest', $3, true)) IS NOT NULL
ON CONFLICT (source, id) DO NOTHING
RETURNING seq::text AS seq, source, id`;
// The last filter is uncorrelated: evaluated once, before any row is inserted. It tells the
// domains' triggers on `events` (migration 0018) that this is an ingest batch, stored 'alone' (its
// own transaction) or in a 'tx' whose inTransaction hooks follow (types.ts, IngestHooks).

function toRecord(row: EventRow): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [c] of COLUMNS) {
    const v = row[c];
    if (c === 'time') o.time_ms = (v as Date).getTime();
    else if (v !== null && v !== undefined) o[c] = v;
  }
  return o;
}

export interface EventStore {
  /**
   * Inserts rows whose (source, id) is new (and not tombstoned); returns the inserted ones with
   * their seq. `alone`: the statement is its own transaction (`q` is the database, not a
   * transaction); a domain's trigger may refuse it with NEEDS_TRANSACTION (types.ts).
   */
  insertNew(q: Queryable, rows: EventRow[], receivedAt: Date, mode: 'alone' | 'tx'): Promise<StoredEvent[]>;
  insertRejected(tx: Queryable, rows: RejectedInsert[], receivedAt: Date): Promise<void>;
  list(q: ListQuery): Promise<ListedEvent[]>;
  listRejected(q: { limit: number; before?: string; team?: string | null }): Promise<RejectedRow[]>;
  /**
   * Reprice: sets the pricing columns of stored events (by seq) and returns each row as it was and
   * as it is now, read under a row lock in the same statement. Call inside a transaction, then run
   * the inTransaction hooks with `{ kind: 'repriced', changes }`.
   */
  updateCosts(tx: Queryable, updates: CostUpdate[]): Promise<CostChange[]>;
}

export interface RejectedInsert {
  source: string | null;
  event_id: string | null;
  index: number;
  error: string;
  body: unknown;
}

export interface CostUpdate {
  seq: string;
  cost: string | null;
  cost_source: 'provider' | 'computed' | null;
  computed_cost: string | null;
  price: Record<string, unknown> | null;
  unpriced: boolean;
}

const UPDATE_COSTS_SQL = `
WITH u AS (
  SELECT * FROM json_to_recordset($1::json)
    AS u(seq bigint, cost numeric, cost_source text, computed_cost numeric, price jsonb, unpriced boolean)
), old AS (
  SELECT e.seq, e.cost, e.cost_source, e.computed_cost, e.price, e.unpriced
  FROM events e JOIN u ON u.seq = e.seq
  FOR UPDATE OF e
)
UPDATE events e
SET cost = u.cost, cost_source = u.cost_source, computed_cost = u.computed_cost, price = u.price, unpriced = u.unpriced
FROM u JOIN old ON old.seq = u.seq
WHERE e.seq = u.seq
RETURNING e.seq, e.source, e.id, e.type, e.subject, e.time, e.data, e.provider, e.model, e.region, e.team, e.project,
  e.api_key, e.feature, e.input_tokens, e.output_tokens, e.cache_read_tokens, e.cache_write_tokens, e.reasoning_tokens,
  e.estimated, e.cost, e.cost_source, e.computed_cost, e.price, e.unpriced,
  old.cost AS old_cost, old.cost_source AS old_cost_source, old.computed_cost AS old_computed_cost, old.price AS old_price, old.unpriced AS old_unpriced`;

const intOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

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

/** A row of UPDATE_COSTS_SQL as the event before and after the reprice. */
function costChangeOf(x: Record<string, unknown>): CostChange {
  const after: StoredEvent = {
    seq: String(x.seq),
    source: String(x.source),
    id: String(x.id),
    type: String(x.type),
    subject: strOrNull(x.subject),
    time: new Date(x.time as string | Date),
    data: (typeof x.data === 'string' ? JSON.parse(x.data) : x.data) as Record<string, unknown>,
    provider: strOrNull(x.provider),
    model: strOrNull(x.model),
    region: strOrNull(x.region),
    team: strOrNull(x.team),
    project: strOrNull(x.project),
    api_key: strOrNull(x.api_key),
    feature: strOrNull(x.feature),
    input_tokens: intOrNull(x.input_tokens),
    output_tokens: intOrNull(x.output_tokens),
    cache_read_tokens: intOrNull(x.cache_read_tokens),
    cache_write_tokens: intOrNull(x.cache_write_tokens),
    reasoning_tokens: intOrNull(x.reasoning_tokens),
    cost: strOrNull(x.cost),
    cost_source: strOrNull(x.cost_source) as StoredEvent['cost_source'],
    computed_cost: strOrNull(x.computed_cost),
    price: (typeof x.price === 'string' ? JSON.parse(x.price) : x.price) as StoredEvent['price'],
    unpriced: x.unpriced === true,
    estimated: x.estimated === true,
  };
  const before: StoredEvent = {
    ...after,
    cost: strOrNull(x.old_cost),
    cost_source: strOrNull(x.old_cost_source) as StoredEvent['cost_source'],
    computed_cost: strOrNull(x.old_computed_cost),
    price: (typeof x.old_price === 'string' ? JSON.parse(x.old_price) : x.old_price) as StoredEvent['price'],
    unpriced: x.old_unpriced === true,
  };
  return { before, after };
}

/** The list's WHERE terms and parameters; the limit is the last parameter. */
function listFilters(q: ListQuery): { where: string[]; params: unknown[] } {
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
  return { where, params: p };
}

/** rejected_events' columns as arrays, every string storable. */
function rejectedColumns(rows: RejectedInsert[]): unknown[] {
  return [
    rows.map((r) => (r.source === null ? null : storableString(r.source))),
    rows.map((r) => (r.event_id === null ? null : storableString(r.event_id))),
    rows.map((r) => r.index),
    rows.map((r) => storableString(r.error)),
    rows.map((r) => {
      // A rejected event may hold what the database cannot (NUL, lone surrogates, deep nesting): keep a storable copy.
      const s = JSON.stringify(storableJson(r.body ?? null)) ?? 'null';
      // Keep a huge rejected body from bloating the table; the reason is what matters.
      return s.length > 65_536 ? JSON.stringify({ truncated: true, prefix: storableString(s.slice(0, 4096)) }) : s;
    }),
  ];
}

export function eventStore(db: Queryable): EventStore {
  return {
    async insertNew(tx, rows, receivedAt, mode) {
      if (!rows.length) return [];
      const params: unknown[] = [Buffer.from(JSON.stringify(rows.map(toRecord))), receivedAt.toISOString(), mode];
      // Prepared once per connection: the statement is the same for every batch.
      const r = await tx.query<{ seq: string; source: string; id: string }>(INSERT_SQL, params, { prepare: 'events_insert' });
      const byKey = new Map(rows.map((row) => [row.source + '\u0000' + row.id, row]));
      return r.rows.map((x) => ({ ...byKey.get(x.source + '\u0000' + x.id)!, seq: String(x.seq) }));
    },
    async insertRejected(tx, rows, receivedAt) {
      if (!rows.length) return;
      await tx.query(
        `INSERT INTO rejected_events (received_at, source, event_id, batch_index, error, body)
         SELECT $1::timestamptz, s, e, ix, err, b::jsonb FROM unnest($2::text[], $3::text[], $4::int[], $5::text[], $6::text[]) AS t(s, e, ix, err, b)`,
        [receivedAt.toISOString(), ...rejectedColumns(rows)],
      );
    },
    async list(q) {
      const { where, params } = listFilters(q);
      const r = await db.query<ListedEvent>(
        `SELECT seq, source, id, type, subject, time, received_at, data, cost, cost_source, computed_cost, price, unpriced, estimated
         FROM events ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
         ORDER BY time DESC, seq DESC LIMIT $${params.length}`,
        params,
      );
      return r.rows;
    },
    async updateCosts(tx, updates) {
      if (!updates.length) return [];
      const r = await tx.query<Record<string, unknown>>(UPDATE_COSTS_SQL, [JSON.stringify(updates)]);
      return r.rows.map(costChangeOf);
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
