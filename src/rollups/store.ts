import type { Queryable } from '../shared/db/index.ts';
import { CUBES, COUNT_MEASURES, MEASURES, REQUESTS_SQL, ZONE_GRAINS, aggregate, floorGrain, grainsOf, nextGrain, type Cube, type Delta, type Dim, type Grain, type Piece, type UsageFacts } from './cubes.ts';

import { zoneLiteral } from './maintenance-store.ts';

/**
 * The cubes' SQL: the drain's fold, reprice/rebuild deltas, the month rebuild from raw events and
 * the query. The queue, settings and pruning SQL is in maintenance-store.ts.
 */

/** The bucket of a timestamptz column at a grain; grains 5 and 6 need the report zone. */
export function bucketSql(g: Grain, c: string, zone: string | null): string {
  switch (g) {
    case 1:
      return `date_bin('15 minutes', ${c}, timestamptz '2000-01-01 00:00:00+00')`;
    case 2:
      return `date_trunc('hour', ${c} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`;
    case 3:
      return `date_trunc('day', ${c} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`;
    case 4:
      return `date_trunc('month', ${c} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`;
  }
  if (!zone) throw new Error(`grain ${g} needs the report zone`);
  const z = zoneLiteral(zone);
  return `date_trunc('${g === 5 ? 'day' : 'month'}', ${c} AT TIME ZONE ${z}) AT TIME ZONE ${z}`;
}

function upsertSql(cube: Cube): string {
  const cols = ['grain', 'bucket', ...cube.dims, ...MEASURES];
  // Counts travel as numeric (token sums may pass 2^63; migrations/0010); requests columns take them by assignment cast.
  const types = ['smallint', 'timestamptz', ...cube.dims.map(() => 'text'), ...COUNT_MEASURES.map(() => 'numeric'), 'numeric'];
  return `INSERT INTO ${cube.table} AS r (${cols.join(', ')})
SELECT * FROM unnest(${types.map((t, i) => `$${i + 1}::${t}[]`).join(', ')})
ON CONFLICT (grain, bucket, ${cube.dims.join(', ')}) DO UPDATE SET
${MEASURES.map((m) => `  ${m} = r.${m} + EXCLUDED.${m}`).join(',\n')}`;
}
const UPSERT = new Map(CUBES.map((c) => [c.name, upsertSql(c)]));

async function applyDeltas(tx: Queryable, cube: Cube, deltas: Delta[]): Promise<void> {
  if (!deltas.length) return;
  const params: unknown[] = [deltas.map((d) => d.grain), deltas.map((d) => new Date(d.bucket).toISOString())];
  cube.dims.forEach((_, i) => params.push(deltas.map((d) => d.dims[i])));
  for (const m of COUNT_MEASURES) params.push(deltas.map((d) => String(d.counts[m])));
  params.push(deltas.map((d) => d.cost.toFixed()));
  await tx.query(UPSERT.get(cube.name)!, params);
}

export interface RollupStore {
  /**
   * Adds the stored llm.usage events with these seqs to every cube, aggregating in SQL (the drain:
   * callers serialise it with the rollup lock, so no two writers race on cube rows).
   */
  fold(tx: Queryable, seqs: string[]): Promise<void>;
  /** Adds (sign 1) or removes (sign −1) events' contributions to every cube, in tx. */
  apply(tx: Queryable, events: Array<{ facts: UsageFacts; sign: 1 | -1 }>): Promise<void>;
  /**
   * Recomputes every cube from the raw events over whole UTC months covering [from, to). Only
   * correct while the raw events of those months are all still stored (retention deletes raw
   * events, never rollups): use it to backfill, not as routine maintenance.
   */
  rebuild(tx: Queryable, from: Date, to: Date, opts?: { bulk?: boolean; only?: 'zone' }): Promise<{ from: Date; to: Date }>;
  query(q: RollupQuery): Promise<RollupRow[]>;
}

export interface RollupQuery {
  cube: Cube;
  /** Pieces tagged with the window index they belong to; a piece with sign −1 is subtracted. */
  pieces: Array<Piece & { w: number; sign?: 1 | -1 }>;
  groupBy: Dim[];
  filters: Partial<Record<Dim, string[]>>;
  /** ORDER BY a measure desc and LIMIT (top queries); else ordered by window then dims. */
  top?: { measure: 'cost' | 'tokens' | 'requests'; limit: number };
}

/** The measures of one rollup row or usage row. */
export interface Measures {
  requests: number;
  unpriced_requests: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
  /** Decimal string, USD. */
  cost: string;
}

export interface RollupRow extends Measures {
  w: number;
  dims: Record<string, string | null>;
}

/** A rollup column as the query sums it: negated on subtracted pieces (only when there are any). */
const term = (col: string, signed: boolean) => (signed ? `CASE WHEN p.sign = 1 THEN ${col} ELSE -${col} END` : col);

const TOP_EXPR = {
  cost: (signed: boolean) => `sum(${term('r.cost', signed)})`,
  requests: (signed: boolean) => `sum(${term('r.requests', signed)})`,
  tokens: (signed: boolean) => `sum(${term('(r.input_tokens + r.output_tokens + r.cache_read_tokens + r.cache_write_tokens)', signed)})`,
};

