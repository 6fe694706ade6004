import type { Queryable } from '../shared/db/index.ts';
import { REQUESTS_SQL } from '../rollups/cubes.ts';
import { compileMeter, type Meter, type MeterKind, type MeterOrigin, type Aggregation } from './definitions.ts';

/**
 * SQL of the meters domain for generic (event) meters: definitions and the 15-minute buckets.
 * Reads `events` only through these aggregate statements (the raw source of meter values); never
 * writes it.
 */

export const BUCKET_SQL = (col: string) => `date_bin('15 minutes', ${col}, TIMESTAMPTZ '2000-01-01 00:00:00+00')`;
/** Held shared by ingest while it updates buckets, exclusively while a meter is created and backfilled. */
export const METER_DEF_LOCK = 7_402_001;

interface MeterRow {
  slug: string;
  event_type: string;
  aggregation: string;
  value_property: string | null;
  group_by: Record<string, string> | string;
  description: string | null;
  origin: string;
  kind: string;
  created_at: Date | string;
}

/** The columns MeterRow reads, named (a prepared `SELECT *` fails once a migration adds a column). */
const METER_COLUMNS = 'slug, event_type, aggregation, value_property, group_by, description, origin, kind, created_at';

function toMeter(r: MeterRow): Meter {
  return {
    slug: r.slug,
    event_type: r.event_type,
    aggregation: r.aggregation as Aggregation,
    value_property: r.value_property,
    group_by: typeof r.group_by === 'string' ? JSON.parse(r.group_by) : r.group_by,
    description: r.description,
    origin: r.origin as MeterOrigin,
    kind: r.kind as MeterKind,
    created_at: new Date(r.created_at).toISOString(),
  };
}

export async function listMeters(q: Queryable): Promise<Meter[]> {
  const r = await q.query<MeterRow>(`SELECT ${METER_COLUMNS} FROM meters ORDER BY origin = 'builtin' DESC, slug`);
  return r.rows.map(toMeter);
}

/** The event meters that count these event types (the ingest hook's per-batch lookup). */
export async function eventMetersFor(q: Queryable, types: string[]): Promise<Meter[]> {
  const r = await q.query<MeterRow>(`SELECT ${METER_COLUMNS} FROM meters WHERE kind = 'events' AND event_type = ANY($1::text[]) ORDER BY slug`, [types], { prepare: 'meters_for_types' });
  return r.rows.map(toMeter);
}

export async function getMeter(q: Queryable, slug: string): Promise<Meter | undefined> {
  const r = await q.query<MeterRow>(`SELECT ${METER_COLUMNS} FROM meters WHERE slug = $1`, [slug]);
  return r.rows[0] ? toMeter(r.rows[0]) : undefined;
}

export async function insertMeter(q: Queryable, m: Meter, now: Date): Promise<boolean> {
  const r = await q.query(
    `INSERT INTO meters (slug, event_type, aggregation, value_property, group_by, description, origin, kind, created_at)
     VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9) ON CONFLICT (slug) DO NOTHING RETURNING slug`,
    [m.slug, m.event_type, m.aggregation, m.value_property, JSON.stringify(m.group_by), m.description, m.origin, m.kind, now.toISOString()],
  );
  return r.rows.length === 1;
}

/** Brings a stored built-in definition up to date (description, groups) when the code changed it. */
export async function refreshBuiltin(q: Queryable, m: Meter): Promise<void> {
  await q.query(
    `UPDATE meters SET event_type = $2, aggregation = $3, value_property = $4, group_by = $5::jsonb, description = $6
     WHERE slug = $1 AND origin = 'builtin'`,
    [m.slug, m.event_type, m.aggregation, m.value_property, JSON.stringify(m.group_by), m.description],
  );
}

/** Drops buckets a meter no longer keeps (the llm_* built-ins before they moved to the rollups). */
export async function dropBuckets(q: Queryable, slugs: string[]): Promise<void> {
  await q.query('DELETE FROM meter_buckets WHERE meter = ANY($1::text[])', [slugs]);
  await q.query('DELETE FROM meter_bucket_values WHERE meter = ANY($1::text[])', [slugs]);
}

export async function deleteMeter(q: Queryable, slug: string): Promise<void> {
  await q.query('DELETE FROM meters WHERE slug = $1', [slug]); // buckets cascade
}

/**
 * Adds the events matching `where` (SQL over alias e; params from $3) to the meter's buckets.
 * Ingest calls it with the inserted seqs; creation calls it over every stored event (backfill).
 */
