import { readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { openPglite } from '../../src/shared/db/pglite.ts';
import { openPostgres } from '../../src/shared/db/postgres.ts';
import { migrate, type Db } from '../../src/shared/db/index.ts';
import { workerDatabaseUrl } from './worker-db.ts';

export const TEST_DB = (process.env.TOLLGATE_TEST_DB ?? 'pglite') as 'pglite' | 'postgres';
/** This worker's own database (worker-db.ts). */
export const TEST_DATABASE_URL = workerDatabaseUrl();

let dumpCache: Blob | undefined;

/**
 * A fresh, migrated, isolated database for one test: an in-memory PGlite from the prepared dump,
 * or a new schema on the test PostgreSQL (dropped by the returned close()).
 */
export async function freshDb(): Promise<Db> {
  if (TEST_DB === 'pglite') {
    if (!dumpCache) dumpCache = new Blob([await readFile(inject('pgliteDump'))]);
    const db = await openPglite({ loadDataDir: dumpCache });
    await migrate(db);
    return db;
  }
  const schema = 't_' + randomBytes(6).toString('hex');
  const db = await openPostgres({ url: TEST_DATABASE_URL, schema, max: 8 });
  await migrate(db);
  return {
    ...db,
    async close() {
      await db.close();
      const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    },
  };
}
