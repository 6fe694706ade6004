import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDb } from '../helpers/db.ts';
import { createScheduler } from '../../src/jobs/scheduler.ts';
import { fixedClock } from '../../src/shared/clock.ts';
import { createLogger } from '../../src/shared/log.ts';
import type { Db } from '../../src/shared/db/index.ts';

const logger = createLogger('silent', false);
let db: Db;
beforeAll(async () => {
  db = await freshDb();
});
afterAll(() => db.close());

describe('scheduler', () => {
  it('runs each scheduled window once, in the job zone', async () => {
    const clock = fixedClock('2026-03-02T00:10:00Z');
    const s = createScheduler(db, clock, logger);
    const runs: string[] = [];
    s.schedule('daily-seoul', '0 9 * * *', 'Asia/Seoul', async ({ windowStart }) => {
      runs.push(windowStart.toISOString());
      return { ok: true };
    });
    // 00:10Z = 09:10 Seoul: today's 09:00 window (00:00Z) is due.
    expect((await s.runDue()).map((r) => r.status)).toEqual(['ok']);
    expect(await s.runDue()).toEqual([]);
    clock.advance(3_600_000);
    expect(await s.runDue()).toEqual([]);
    clock.set('2026-03-03T00:00:00Z');
    await s.runDue();
    expect(runs).toEqual(['2026-03-02T00:00:00.000Z', '2026-03-03T00:00:00.000Z']);
    const rows = await db.query<{ status: string }>("SELECT status FROM job_runs WHERE job = 'daily-seoul' ORDER BY window_start");
    expect(rows.rows.map((r) => r.status)).toEqual(['ok', 'ok']);
  });

  it('two schedulers (two processes) on one database run a window once', async () => {
    const clock = fixedClock('2026-03-02T00:10:00Z');
    let count = 0;
    const mk = () => {
      const s = createScheduler(db, clock, logger);
      s.schedule('shared', '*/5 * * * *', 'UTC', async () => {
        count++;
        await new Promise((r) => setTimeout(r, 50));
      });
      return s;
    };
    const a = mk();
    const b = mk();
    await Promise.all([a.runDue(), b.runDue(), a.runDue(), b.runDue()]);
    expect(count).toBe(1);
    clock.advance(5 * 60_000);
    await Promise.all([b.runDue(), a.runDue()]);
    expect(count).toBe(2);
  });

  it('records a failure and retries the window later', async () => {
    const clock = fixedClock('2026-03-02T00:10:00Z');
    const s = createScheduler(db, clock, logger, { retryAfterMs: 60_000 });
    let fail = true;
    s.schedule('flaky', '0 0 * * *', 'UTC', async () => {
      if (fail) throw new Error('upstream down');
      return 'fine';
    });
    const [r] = await s.runDue();
    expect(r).toMatchObject({ status: 'failed', error: 'upstream down' });
    expect(await s.runDue()).toEqual([]); // not before retryAfter
    fail = false;
    clock.advance(61_000);
    expect((await s.runDue()).map((x) => x.status)).toEqual(['ok']);
    const row = await db.query<{ status: string; error: string | null }>("SELECT status, error FROM job_runs WHERE job = 'flaky'");
    expect(row.rows).toEqual([{ status: 'ok', error: null }]);
  });
});
