import type { Queryable } from '../shared/db/index.ts';

/** SQL on `job_runs` (UNIQUE job + window_start): the scheduler's record of each window. */

const iso = (d: Date | string | null | undefined) => (d ? new Date(d).toISOString() : null);

/**
 * Claims a window: inserts its row as running, or takes over one that is `running` since before
 * `staleBefore` (a dead process) or `failed` before `retryBefore`. null: someone else has it.
 */
export async function claimRun(q: Queryable, job: string, window: string, now: Date, retryBefore: Date, staleBefore: Date): Promise<string | null> {
  const r = await q.query<{ id: string }>(
    `INSERT INTO job_runs (job, window_start, status, started_at) VALUES ($1, $2, 'running', $3)
     ON CONFLICT (job, window_start) DO UPDATE SET status = 'running', started_at = excluded.started_at, finished_at = NULL, error = NULL
       WHERE (job_runs.status = 'running' AND job_runs.started_at <= $5) OR (job_runs.status = 'failed' AND job_runs.finished_at <= $4)
     RETURNING id`,
    [job, window, now.toISOString(), retryBefore.toISOString(), staleBefore.toISOString()],
  );
  return r.rows[0]?.id ?? null;
}

export async function finishRun(q: Queryable, id: string, at: Date, outcome: { result: unknown } | { error: string }): Promise<void> {
  if ('error' in outcome) {
    await q.query(`UPDATE job_runs SET status = 'failed', finished_at = $2, error = $3 WHERE id = $1`, [id, at.toISOString(), outcome.error]);
  } else {
    await q.query(`UPDATE job_runs SET status = 'ok', finished_at = $2, result = $3::jsonb WHERE id = $1`, [id, at.toISOString(), JSON.stringify(outcome.result ?? null)]);
  }
}

export async function lastWindow(q: Queryable, job: string): Promise<Date | null> {
  const r = await q.query<{ window_start: Date | string | null }>(`SELECT max(window_start) AS window_start FROM job_runs WHERE job = $1`, [job]);
  return r.rows[0]?.window_start ? new Date(r.rows[0].window_start) : null;
}

/** Failed windows whose failure is older than `before` (due for a retry), oldest first. */
export async function failedWindows(q: Queryable, job: string, before: Date): Promise<Date[]> {
  const r = await q.query<{ window_start: Date | string }>(
    `SELECT window_start FROM job_runs WHERE job = $1 AND status = 'failed' AND finished_at <= $2 ORDER BY window_start`,
    [job, before.toISOString()],
  );
  return r.rows.map((row) => new Date(row.window_start));
}

export interface LastRun {
  last_window: string | null;
  last_status: string | null;
  last_error: string | null;
  last_finished_at: string | null;
}

/** Each job's latest window and how it went. */
export async function lastRuns(q: Queryable): Promise<Map<string, LastRun>> {
  const r = await q.query<{ job: string; window_start: Date | string; status: string; error: string | null; finished_at: Date | string | null }>(
    `SELECT DISTINCT ON (job) job, window_start, status, error, finished_at FROM job_runs ORDER BY job, window_start DESC`,
  );
  return new Map(r.rows.map((row) => [row.job, { last_window: iso(row.window_start), last_status: row.status, last_error: row.error, last_finished_at: iso(row.finished_at) }]));
}
