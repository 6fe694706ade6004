import { Cron } from 'croner';
import type { Db, Queryable } from '../shared/db/index.ts';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/log.ts';
import { claimRun, failedWindows, finishRun, lastRuns, lastWindow } from './runs-store.ts';

/**
 * A small scheduler: croner does the cron math, `job_runs` (UNIQUE job + window_start) records each
 * scheduled window, and `db.tryLock(hash(job))` keeps two processes from running one job at once.
 * So each window runs exactly once across processes: whoever holds the lock inserts the window's
 * row; the other finds the lock busy (or the row there) and skips.
 *
 * Every missed window is caught up, oldest first: a process that was down for three nights runs a
 * daily job for each of the three windows in order (at most `catchUp` windows back, default 31;
 * a job for which only "now" matters, like host snapshots, schedules with `catchUp: 1`). A job
 * that has never run starts from its latest window. A failed window is retried on a later tick
 * once `retryAfterMs` has passed; the windows after it still run.
 * Time comes from the Clock; tests call `runDue(now)` directly instead of waiting.
 */

export interface JobContext {
  job: string;
  /** The scheduled instant this run is for. */
  windowStart: Date;
  now: Date;
}

export type JobFn = (ctx: JobContext) => Promise<unknown>;

export interface ScheduleOptions {
  /** How many missed windows to catch up at most (1: only the latest). Default 31. */
  catchUp?: number;
}

export interface JobInfo {
  name: string;
  schedule: string;
  tz: string;
  last_window: string | null;
  last_status: string | null;
  last_error: string | null;
  last_finished_at: string | null;
  next_run: string | null;
}

export interface JobRun {
  job: string;
  window_start: string;
  status: 'ok' | 'failed' | 'skipped';
  error?: string;
  result?: unknown;
}

export interface Scheduler {
  schedule(name: string, cron: string, tz: string, fn: JobFn, opts?: ScheduleOptions): void;
  /** Runs, per job in order of windows, every scheduled window up to `now` that has not run yet. */
  runDue(now?: Date): Promise<JobRun[]>;
  /** Runs one job for one window now (CLI, tests); honours the same once-per-window rule. */
  runWindow(name: string, windowStart: Date, now?: Date): Promise<JobRun>;
  /** The latest scheduled instant ≤ now for a job. */
  latestWindow(name: string, now: Date): Date | null;
  /** The windows a tick at `now` would run for a job, oldest first. */
  dueWindows(name: string, now: Date): Promise<Date[]>;
  jobs(): string[];
  has(name: string): boolean;
  /** Each job with its schedule, last run and next window. */
  list(now?: Date): Promise<JobInfo[]>;
  /** Ticks every `tickMs` (default 30 s). */
  start(tickMs?: number): void;
  close(): Promise<void>;
}

interface Job {
  name: string;
  cron: Cron;
  pattern: string;
  tz: string;
  fn: JobFn;
  catchUp: number;
}

