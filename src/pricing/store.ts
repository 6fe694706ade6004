import type { Queryable } from '../shared/db/index.ts';
import type { EventRow, StoredEvent } from '../events/types.ts';
import type { DiscountRow, OverrideRow } from './engine.ts';
import type { PriceSpec } from './types.ts';
import type { RawCatalog } from './catalog/index.ts';

/**
 * Pricing's SQL: its own tables (price_overrides, price_discounts) and two read-only queries on
 * the events table for reprice paging and the unpriced list. (The events domain owns `events`;
 * these reads use only its documented pricing columns and indexes — moving them into
 * src/events/store.ts is a mechanical change if that rule is enforced strictly.)
 */

const n = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const s = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);

export interface PricingStore {
  listOverrides(): Promise<OverrideRow[]>;
  insertOverride(row: OverrideRow & { created_by?: string | null }): Promise<OverrideRow>;
  listDiscounts(): Promise<DiscountRow[]>;
  insertDiscount(row: DiscountRow & { created_by?: string | null }): Promise<DiscountRow>;
  /** llm.usage events in [from, to) after `afterSeq`, ascending by seq; only unpriced ones unless `all`. */
  pageEvents(q: { from: Date; to: Date; all: boolean; afterSeq: string; limit: number }): Promise<StoredEvent[]>;
  countEvents(q: { from: Date; to: Date; all: boolean }): Promise<number>;
  unpricedSummary(q: { from?: Date; to?: Date; team?: string | null; limit: number }): Promise<UnpricedGroup[]>;
  /** Stored catalog versions, oldest first; `withCatalog: false` leaves out the (large) catalog itself. */
  listCatalogs(opts?: { withCatalog?: boolean }): Promise<StoredCatalog[]>;
  insertCatalog(row: Omit<StoredCatalog, 'id' | 'created_at'>): Promise<StoredCatalog>;
}

export interface StoredCatalog {
  id: string;
  label: string;
  effective_from: Date;
  format: string;
  source: Record<string, unknown>;
  catalog: RawCatalog | null;
  summary: Record<string, unknown> | null;
  created_at: Date;
  created_by: string | null;
}

function toCatalog(r: Record<string, unknown>): StoredCatalog {
  return {
    id: String(r.id),
    label: String(r.label),
    effective_from: new Date(r.effective_from as string),
    format: String(r.format),
    source: json(r.source) as Record<string, unknown>,
    catalog: r.catalog === undefined ? null : (json(r.catalog) as RawCatalog),
    summary: (json(r.summary) as Record<string, unknown> | null) ?? null,
    created_at: new Date(r.created_at as string),
    created_by: s(r.created_by),
  };
}

export interface UnpricedGroup {
  provider: string | null;
  model: string | null;
  region: string | null;
  events: number;
  input_tokens: number;
  output_tokens: number;
  first_seen: Date;
  last_seen: Date;
}

function toOverride(r: Record<string, unknown>): OverrideRow {
  return {
    id: String(r.id),
    provider: String(r.provider),
    region: String(r.region),
    model: String(r.model),
    spec: json(r.prices) as PriceSpec,
    effective_from: new Date(r.effective_from as string),
    origin: 'api',
    note: s(r.note),
  };
}

function toDiscount(r: Record<string, unknown>): DiscountRow {
  return {
    id: String(r.id),
    provider: s(r.provider),
    team: s(r.team),
    percent: String(r.percent),
    effective_from: new Date(r.effective_from as string),
    origin: 'api',
    note: s(r.note),
  };
}

const EVENT_COLUMNS = `seq, source, id, type, subject, time, data, provider, model, region, team, project, api_key, feature,
  input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost, cost_source, computed_cost, price, unpriced, estimated`;

function toEvent(r: Record<string, unknown>): StoredEvent {
  const row: EventRow & { seq: string } = {
    seq: String(r.seq),
    source: String(r.source),
    id: String(r.id),
    type: String(r.type),
    subject: s(r.subject),
    time: new Date(r.time as string),
    data: json(r.data) as Record<string, unknown>,
    provider: s(r.provider),
    model: s(r.model),
    region: s(r.region),
    team: s(r.team),
    project: s(r.project),
    api_key: s(r.api_key),
    feature: s(r.feature),
    input_tokens: n(r.input_tokens),
    output_tokens: n(r.output_tokens),
    cache_read_tokens: n(r.cache_read_tokens),
    cache_write_tokens: n(r.cache_write_tokens),
    reasoning_tokens: n(r.reasoning_tokens),
    cost: s(r.cost),
    cost_source: s(r.cost_source) as EventRow['cost_source'],
    computed_cost: s(r.computed_cost),
    price: json(r.price) as EventRow['price'],
    unpriced: r.unpriced === true,
    estimated: r.estimated === true,
  };
  return row;
}

