import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import type { Db } from './types.ts';
import { openPostgres } from './postgres.ts';
import { lockDataDir } from './datadir-lock.ts';

export type { Db, Queryable, QueryResult } from './types.ts';
export { migrate, loadMigrations } from './migrate.ts';
export { DataDirLocked } from './datadir-lock.ts';

export interface OpenDbOptions {
  databaseUrl?: string;
  dataDir: string;
  schema?: string;
  poolSize?: number;
}

/** PostgreSQL when a URL is given, else PGlite files under dataDir/pgdata. */
export async function openDb(opts: OpenDbOptions): Promise<Db> {
  if (opts.databaseUrl) return openPostgres({ url: opts.databaseUrl, schema: opts.schema, max: opts.poolSize });
  const dir = path.resolve(opts.dataDir, 'pgdata');
  await mkdir(dir, { recursive: true });
  const lock = await lockDataDir(path.resolve(opts.dataDir));
  try {
    // Loaded only when used: the WASM engine costs ~100 MB of RSS a PostgreSQL deployment need not pay.
    const { openPglite } = await import('./pglite.ts');
    const db = await openPglite({ dataDir: dir });
    return {
      ...db,
      announce: (address) => lock.note({ address }),
      async close() {
        try {
          await db.close();
        } finally {
          await lock.release();
        }
      },
    };
  } catch (e) {
    await lock.release();
    throw e;
  }
}