/** 32-bit FNV-1a of the job name, in the advisory-lock namespace of jobs. */
export function jobLockKey(name: string): number {
  let h = 0x811c9dc5;
  for (const ch of Buffer.from('tollgate-job:' + name)) {
    h ^= ch;
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

export function latestScheduled(cron: Cron, now: Date): Date | null {
  for (const lookback of [3_600_000, 86_400_000, 40 * 86_400_000, 400 * 86_400_000]) {
    let t = cron.nextRun(new Date(now.getTime() - lookback));
    if (!t || t.getTime() > now.getTime()) continue;
    for (;;) {
      const n = cron.nextRun(t);
      if (!n || n.getTime() > now.getTime()) return t;
      t = n;
    }
  }
  return null;
}

/** The last `max` scheduled instants in (after, now], oldest first (after null: only the latest). */
export function windowsBetween(cron: Cron, after: Date | null, now: Date, max: number): Date[] {
  const latest = latestScheduled(cron, now);
  if (!latest) return [];
  if (!after || max <= 1) return after && latest.getTime() <= after.getTime() ? [] : [latest];
  const out: Date[] = [];
  let t = cron.nextRun(after);
  while (t && t.getTime() <= now.getTime()) {
    out.push(t);
    if (out.length > max) out.shift();
    t = cron.nextRun(t);
  }
  return out;
}

const STALE_MS = 6 * 3_600_000;

/** What one scheduler holds: its jobs, the ones running in this process, and its timer. */
interface State {
  db: Db;
  clock: Clock;
  logger: Logger;
  retryAfterMs: number;
  jobs: Map<string, Job>;
  busy: Set<string>;
  timer: NodeJS.Timeout | undefined;
  ticking: Promise<unknown> | undefined;
}

const jobOf = (st: State, name: string): Job => {
  const job = st.jobs.get(name);
  if (!job) throw new Error(`no job named ${name}`);
  return job;
};

async function runWindow(st: State, name: string, windowStart: Date, now: Date): Promise<JobRun> {
  const r = await tryWindow(st, name, windowStart, now);
  return r === 'locked' ? { job: name, window_start: windowStart.toISOString(), status: 'skipped' } : r;
}

/** 'locked': the job is running here or in another process now, so this window was not looked at. */
async function tryWindow(st: State, name: string, windowStart: Date, now: Date): Promise<JobRun | 'locked'> {
  const job = jobOf(st, name);
  if (st.busy.has(name)) return 'locked';
  st.busy.add(name);
  try {
    const r = await st.db.tryLock(jobLockKey(name), (conn) => claimAndRun(st, conn, job, windowStart, now));
    return r.ran ? r.value : 'locked';
  } finally {
    st.busy.delete(name);
  }
}

/** Under the job's lock: claims the window's row, runs the job and records how it ended. */
async function claimAndRun(st: State, conn: Queryable, job: Job, windowStart: Date, now: Date): Promise<JobRun> {
  const { db, clock, logger } = st;
  const name = job.name;
  const ws = windowStart.toISOString();
  // On PostgreSQL we hold the lock, so a 'running' row is a run whose process died: take it over.
  // PGlite's lock is only this process's, so there a 'running' row is taken over once it is stale.
  const staleBefore = new Date(now.getTime() - (db.kind === 'postgres' ? 0 : STALE_MS));
  const id = await claimRun(conn, name, ws, now, new Date(now.getTime() - st.retryAfterMs), staleBefore);
  if (!id) return { job: name, window_start: ws, status: 'skipped' };
  try {
    const result = await job.fn({ job: name, windowStart, now });
    await finishRun(conn, id, clock.now(), { result });
    return { job: name, window_start: ws, status: 'ok', result };
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    logger.error({ err: e, job: name, window: ws }, `job ${name} failed`);
    await finishRun(conn, id, clock.now(), { error: msg });
    return { job: name, window_start: ws, status: 'failed', error: msg };
  }
}

async function dueWindows(st: State, name: string, now: Date): Promise<Date[]> {
  const j = jobOf(st, name);
  const fresh = windowsBetween(j.cron, await lastWindow(st.db, name), now, j.catchUp);
  // Failed windows at or before the last one, due for a retry, go first (they are the oldest).
  const failed = await failedWindows(st.db, name, new Date(now.getTime() - st.retryAfterMs));
  const seen = new Set(fresh.map((d) => d.getTime()));
  const retry = failed.filter((d) => !seen.has(d.getTime()));
  return [...retry, ...fresh].sort((a, b) => a.getTime() - b.getTime());
}

async function runDue(st: State, now: Date): Promise<JobRun[]> {
  const out: JobRun[] = [];
  for (const j of st.jobs.values()) {
    if (st.busy.has(j.name)) continue;
    for (const w of await dueWindows(st, j.name, now)) {
      const r = await tryWindow(st, j.name, w, now);
      // Someone holds the job: stop this job's catch-up for this tick. Going on to a later window
      // could claim it while this one is still unrun, and due windows start after the latest
      // claimed one, so this one would never be due again.
      if (r === 'locked') break;
      if (r.status !== 'skipped') out.push(r);
    }
  }
  return out;
}

function addJob(st: State, name: string, cron: string, tz: string, fn: JobFn, opts: ScheduleOptions): void {
  if (st.jobs.has(name)) throw new Error(`job ${name} is already scheduled`);
  let c: Cron;
  try {
    c = new Cron(cron, { timezone: tz, paused: true });
  } catch (e) {
    throw new Error(`job ${name}: bad schedule "${cron}" (${tz}): ${(e as Error).message}`);
  }
  st.jobs.set(name, { name, cron: c, pattern: cron, tz, fn, catchUp: Math.max(1, opts.catchUp ?? 31) });
}

async function listJobs(st: State, now: Date): Promise<JobInfo[]> {
  const last = await lastRuns(st.db);
  const none = { last_window: null, last_status: null, last_error: null, last_finished_at: null };
  return [...st.jobs.values()].map((j) => ({ name: j.name, schedule: j.pattern, tz: j.tz, ...(last.get(j.name) ?? none), next_run: j.cron.nextRun(now)?.toISOString() ?? null }));
}

/** One tick: `runDue` unless the last tick is still running. */
function tick(st: State, s: Scheduler): void {
  if (st.ticking) return;
  st.ticking = s
    .runDue()
    .catch((err) => st.logger.error({ err }, 'scheduler tick failed'))
    .finally(() => (st.ticking = undefined));
}

export function createScheduler(db: Db, clock: Clock, logger: Logger, opts: { retryAfterMs?: number } = {}): Scheduler {
  const st: State = { db, clock, logger, retryAfterMs: opts.retryAfterMs ?? 10 * 60_000, jobs: new Map(), busy: new Set(), timer: undefined, ticking: undefined };
  const s: Scheduler = {
    schedule: (name, cron, tz, fn, o = {}) => addJob(st, name, cron, tz, fn, o),
    latestWindow(name, now) {
      const j = st.jobs.get(name);
      return j ? latestScheduled(j.cron, now) : null;
    },
    dueWindows: (name, now) => dueWindows(st, name, now),
    runDue: (now = clock.now()) => runDue(st, now),
    runWindow: (name, windowStart, now = clock.now()) => runWindow(st, name, windowStart, now),
    jobs: () => [...st.jobs.keys()],
    has: (name) => st.jobs.has(name),
    list: (now = clock.now()) => listJobs(st, now),
    start(tickMs = 30_000) {
      if (st.timer) return;
      st.timer = setInterval(() => tick(st, s), tickMs);
      st.timer.unref();
      tick(st, s);
    },
    async close() {
      if (st.timer) clearInterval(st.timer);
      st.timer = undefined;
      for (const j of st.jobs.values()) j.cron.stop();
      await st.ticking;
    },
  };
  return s;
}
