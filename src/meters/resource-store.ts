import type { Queryable } from '../shared/db/index.ts';
import { numericExpr } from './definitions.ts';
import { BUCKET_SQL } from './store.ts';

/**
 * resource.snapshot meters (traffic_gb, cpu_percent, memory_percent).
 *
 * Traffic: `traffic_bytes_total` is a counter. Per host, in time order, each snapshot's delta is
 * cur − prev when cur ≥ prev, else cur (the counter was reset — host reboot, a provider's monthly
 * reset — and counted up from zero); a host's first snapshot has no predecessor and counts 0.
 * Computed at query time with LAG over the raw snapshots, so a late snapshot is placed exactly.
 *
 * Retention: before raw snapshots are deleted, `seal(before)` folds them into 15-minute
 * resource_buckets and remembers each host's last counter (resource_anchors) as the predecessor of
 * the first raw snapshot after the seal. Queries read buckets before the seal and raw after it.
 */

export const SNAPSHOT = 'resource.snapshot';

const HOST = `coalesce(e.data ->> 'host', e.source)`;

/** Per-snapshot rows (t, host, traffic delta, cpu, mem) for unsealed time in [from, to). */
function rawPartsSql(fromParam: string, toParam: string): string {
  return `
  seal AS (SELECT coalesce((SELECT sealed_before FROM resource_seal WHERE id = 1), '-infinity'::timestamptz) AS sb),
  snaps AS (
    SELECT ${HOST} AS host, e.time, e.seq, ${numericExpr('$.traffic_bytes_total')} AS counter,
           ${numericExpr('$.cpu_percent')} AS cpu, ${numericExpr('$.memory_percent')} AS mem
    FROM events e, seal WHERE e.type = '${SNAPSHOT}' AND e.time >= seal.sb AND e.time < ${toParam}
  ),
  pts AS (
    SELECT host, time, seq, counter, false AS anchor FROM snaps WHERE counter IS NOT NULL
    UNION ALL
    SELECT host, time, -1, traffic_bytes_total, true FROM resource_anchors
  ),
  d AS (
    SELECT host, time, anchor, counter, lag(counter) OVER (PARTITION BY host ORDER BY time, anchor DESC, seq) AS prev FROM pts
  ),
  raw AS (
    SELECT time AS t, host, CASE WHEN prev IS NULL THEN 0 WHEN counter >= prev THEN counter - prev ELSE counter END AS traffic,
           NULL::numeric AS cpu_sum, 0 AS cpu_n, NULL::numeric AS cpu_min, NULL::numeric AS cpu_max,
           NULL::numeric AS mem_sum, 0 AS mem_n, NULL::numeric AS mem_min, NULL::numeric AS mem_max
    FROM d WHERE NOT anchor AND time >= ${fromParam}
    UNION ALL
    SELECT time, host, NULL, cpu, (cpu IS NOT NULL)::int, cpu, cpu, mem, (mem IS NOT NULL)::int, mem, mem
    FROM snaps WHERE time >= ${fromParam} AND (cpu IS NOT NULL OR mem IS NOT NULL)
  )`;
}

export interface ResourcePart {
  w: number;
  host: string | null;
  traffic: string | null;
  cpu_sum: string | null;
  cpu_n: number;
  cpu_min: string | null;
  cpu_max: string | null;
  mem_sum: string | null;
  mem_n: number;
  mem_min: string | null;
  mem_max: string | null;
}

export async function queryResource(q: Queryable, from: Date, to: Date, bounds: Date[], byHost: boolean, hosts?: string[]): Promise<ResourcePart[]> {
  const params: unknown[] = [from.toISOString(), to.toISOString(), bounds.map((b) => b.toISOString())];
  let hostFilter = '';
  if (hosts) {
    params.push(hosts);
    hostFilter = `WHERE p.host = ANY($${params.length}::text[])`;
  }
  const r = await q.query<Record<string, unknown>>(
    `WITH ${rawPartsSql('$1', '$2')},
     parts AS (
       SELECT * FROM raw
       UNION ALL
       SELECT bucket_start, host, traffic_bytes, cpu_sum, cpu_count, cpu_min, cpu_max, mem_sum, mem_count, mem_min, mem_max
       FROM resource_buckets, seal WHERE bucket_start >= $1 AND bucket_start < $2 AND bucket_start < seal.sb
     )
     SELECT width_bucket(p.t, $3::timestamptz[]) AS w, ${byHost ? 'p.host' : 'NULL'} AS host,
       sum(p.traffic)::text AS traffic, sum(p.cpu_sum)::text AS cpu_sum, sum(p.cpu_n) AS cpu_n, min(p.cpu_min)::text AS cpu_min, max(p.cpu_max)::text AS cpu_max,
       sum(p.mem_sum)::text AS mem_sum, sum(p.mem_n) AS mem_n, min(p.mem_min)::text AS mem_min, max(p.mem_max)::text AS mem_max
     FROM parts p ${hostFilter}
     GROUP BY 1, 2 ORDER BY 1, 2`,
    params,
  );
  return r.rows.map((x) => ({
    w: Number(x.w),
    host: (x.host as string | null) ?? null,
    traffic: (x.traffic as string | null) ?? null,
    cpu_sum: (x.cpu_sum as string | null) ?? null,
    cpu_n: Number(x.cpu_n ?? 0),
    cpu_min: (x.cpu_min as string | null) ?? null,
    cpu_max: (x.cpu_max as string | null) ?? null,
    mem_sum: (x.mem_sum as string | null) ?? null,
    mem_n: Number(x.mem_n ?? 0),
    mem_min: (x.mem_min as string | null) ?? null,
    mem_max: (x.mem_max as string | null) ?? null,
  }));
}