export async function accumulate(q: Queryable, m: Meter, where: string, params: unknown[]): Promise<void> {
  const c = compileMeter(m);
  const src = `SELECT ${BUCKET_SQL('e.time')} AS b, ${c.groupKeySql} AS g, ${c.valueSql} AS v, e.time, e.seq
               FROM events e WHERE e.type = $2 AND (${where})`;
  if (m.aggregation === 'unique_count') {
    await q.query(
      `INSERT INTO meter_bucket_values (meter, bucket_start, group_key, value)
       SELECT DISTINCT $1, b, g, v FROM (${src}) x WHERE v IS NOT NULL
       ON CONFLICT DO NOTHING`,
      [m.slug, m.event_type, ...params],
    );
  }
  const numeric = m.aggregation !== 'unique_count';
  await q.query(
    `INSERT INTO meter_buckets AS mb (meter, bucket_start, group_key, count, sum, min, max, latest_time, latest_seq, latest_value)
     SELECT $1, b, g, count(*), ${numeric ? 'sum(v), min(v), max(v)' : 'NULL::numeric, NULL::numeric, NULL::numeric'},
            (array_agg(time ORDER BY time DESC, seq DESC))[1], (array_agg(seq ORDER BY time DESC, seq DESC))[1],
            ${numeric ? '(array_agg(v ORDER BY time DESC, seq DESC))[1]' : 'NULL::numeric'}
     FROM (${src}) x WHERE v IS NOT NULL GROUP BY b, g
     ON CONFLICT (meter, bucket_start, group_key) DO UPDATE SET
       count = mb.count + excluded.count,
       sum = CASE WHEN mb.sum IS NULL THEN excluded.sum WHEN excluded.sum IS NULL THEN mb.sum ELSE mb.sum + excluded.sum END,
       min = LEAST(mb.min, excluded.min),
       max = GREATEST(mb.max, excluded.max),
       latest_value = CASE WHEN (excluded.latest_time, excluded.latest_seq) > (mb.latest_time, mb.latest_seq) THEN excluded.latest_value ELSE mb.latest_value END,
       latest_seq = CASE WHEN (excluded.latest_time, excluded.latest_seq) > (mb.latest_time, mb.latest_seq) THEN excluded.latest_seq ELSE mb.latest_seq END,
       latest_time = GREATEST(mb.latest_time, excluded.latest_time)`,
    [m.slug, m.event_type, ...params],
  );
}

export interface PartRow {
  w: number;
  groups: Record<string, string | null>;
  count: string;
  sum: string | null;
  min: string | null;
  max: string | null;
  latest: string | null;
  distinct: string | null;
}

export interface GenericQuery {
  meter: Meter;
  from: Date;
  to: Date;
  /** Window starts plus the final end (width_bucket thresholds). */
  bounds: Date[];
  groupBy: string[];
  filters: Record<string, string[]>;
}

/**
 * Per window and requested group: the aligned middle of [from, to) from the buckets, the unaligned
 * edges from raw events. One statement, so unique_count is distinct across both.
 */
export async function queryGeneric(q: Queryable, g: GenericQuery): Promise<PartRow[]> {
  const c = compileMeter(g.meter);
  const Q = 15 * 60_000;
  const af = new Date(Math.ceil(g.from.getTime() / Q) * Q);
  const at = new Date(Math.max(af.getTime(), Math.floor(g.to.getTime() / Q) * Q));
  const params: unknown[] = [g.meter.slug, g.meter.event_type, g.from.toISOString(), g.to.toISOString(), af.toISOString(), at.toISOString(), g.bounds.map((d) => d.toISOString())];
  const filterSql: string[] = [];
  for (const [name, values] of Object.entries(g.filters)) {
    params.push(values);
    filterSql.push(`(p.g ->> '${name}') = ANY($${params.length}::text[])`);
  }
  const groupCols = g.groupBy.map((n, i) => `(p.g ->> '${n}') AS g${i}`);
  const groupByIdx = g.groupBy.map((_, i) => i + 2);
  const raw = `FROM events e WHERE e.type = $2 AND ((e.time >= $3 AND e.time < $5) OR (e.time >= $6 AND e.time < $4))`;
  let parts: string;
  let aggs: string;
  if (g.meter.aggregation === 'unique_count') {
    parts = `SELECT bucket_start AS t, group_key AS g, value AS v FROM meter_bucket_values WHERE meter = $1 AND bucket_start >= $5 AND bucket_start < $6
             UNION ALL
             SELECT e.time, ${c.groupKeySql}, ${c.valueSql} ${raw} AND ${c.valueSql} IS NOT NULL`;
    aggs = `count(DISTINCT p.v)::text AS distinct, NULL AS count, NULL AS sum, NULL AS min, NULL AS max, NULL AS latest`;
  } else {
    parts = `SELECT bucket_start AS t, group_key AS g, count AS n, sum AS s, min AS mn, max AS mx, latest_time AS lt, latest_seq AS ls, latest_value AS lv
             FROM meter_buckets WHERE meter = $1 AND bucket_start >= $5 AND bucket_start < $6
             UNION ALL
             SELECT e.time, ${c.groupKeySql}, 1, v, v, v, e.time, e.seq, v FROM (SELECT e.*, ${c.valueSql} AS v ${raw}) e WHERE v IS NOT NULL`;
    aggs = `NULL AS distinct, sum(p.n)::text AS count, sum(p.s)::text AS sum, min(p.mn)::text AS min, max(p.mx)::text AS max,
            ((array_agg(p.lv ORDER BY p.lt DESC, p.ls DESC))[1])::text AS latest`;
  }
  const sql = `SELECT width_bucket(p.t, $7::timestamptz[]) AS w${groupCols.length ? ', ' + groupCols.join(', ') : ''}, ${aggs}
    FROM (${parts}) p
    ${filterSql.length ? 'WHERE ' + filterSql.join(' AND ') : ''}
    GROUP BY 1${groupByIdx.length ? ', ' + groupByIdx.join(', ') : ''}
    ORDER BY 1${groupByIdx.length ? ', ' + groupByIdx.join(', ') : ''}`;
  const r = await q.query<Record<string, unknown>>(sql, params);
  return r.rows.map((row) => ({
    w: Number(row.w),
    groups: Object.fromEntries(g.groupBy.map((n, i) => [n, (row[`g${i}`] as string | null) ?? null])),
    count: row.count === null || row.count === undefined ? '0' : String(row.count),
    sum: (row.sum as string | null) ?? null,
    min: (row.min as string | null) ?? null,
    max: (row.max as string | null) ?? null,
    latest: (row.latest as string | null) ?? null,
    distinct: (row.distinct as string | null) ?? null,
  }));
}

