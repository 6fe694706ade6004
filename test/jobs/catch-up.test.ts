import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDb, TEST_DB, TEST_DATABASE_URL } from '../helpers/db.ts';
import { testApp, ADMIN_KEY } from '../helpers/app.ts';
import { createScheduler, type Scheduler } from '../../src/jobs/scheduler.ts';
import { fixedClock } from '../../src/shared/clock.ts';
import { createLogger } from '../../src/shared/log.ts';
import { openPostgres } from '../../src/shared/db/postgres.ts';
import type { Db } from '../../src/shared/db/index.ts';

const logger = createLogger('silent', false);
let db: Db;
beforeAll(async () => {
  db = await freshDb();
});
afterAll(() => db.close());

describe('scheduler catch-up', () => {
  it('catches up three missed days in order after a restart, each once', async () => {
    const clock = fixedClock('2026-03-02T00:10:00Z');
    const runs: string[] = [];
    const mk = () => {
      const s = createScheduler(db, clock, logger);
      s.schedule('nightly', '0 9 * * *', 'Asia/Seoul', async ({ windowStart }) => {
        runs.push(windowStart.toISOString());
      });
      return s;
    };
    await mk().runDue();
    expect(runs).toEqual(['2026-03-02T00:00:00.000Z']);
    // Down for three nights: the restarted process finds 03-03, 03-04, 03-05 due.
    clock.set('2026-03-05T06:00:00Z');
    const after = mk();
    expect((await after.dueWindows('nightly', clock.now())).map((d) => d.toISOString())).toEqual(['2026-03-03T00:00:00.000Z', '2026-03-04T00:00:00.000Z', '2026-03-05T00:00:00.000Z']);
    const done = await after.runDue();
    expect(done.map((r) => r.status)).toEqual(['ok', 'ok', 'ok']);
    expect(runs).toEqual(['2026-03-02T00:00:00.000Z', '2026-03-03T00:00:00.000Z', '2026-03-04T00:00:00.000Z', '2026-03-05T00:00:00.000Z']);
    expect(await after.runDue()).toEqual([]);
  });

  it('a job with catchUp 1 runs only its latest window; a new job starts from its latest', async () => {
    const clock = fixedClock('2026-03-02T00:12:00Z');
    const runs: string[] = [];
    const s = createScheduler(db, clock, logger);
    s.schedule('snap', '*/5 * * * *', 'UTC', async ({ windowStart }) => void runs.push(windowStart.toISOString()), { catchUp: 1 });
    await s.runDue();
    clock.advance(60 * 60_000);
    await s.runDue();
    expect(runs).toEqual(['2026-03-02T00:10:00.000Z', '2026-03-02T01:10:00.000Z']);
  });

  it('the 09:00 Asia/Seoul schedule fires for the right window', async () => {
    const clock = fixedClock('2026-01-09T23:59:59Z'); // 08:59:59 Seoul, 10 Jan
    const s = createScheduler(db, clock, logger);
    const seen: string[] = [];
    s.schedule('seoul-9', '0 9 * * *', 'Asia/Seoul', async ({ windowStart }) => void seen.push(windowStart.toISOString()));
    await s.runDue();
    expect(seen).toEqual(['2026-01-09T00:00:00.000Z']); // the 9 Jan 09:00 window (a first run starts from the latest)
    clock.set('2026-01-10T00:00:00Z'); // 09:00 Seoul, 10 Jan
    await s.runDue();
    expect(seen).toEqual(['2026-01-09T00:00:00.000Z', '2026-01-10T00:00:00.000Z']);
  });

  it('a window whose job is locked elsewhere is not leapfrogged: catch-up stops for the tick and resumes in order', async () => {
    // Another process holds the job while this one looks at 2 and 3 May, and has let go by 4 May.
    // Claiming 4 May then would leave 2 and 3 May behind the latest claimed window, never due again.
    let lockedFor = 2;
    const contended: Db = Object.assign(Object.create(db) as Db, {
      tryLock: ((key: number, fn: (c: Db) => Promise<unknown>) => (lockedFor-- > 0 ? Promise.resolve({ ran: false }) : db.tryLock(key, fn as never))) as Db['tryLock'],
    });
    const clock = fixedClock('2026-05-01T00:30:00Z');
    const s = createScheduler(contended, clock, logger);
    const seen: string[] = [];
    s.schedule('leapfrog', '0 0 * * *', 'UTC', async ({ windowStart }) => void seen.push(windowStart.toISOString().slice(0, 10)));
    lockedFor = 0;
    await s.runDue();
    expect(seen).toEqual(['2026-05-01']);
    clock.set('2026-05-04T00:30:00Z');
    lockedFor = 2;
    await s.runDue(); // 2 May: locked → this tick stops
    expect(seen).toEqual(['2026-05-01']);
    await s.runDue(); // 2 May: locked again
    await s.runDue(); // free: 2, 3 and 4 May in order
    expect(seen).toEqual(['2026-05-01', '2026-05-02', '2026-05-03', '2026-05-04']);
  });

  it.runIf(TEST_DB === 'postgres')('two processes (two pools) on one PostgreSQL run each window once while catching up', async () => {
    const schema = await db.query<{ s: string }>('SELECT current_schema() AS s');
    const other = await openPostgres({ url: TEST_DATABASE_URL, schema: schema.rows[0]!.s, max: 4 });
    try {
      const clock = fixedClock('2026-04-01T00:30:00Z');
      const count = new Map<string, number>();
      const mk = (d: Db): Scheduler => {
        const s = createScheduler(d, clock, logger);
        s.schedule('twice', '0 0 * * *', 'UTC', async ({ windowStart }) => {
          const k = windowStart.toISOString();
          count.set(k, (count.get(k) ?? 0) + 1);
          await new Promise((r) => setTimeout(r, 30));
        });
        return s;
      };
      const a = mk(db);
      const b = mk(other);
      await a.runDue();
      clock.set('2026-04-04T00:30:00Z');
      await Promise.all([a.runDue(), b.runDue(), b.runDue(), a.runDue()]);
      // A process that finds the job's lock held skips this tick; later ticks finish the catch-up.
      for (let tick = 0; tick < 10 && (count.size < 4 || tick < 1); tick++) await Promise.all([a.runDue(), b.runDue()]);
      expect([...count.entries()].sort()).toEqual([
        ['2026-04-01T00:00:00.000Z', 1],
        ['2026-04-02T00:00:00.000Z', 1],
        ['2026-04-03T00:00:00.000Z', 1],
        ['2026-04-04T00:00:00.000Z', 1],
      ]);
    } finally {
      await other.close();
    }
  });
});

