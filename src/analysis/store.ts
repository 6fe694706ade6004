import { createHash } from 'node:crypto';
import type { Queryable } from '../shared/db/index.ts';

/** SQL of the analysis domain: its own table (migrations/0013_analysis.sql), nothing else. */

export interface AnomalyRecord {
  id: string;
  measure: string;
  window_unit: 'hour' | 'day';
  group_by: string;
  group_value: Record<string, string | null>;
  window_start: Date;
  window_end: Date;
  actual: string;
  expected: string;
  score: number;
  drivers: unknown[];
}

export interface StoredAnomaly extends AnomalyRecord {
  detected_at: Date;
  signalled_at: Date | null;
  dismissed_at: Date | null;
  dismiss_reason: string | null;
  dismissed_by: string | null;
}

/** Deterministic: a re-scan finds the same row. A bound key's scan sees only its slice, so the binding is part of it. */
export function anomalyId(measure: string, window: string, groupBy: string, group: Record<string, string | null>, start: Date, scope: Record<string, string | null | undefined> = {}): string {
  const bound = Object.entries(scope).filter(([, v]) => v).sort();
  const h = createHash('sha256').update(JSON.stringify([measure, window, groupBy, group, start.toISOString(), ...(bound.length ? [bound] : [])])).digest('hex');
  return `anom_${h.slice(0, 24)}`;
}

const COLS = 'id, measure, window_unit, group_by, group_value, window_start, window_end, actual::text AS actual, expected::text AS expected, score, drivers, detected_at, signalled_at, dismissed_at, dismiss_reason, dismissed_by';

function rowOf(r: Record<string, unknown>): StoredAnomaly {
  const at = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string));
  return {
    ...(r as unknown as StoredAnomaly),
    score: Number(r.score),
    window_start: new Date(r.window_start as string),
    window_end: new Date(r.window_end as string),
    detected_at: new Date(r.detected_at as string),
    signalled_at: at(r.signalled_at),
    dismissed_at: at(r.dismissed_at),
  };
}

/** Stores detections (one statement); a re-detection refreshes the numbers, keeps dismissal and signal state. */
export async function upsertAnomalies(q: Queryable, rows: AnomalyRecord[], now: Date): Promise<StoredAnomaly[]> {
  if (!rows.length) return [];
  const r = await q.query(
    `INSERT INTO analysis_anomalies (id, measure, window_unit, group_by, group_value, window_start, window_end, actual, expected, score, drivers, detected_at)
     SELECT x.id, x.measure, x.window_unit, x.group_by, x.group_value, x.window_start, x.window_end, x.actual, x.expected, x.score, x.drivers, $2::timestamptz
     FROM jsonb_to_recordset($1::jsonb) AS x(id text, measure text, window_unit text, group_by text, group_value jsonb, window_start timestamptz,
       window_end timestamptz, actual numeric, expected numeric, score double precision, drivers jsonb)
     ON CONFLICT (id) DO UPDATE SET actual = EXCLUDED.actual, expected = EXCLUDED.expected, score = EXCLUDED.score, drivers = EXCLUDED.drivers
     RETURNING ${COLS}`,
    [JSON.stringify(rows.map((x) => ({ ...x, window_start: x.window_start.toISOString(), window_end: x.window_end.toISOString() }))), now.toISOString()],
  );
  return r.rows.map(rowOf);
}

export async function getAnomaly(q: Queryable, id: string): Promise<StoredAnomaly | null> {
  const r = await q.query(`SELECT ${COLS} FROM analysis_anomalies WHERE id = $1`, [id]);
  return r.rows[0] ? rowOf(r.rows[0]) : null;
}

export async function dismissAnomaly(q: Queryable, id: string, reason: string, by: string | null, now: Date): Promise<StoredAnomaly | null> {
  const r = await q.query(
    `UPDATE analysis_anomalies SET dismissed_at = COALESCE(dismissed_at, $2), dismiss_reason = $3, dismissed_by = $4 WHERE id = $1 RETURNING ${COLS}`,
    [id, now.toISOString(), reason, by],
  );
  return r.rows[0] ? rowOf(r.rows[0]) : null;
}

/** Claims the ids not yet signalled (so two processes never both signal one anomaly). */
export async function claimUnsignalled(q: Queryable, ids: string[], now: Date): Promise<Set<string>> {
  if (!ids.length) return new Set();
  const r = await q.query<{ id: string }>(
    'UPDATE analysis_anomalies SET signalled_at = $2 WHERE id = ANY($1::text[]) AND signalled_at IS NULL AND dismissed_at IS NULL RETURNING id',
    [ids, now.toISOString()],
  );
  return new Set(r.rows.map((x) => x.id));
}