/**
 * The drain's one statement: the batch's events are read once (by seq) and every cube at every
 * grain is upserted from them with GROUPING SETS, so the rows never move into JS and a fold is a
 * single round trip. Each grouping set is one grain; its bucket column is the only non-NULL one.
 */
function foldSql(zone: string | null): string {
  const grains = [...new Set(CUBES.flatMap((c) => grainsOf(c, zone)))].sort();
  const ctes = CUBES.map((cube, i) => {
    const dims = cube.dims.join(', ');
    const own = grainsOf(cube, zone);
    const sets = own.map((g) => `(b${g}, ${dims})`).join(', ');
    const grain = `CASE ${own.map((g) => `WHEN GROUPING(b${g}) = 0 THEN ${g}`).join(' ')} END`;
    return `c${i} AS (
  INSERT INTO ${cube.table} AS r (grain, bucket, ${dims}, ${MEASURES.join(', ')})
  SELECT ${grain}, COALESCE(${own.map((g) => `b${g}`).join(', ')}), ${dims}, sum(requests), coalesce(sum(requests) FILTER (WHERE unpriced), 0),
    coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0), coalesce(sum(cache_read_tokens), 0),
    coalesce(sum(cache_write_tokens), 0), coalesce(sum(reasoning_tokens), 0), coalesce(sum(cost), 0)
  FROM e GROUP BY GROUPING SETS (${sets})
  ON CONFLICT (grain, bucket, ${dims}) DO UPDATE SET
${MEASURES.map((m) => `    ${m} = r.${m} + EXCLUDED.${m}`).join(',\n')}
)`;
  });
  return `WITH e AS MATERIALIZED (
  SELECT subject, team, project, api_key, provider, model, region, feature, unpriced, ${REQUESTS_SQL} AS requests,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost,
    ${grains.map((g) => `${bucketSql(g, 'time', zone)} AS b${g}`).join(', ')}
  FROM events WHERE seq = ANY($1::bigint[]) AND type = 'llm.usage'
),
${ctes.join(',\n')}
SELECT 1`; // data-modifying CTEs run to completion whether or not the query reads them
}

/**
 * @param zone the deployment's report zone (grains 5 and 6), or null when it is UTC.
 */
export function rollupStore(db: Queryable, zone: string | null = null): RollupStore {
  const FOLD_SQL = foldSql(zone);
  return {
    async fold(tx, seqs) {
      if (!seqs.length) return;
      await tx.query(FOLD_SQL, [seqs]);
    },
    async apply(tx, events) {
      if (!events.length) return;
      for (const cube of CUBES) await applyDeltas(tx, cube, aggregate(cube, events, zone));
    },
    rebuild: (tx, from, to, opts = {}) => rebuildMonths(tx, zone, from, to, opts),
    query: (q) => queryCubes(db, q),
  };
}

/** A family of grains rebuilt over its own whole months. */
interface Family {
  grains: Grain[];
  range: [number, number];
}

async function rebuildMonths(tx: Queryable, zone: string | null, from: Date, to: Date, opts: { bulk?: boolean; only?: 'zone' }): Promise<{ from: Date; to: Date }> {
  // Each family of grains over its own whole months: UTC months for grains 1–4, report-zone
  // months for grains 5–6 (the two never line up, so neither range can serve both).
  const monthsCovering = (g: 4 | 6): [number, number] => {
    const start = floorGrain(from.getTime(), g, zone);
    let end = floorGrain(to.getTime(), g, zone);
    if (end < to.getTime()) end = nextGrain(end, g, zone);
    return [start, end];
  };
  const families: Family[] = [];
  if (opts.only !== 'zone') families.push({ grains: [1, 2, 3, 4], range: monthsCovering(4) });
  if (zone) families.push({ grains: [...ZONE_GRAINS], range: monthsCovering(6) });
  if (!families.length) return { from, to };
  for (const cube of CUBES) await rebuildCube(tx, cube, zone, families, opts.bulk === true);
  const starts = families.map((f) => f.range[0]);
  const ends = families.map((f) => f.range[1]);
  return { from: new Date(Math.min(...starts)), to: new Date(Math.max(...ends)) };
}

async function rebuildCube(tx: Queryable, cube: Cube, zone: string | null, families: Family[], bulk: boolean): Promise<void> {
  const own = grainsOf(cube, zone);
  const dims = cube.dims.join(', ');
  for (const f of families) {
    const [s, e] = f.range.map((t) => new Date(t).toISOString());
    await tx.query(`DELETE FROM ${cube.table} WHERE grain = ANY($1::smallint[]) AND bucket >= $2 AND bucket < $3`, [f.grains, s, e]);
  }
  // bulk: drop the key index while loading and build it once at the end (backfills of big
  // histories; the table is locked for the transaction anyway).
  if (bulk) await tx.query(`DROP INDEX ${cube.table}_key`);
  for (const f of families) {
    const [s, e] = f.range.map((t) => new Date(t).toISOString());
    // The family's finest grain from the raw events, each coarser grain from the one below it.
    let prev: Grain | undefined;
    for (const g of own.filter((x) => f.grains.includes(x))) {
      await tx.query(prev === undefined ? rebuildFromEventsSql(cube, g, zone) : rebuildFromGrainSql(cube, g, prev, zone), [s, e]);
      prev = g;
    }
  }
  if (bulk) await tx.query(`CREATE UNIQUE INDEX ${cube.table}_key ON ${cube.table} (grain, bucket, ${dims}) NULLS NOT DISTINCT`);
}