describe('jobs API', () => {
  it('lists jobs and runs one with an admin key or the cron secret', async () => {
    const clock = fixedClock('2026-01-10T00:05:00Z');
    const app = await testApp({ clock, config: { 'jobs.cron_secret': 'cron-secret-0123456789' } });
    try {
      const list = await app.request('GET', '/v1/jobs');
      expect(list.status).toBe(200);
      const names = list.body.data.map((j: { name: string }) => j.name);
      expect(names).toContain('retention');

      expect((await app.request('POST', '/v1/jobs/retention/run', { body: {}, key: null })).status).toBe(401);
      expect((await app.request('POST', '/v1/jobs/retention/run', { body: {}, key: 'wrong-secret-0123456789' })).status).toBe(401);
      const byCron = await app.request('POST', '/v1/jobs/retention/run', { body: {}, key: 'cron-secret-0123456789' });
      expect(byCron.status).toBe(200);
      expect(byCron.body).toMatchObject({ job: 'retention', window_start: '2026-01-09T03:30:00.000Z', status: 'ok' });
      const again = await app.request('POST', '/v1/jobs/retention/run', { body: { window: '2026-01-09T03:30:00Z' }, key: ADMIN_KEY });
      expect(again.body.status).toBe('skipped');
      expect((await app.request('POST', '/v1/jobs/nope/run', { body: {} })).status).toBe(404);
      const bad = await app.request('POST', '/v1/jobs/retention/run', { body: { window: 'yesterday' } });
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe('INVALID_WINDOW');
    } finally {
      await app.close();
    }
  });
});
