import type { Db, Queryable } from '../shared/db/index.ts';

/** SQL of the collectors domain: collector_runs and collector_buckets (migrations/0014_collectors.sql). */

export interface Recorded {
  input: number;
  cache_read: number;
  cache_write: number;
  cache_write_5m: number;
  cache_write_1h: number;
  output: number;
  requests: number;
  /** Decimal string, or null when the bucket was priced from the catalog. */
  cost: string | null;
}

export interface BucketState {
  revision: number;
  recorded: Recorded;
}

export interface RunRow {
  id: string;
  collector: string;
  account: string;
  window_from: string;
  window_to: string;
  status: string;
  started_at: string;
  finished_at: string | null;
  events: number;
  duplicates: number;
  corrections: number;
  rows: number;
  cost: string;
  error: string | null;
}

const iso = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string).toISOString());
const dayText = (v: unknown) => (v instanceof Date ? v.toISOString().slice(0, 10) : String(v).slice(0, 10));

export function collectorStore(db: Db) {
  return {
    async startRun(collector: string, account: string, from: string, to: string, at: Date): Promise<string> {
      const r = await db.query<{ id: string }>(
        `INSERT INTO collector_runs (collector, account, window_from, window_to, status, started_at) VALUES ($1, $2, $3, $4, 'running', $5) RETURNING id`,
        [collector, account, from, to, at.toISOString()],
      );
      return String(r.rows[0]!.id);
    },
    async finishRun(id: string, at: Date, r: { status: 'ok' | 'failed'; events?: number; duplicates?: number; corrections?: number; rows?: number; cost?: string; error?: string | null }) {
      await db.query(
        `UPDATE collector_runs SET status = $2, finished_at = $3, events = $4, duplicates = $5, corrections = $6, rows = $7, cost = $8::numeric, error = $9 WHERE id = $1`,
        [id, r.status, at.toISOString(), r.events ?? 0, r.duplicates ?? 0, r.corrections ?? 0, r.rows ?? 0, r.cost ?? '0', r.error ?? null],
      );
    },
    async buckets(collector: string, ids: string[]): Promise<Map<string, BucketState>> {
      const out = new Map<string, BucketState>();
      for (let i = 0; i < ids.length; i += 5000) {
        const r = await db.query<{ bucket_id: string; revision: number; recorded: Recorded }>(
          `SELECT bucket_id, revision, recorded FROM collector_buckets WHERE collector = $1 AND bucket_id = ANY($2::text[])`,
          [collector, ids.slice(i, i + 5000)],
        );
        for (const row of r.rows) out.set(row.bucket_id, { revision: Number(row.revision), recorded: typeof row.recorded === 'string' ? JSON.parse(row.recorded) : row.recorded });
      }
      return out;
    },
    async saveBuckets(collector: string, rows: Array<{ id: string; revision: number; day: string; recorded: Recorded }>, at: Date) {
      if (!rows.length) return;
      await db.transaction(async (tx: Queryable) => {
        for (let i = 0; i < rows.length; i += 5000) {
          const part = rows.slice(i, i + 5000);
          await tx.query(
            `INSERT INTO collector_buckets (collector, bucket_id, revision, bucket_day, recorded, updated_at)
             SELECT $1, b, r, d::date, v::jsonb, $6 FROM unnest($2::text[], $3::int[], $4::text[], $5::text[]) AS t(b, r, d, v)
             ON CONFLICT (collector, bucket_id) DO UPDATE SET revision = excluded.revision, recorded = excluded.recorded, updated_at = excluded.updated_at`,
            [collector, part.map((x) => x.id), part.map((x) => x.revision), part.map((x) => x.day), part.map((x) => JSON.stringify(x.recorded)), at.toISOString()],
          );
        }
      });
    },
    async lastRuns(): Promise<Map<string, RunRow>> {
      const r = await db.query<Record<string, unknown>>(`SELECT DISTINCT ON (collector) id, collector, account, window_from::text AS window_from, window_to::text AS window_to, status, started_at, finished_at, events, duplicates, corrections, rows, cost::text AS cost, error FROM collector_runs ORDER BY collector, started_at DESC, id DESC`);
      return new Map(r.rows.map((x) => [String(x.collector), toRun(x)]));
    },
    async totals(): Promise<Map<string, number>> {
      const r = await db.query<{ collector: string; n: string }>(`SELECT collector, count(*) AS n FROM collector_buckets GROUP BY collector`);
      return new Map(r.rows.map((x) => [x.collector, Number(x.n)]));
    },
  };
}

function toRun(x: Record<string, unknown>): RunRow {
  return {
    id: String(x.id),
    collector: String(x.collector),
    account: String(x.account),
    window_from: dayText(x.window_from),
    window_to: dayText(x.window_to),
    status: String(x.status),
    started_at: iso(x.started_at)!,
    finished_at: iso(x.finished_at),
    events: Number(x.events),
    duplicates: Number(x.duplicates),
    corrections: Number(x.corrections),
    rows: Number(x.rows),
    cost: String(x.cost),
    error: (x.error as string | null) ?? null,
  };
}

export type CollectorStore = ReturnType<typeof collectorStore>;
