import { PGlite } from '@electric-sql/pglite';
import type { Db, Queryable, QueryResult } from './types.ts';

export interface PgliteOptions {
  /** Directory for the data files; omit (or 'memory://') for an in-memory database. */
  dataDir?: string;
  /** A tarball made by dumpDataDir(), to start from a prepared database (tests). */
  loadDataDir?: Blob | File;
}

function wrap(q: { query: PGlite['query']; exec: PGlite['exec'] }): Queryable {
  return {
    async query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
      const r = await q.query<T>(sql, params as unknown[] | undefined);
      return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
    },
    async exec(sql: string) {
      await q.exec(sql);
    },
  };
}

/**
 * PGlite is one connection inside this process: its transaction() already serialises callers,
 * and advisory locks are trivially ours, so withLock just runs fn.
 */
export async function openPglite(opts: PgliteOptions = {}): Promise<Db & { pglite: PGlite }> {
  const pglite = await PGlite.create({
    dataDir: opts.dataDir,
    loadDataDir: opts.loadDataDir,
  });
  const base = wrap(pglite);
  return {
    kind: 'pglite',
    pglite,
    description: opts.dataDir && opts.dataDir !== 'memory://' ? `PGlite at ${opts.dataDir}` : 'PGlite in memory',
    query: base.query,
    exec: base.exec,
    transaction: (fn) => pglite.transaction((tx) => fn(wrap(tx))),
    withLock: async (_key, fn) => fn(base),
    tryLock: async (_key, fn) => ({ ran: true, value: await fn(base) }),
    close: () => pglite.close(),
  };
}