/** Sums of llm.usage measures over raw events, per window (width_bucket over `bounds`) and group. */
export interface LlmRawPart {
  w: number;
  groups: Record<string, string | null>;
  requests: string;
  /** Events with a cost (not unpriced). */
  priced: string;
  input_tokens: string;
  output_tokens: string;
  cache_read_tokens: string;
  cache_write_tokens: string;
  cost: string;
}

const LLM_COLUMNS = new Set(['subject', 'team', 'project', 'api_key', 'provider', 'model', 'region', 'feature']);

/**
 * The llm_* built-ins over the parts of a query the rollups cannot answer (the unaligned edges of
 * [from, to), or all of it when a window boundary is off the 15-minute grid), straight from the
 * typed llm.usage columns of `events`.
 */
export async function queryLlmRaw(
  q: Queryable,
  g: { ranges: Array<[Date, Date]>; bounds: Date[]; groupBy: string[]; filters: Record<string, string[]> },
): Promise<LlmRawPart[]> {
  const ranges = g.ranges.filter(([a, b]) => a.getTime() < b.getTime());
  if (!ranges.length) return [];
  for (const c of [...g.groupBy, ...Object.keys(g.filters)]) if (!LLM_COLUMNS.has(c)) throw new Error(`not an llm.usage column: ${c}`);
  const params: unknown[] = [g.bounds.map((d) => d.toISOString())];
  const rangeSql = ranges.map(([a, b]) => {
    params.push(a.toISOString(), b.toISOString());
    return `(e.time >= $${params.length - 1} AND e.time < $${params.length})`;
  });
  const filterSql = Object.entries(g.filters).map(([name, values]) => {
    params.push(values);
    return `e.${name} = ANY($${params.length}::text[])`;
  });
  const groupCols = g.groupBy.map((n, i) => `e.${n} AS g${i}`);
  const groupIdx = g.groupBy.map((_, i) => i + 2);
  const sql = `SELECT width_bucket(e.time, $1::timestamptz[]) AS w${groupCols.length ? ', ' + groupCols.join(', ') : ''},
      coalesce(sum(${REQUESTS_SQL}), 0)::text AS requests, count(e.cost)::text AS priced, -- a collector event carries its bucket's request count
      coalesce(sum(e.input_tokens), 0)::text AS input_tokens, coalesce(sum(e.output_tokens), 0)::text AS output_tokens,
      coalesce(sum(e.cache_read_tokens), 0)::text AS cache_read_tokens, coalesce(sum(e.cache_write_tokens), 0)::text AS cache_write_tokens,
      coalesce(sum(e.cost), 0)::text AS cost
    FROM events e
    WHERE e.type = 'llm.usage' AND (${rangeSql.join(' OR ')})${filterSql.length ? ' AND ' + filterSql.join(' AND ') : ''}
    GROUP BY 1${groupIdx.length ? ', ' + groupIdx.join(', ') : ''}`;
  const r = await q.query<Record<string, unknown>>(sql, params);
  return r.rows.map((row) => ({
    w: Number(row.w),
    groups: Object.fromEntries(g.groupBy.map((n, i) => [n, (row[`g${i}`] as string | null) ?? null])),
    requests: String(row.requests),
    priced: String(row.priced),
    input_tokens: String(row.input_tokens),
    output_tokens: String(row.output_tokens),
    cache_read_tokens: String(row.cache_read_tokens),
    cache_write_tokens: String(row.cache_write_tokens),
    cost: String(row.cost),
  }));
}