/**
 * Folds unsealed raw snapshots before `before` into resource_buckets, moves each host's anchor to
 * its last counter before `before`, and advances the seal. Idempotent: a second call with the same
 * or an earlier `before` does nothing. Run inside a transaction.
 */
export async function seal(tx: Queryable, before: Date): Promise<{ sealed: boolean; buckets: number }> {
  const cur = await tx.query<{ sb: string | null }>('SELECT sealed_before AS sb FROM resource_seal WHERE id = 1 FOR UPDATE');
  const sb = cur.rows[0]?.sb ? new Date(cur.rows[0].sb) : null;
  if (sb && sb.getTime() >= before.getTime()) return { sealed: false, buckets: 0 };
  const ins = await tx.query(
    `WITH ${rawPartsSql("'-infinity'::timestamptz", '$1')}
     INSERT INTO resource_buckets AS rb (host, bucket_start, traffic_bytes, cpu_sum, cpu_count, cpu_min, cpu_max, mem_sum, mem_count, mem_min, mem_max)
     SELECT host, ${BUCKET_SQL('t')}, coalesce(sum(traffic), 0), sum(cpu_sum), sum(cpu_n), min(cpu_min), max(cpu_max), sum(mem_sum), sum(mem_n), min(mem_min), max(mem_max)
     FROM raw GROUP BY 1, 2
     ON CONFLICT (host, bucket_start) DO UPDATE SET
       traffic_bytes = rb.traffic_bytes + excluded.traffic_bytes,
       cpu_sum = CASE WHEN rb.cpu_sum IS NULL THEN excluded.cpu_sum WHEN excluded.cpu_sum IS NULL THEN rb.cpu_sum ELSE rb.cpu_sum + excluded.cpu_sum END,
       cpu_count = rb.cpu_count + excluded.cpu_count, cpu_min = LEAST(rb.cpu_min, excluded.cpu_min), cpu_max = GREATEST(rb.cpu_max, excluded.cpu_max),
       mem_sum = CASE WHEN rb.mem_sum IS NULL THEN excluded.mem_sum WHEN excluded.mem_sum IS NULL THEN rb.mem_sum ELSE rb.mem_sum + excluded.mem_sum END,
       mem_count = rb.mem_count + excluded.mem_count, mem_min = LEAST(rb.mem_min, excluded.mem_min), mem_max = GREATEST(rb.mem_max, excluded.mem_max)
     RETURNING 1`,
    [before.toISOString()],
  );
  await tx.query(
    `WITH seal AS (SELECT coalesce((SELECT sealed_before FROM resource_seal WHERE id = 1), '-infinity'::timestamptz) AS sb),
     last AS (
       SELECT DISTINCT ON (host) host, time, counter FROM (
         SELECT ${HOST} AS host, e.time, e.seq, ${numericExpr('$.traffic_bytes_total')} AS counter
         FROM events e, seal WHERE e.type = '${SNAPSHOT}' AND e.time >= seal.sb AND e.time < $1
       ) s WHERE counter IS NOT NULL ORDER BY host, time DESC, seq DESC
     )
     INSERT INTO resource_anchors AS a (host, time, traffic_bytes_total) SELECT host, time, counter FROM last
     ON CONFLICT (host) DO UPDATE SET time = excluded.time, traffic_bytes_total = excluded.traffic_bytes_total WHERE excluded.time >= a.time`,
    [before.toISOString()],
  );
  await tx.query(
    `INSERT INTO resource_seal (id, sealed_before) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET sealed_before = GREATEST(resource_seal.sealed_before, excluded.sealed_before)`,
    [before.toISOString()],
  );
  return { sealed: true, buckets: ins.rowCount };
}