export function pricingStore(db: Queryable): PricingStore {
  return {
    async listOverrides() {
      const r = await db.query<Record<string, unknown>>('SELECT * FROM price_overrides ORDER BY provider, region, model, effective_from');
      return r.rows.map(toOverride);
    },
    async insertOverride(row) {
      const r = await db.query<Record<string, unknown>>(
        `INSERT INTO price_overrides (provider, region, model, prices, effective_from, note, created_by)
         VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)
         ON CONFLICT (provider, region, model, effective_from)
         DO UPDATE SET prices = EXCLUDED.prices, note = EXCLUDED.note, created_by = EXCLUDED.created_by, created_at = now()
         RETURNING *`,
        [row.provider, row.region, row.model, JSON.stringify(row.spec), row.effective_from.toISOString(), row.note ?? null, row.created_by ?? null],
      );
      return toOverride(r.rows[0]!);
    },
    async listDiscounts() {
      const r = await db.query<Record<string, unknown>>('SELECT * FROM price_discounts ORDER BY effective_from, id');
      return r.rows.map(toDiscount);
    },
    async insertDiscount(row) {
      const r = await db.query<Record<string, unknown>>(
        `INSERT INTO price_discounts (provider, team, percent, effective_from, note, created_by)
         VALUES ($1, $2, $3::numeric, $4, $5, $6)
         ON CONFLICT (coalesce(provider, ''), coalesce(team, ''), effective_from)
         DO UPDATE SET percent = EXCLUDED.percent, note = EXCLUDED.note, created_by = EXCLUDED.created_by, created_at = now()
         RETURNING *`,
        [row.provider, row.team, row.percent, row.effective_from.toISOString(), row.note ?? null, row.created_by ?? null],
      );
      return toDiscount(r.rows[0]!);
    },
    async pageEvents(q) {
      const r = await db.query<Record<string, unknown>>(
        `SELECT ${EVENT_COLUMNS} FROM events
         WHERE type = 'llm.usage' AND time >= $1 AND time < $2 AND seq > $3::bigint ${q.all ? '' : 'AND unpriced'}
         ORDER BY seq LIMIT $4`,
        [q.from.toISOString(), q.to.toISOString(), q.afterSeq, q.limit],
      );
      return r.rows.map(toEvent);
    },
    async countEvents(q) {
      const r = await db.query<{ n: unknown }>(
        `SELECT count(*) AS n FROM events WHERE type = 'llm.usage' AND time >= $1 AND time < $2 ${q.all ? '' : 'AND unpriced'}`,
        [q.from.toISOString(), q.to.toISOString()],
      );
      return Number(r.rows[0]!.n);
    },
    async listCatalogs(opts = {}) {
      const cols = `id, label, effective_from, format, source, summary, created_at, created_by${opts.withCatalog === false ? '' : ', catalog'}`;
      const r = await db.query<Record<string, unknown>>(`SELECT ${cols} FROM price_catalogs ORDER BY effective_from, id`);
      return r.rows.map(toCatalog);
    },
    async insertCatalog(row) {
      const r = await db.query<Record<string, unknown>>(
        `INSERT INTO price_catalogs (label, effective_from, format, source, catalog, summary, created_by)
         VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6::jsonb, $7)
         RETURNING id, label, effective_from, format, source, summary, created_at, created_by`,
        [row.label, row.effective_from.toISOString(), row.format, JSON.stringify(row.source), JSON.stringify(row.catalog), row.summary ? JSON.stringify(row.summary) : null, row.created_by],
      );
      return toCatalog(r.rows[0]!);
    },
    async unpricedSummary(q) {
      const p: unknown[] = [];
      const where = ['unpriced'];
      if (q.from) where.push(`time >= $${p.push(q.from.toISOString())}`);
      if (q.to) where.push(`time < $${p.push(q.to.toISOString())}`);
      if (q.team) where.push(`team = $${p.push(q.team)}`);
      const r = await db.query<Record<string, unknown>>(
        `SELECT provider, model, region, count(*) AS events, coalesce(sum(input_tokens), 0) AS input_tokens,
                coalesce(sum(output_tokens), 0) AS output_tokens, min(time) AS first_seen, max(time) AS last_seen
         FROM events WHERE ${where.join(' AND ')}
         GROUP BY provider, model, region ORDER BY count(*) DESC, provider, model LIMIT $${p.push(q.limit)}`,
        p,
      );
      return r.rows.map((x) => ({
        provider: s(x.provider),
        model: s(x.model),
        region: s(x.region),
        events: Number(x.events),
        input_tokens: Number(x.input_tokens),
        output_tokens: Number(x.output_tokens),
        first_seen: new Date(x.first_seen as string),
        last_seen: new Date(x.last_seen as string),
      }));
    },
  };
}