function rebuildFromEventsSql(cube: Cube, g: Grain, zone: string | null): string {
  const dims = cube.dims.join(', ');
  return `INSERT INTO ${cube.table} (grain, bucket, ${dims}, ${MEASURES.join(', ')})
 SELECT ${g}, ${bucketSql(g, 'time', zone)} AS b, ${dims}, sum(${REQUESTS_SQL}), coalesce(sum(${REQUESTS_SQL}) FILTER (WHERE unpriced), 0),
   coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0), coalesce(sum(cache_read_tokens), 0),
   coalesce(sum(cache_write_tokens), 0), coalesce(sum(reasoning_tokens), 0), coalesce(sum(cost), 0)
 FROM events WHERE type = 'llm.usage' AND time >= $1 AND time < $2
 GROUP BY b, ${dims}`;
}

function rebuildFromGrainSql(cube: Cube, g: Grain, prev: Grain, zone: string | null): string {
  const dims = cube.dims.join(', ');
  return `INSERT INTO ${cube.table} (grain, bucket, ${dims}, ${MEASURES.join(', ')})
 SELECT ${g}, ${bucketSql(g, 'bucket', zone)} AS b, ${dims}, ${MEASURES.map((m) => `sum(${m})`).join(', ')}
 FROM ${cube.table} WHERE grain = ${prev} AND bucket >= $1 AND bucket < $2
 GROUP BY b, ${dims}`;
}

async function queryCubes(db: Queryable, q: RollupQuery): Promise<RollupRow[]> {
  const { cube, pieces, groupBy } = q;
  const params: unknown[] = [
    pieces.map((p) => p.w),
    pieces.map((p) => p.grain),
    pieces.map((p) => new Date(p.start).toISOString()),
    pieces.map((p) => new Date(p.end).toISOString()),
    pieces.map((p) => p.sign ?? 1),
  ];
  const where: string[] = [];
  for (const [dim, values] of Object.entries(q.filters) as Array<[Dim, string[]]>) {
    if (!values?.length) continue;
    params.push(values);
    where.push(`r.${dim} = ANY($${params.length}::text[])`);
  }
  const signed = pieces.some((p) => p.sign === -1);
  const dimCols = groupBy.map((d) => `r.${d}`);
  const group = ['p.w', ...dimCols];
  let tail = `ORDER BY ${group.join(', ')}`;
  if (q.top) {
    params.push(q.top.limit);
    tail = `ORDER BY ${TOP_EXPR[q.top.measure](signed)} DESC, ${dimCols.length ? dimCols.map((c) => `${c} NULLS LAST`).join(', ') : 'p.w'} LIMIT $${params.length}`;
  }
  const sql = `SELECT p.w AS w${groupBy.map((d) => `, r.${d} AS ${d}`).join('')},
  ${COUNT_MEASURES.map((m) => `sum(${term(`r.${m}`, signed)})::text AS ${m}`).join(', ')}, sum(${term('r.cost', signed)})::text AS cost
FROM unnest($1::int[], $2::smallint[], $3::timestamptz[], $4::timestamptz[], $5::int[]) AS p(w, grain, s, e, sign)
CROSS JOIN LATERAL (
  SELECT * FROM ${cube.table} r WHERE r.grain = p.grain AND r.bucket >= p.s AND r.bucket < p.e${where.length ? ' AND ' + where.join(' AND ') : ''}
  OFFSET 0 -- a fence: keeps this a parameterised index range scan per piece instead of a hash join over the table
) r
GROUP BY ${group.join(', ')}${signed ? `\nHAVING ${[...COUNT_MEASURES, 'cost'].map((m) => `sum(${term(`r.${m}`, true)}) <> 0`).join(' OR ')} -- every event was subtracted again: no events in the window (a collector's cost-only event counts 0 requests)` : ''}
${tail}`;
  const r = await db.query<Record<string, unknown>>(sql, params);
  return r.rows.map((row) => ({
    w: Number(row.w),
    dims: Object.fromEntries(groupBy.map((d) => [d, (row[d] as string | null) ?? null])),
    requests: Number(row.requests),
    unpriced_requests: Number(row.unpriced_requests),
    input_tokens: Number(row.input_tokens),
    output_tokens: Number(row.output_tokens),
    cache_read_tokens: Number(row.cache_read_tokens),
    cache_write_tokens: Number(row.cache_write_tokens),
    reasoning_tokens: Number(row.reasoning_tokens),
    cost: String(row.cost),
  }));
}
