import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openPglite } from '../../src/shared/db/pglite.ts';
import { openPostgres } from '../../src/shared/db/postgres.ts';
import { loadMigrations, migrate, type Db } from '../../src/shared/db/index.ts';
import { TEST_DB, TEST_DATABASE_URL } from '../helpers/db.ts';
import { rollupService } from '../../src/rollups/service.ts';

async function blankDb(): Promise<{ db: Db; done: () => Promise<void> }> {
  if (TEST_DB === 'pglite') {
    const db = await openPglite();
    return { db, done: () => db.close() };
  }
  const schema = 't_' + randomBytes(6).toString('hex');
  const db = await openPostgres({ url: TEST_DATABASE_URL, schema, max: 2 });
  return {
    db,
    done: async () => {
      await db.close();
      const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    },
  };
}

describe('migration 0003', () => {
  it('backfills rollups from events stored before it', async () => {
    const { db, done } = await blankDb();
    try {
      const all = await loadMigrations();
      await migrate(db, all.filter((m) => m.version < 3));
      await db.query(
        `INSERT INTO events (source, id, type, subject, time, data, provider, model, team, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost, unpriced)
         VALUES ('s', '1', 'llm.usage', 'ann', '2026-03-01T10:05:00Z', '{}', 'openai', 'm1', 'red', 10, 5, 0, 0, 0, 0.5, false),
                ('s', '2', 'llm.usage', 'ann', '2026-03-02T23:50:00Z', '{}', 'openai', 'm1', null, 20, 5, 1, 2, 3, null, true),
                ('s', '3', 'other.type', null, '2026-03-02T23:50:00Z', '{}', null, null, null, null, null, null, null, null, null, false)`,
      );
      await migrate(db, all);
      const svc = rollupService(db);
      const r = await svc.usage({ from: new Date('2026-03-01T00:00:00Z'), to: new Date('2026-03-03T00:00:00Z'), tz: 'Asia/Seoul', window: 'day', groupBy: ['team'], filters: {} });
      expect(r.totals).toEqual({ requests: 2, unpriced_requests: 1, input_tokens: 30, output_tokens: 10, cache_read_tokens: 1, cache_write_tokens: 2, reasoning_tokens: 3, cost: '0.5' });
      expect(r.rows.map((x) => [x.window_start, x.team])).toEqual([
        ['2026-03-01T09:00:00+09:00', 'red'],
        ['2026-03-03T00:00:00+09:00', null],
      ]);
    } finally {
      await done();
    }
  });
});
