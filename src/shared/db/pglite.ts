import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
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
 * PostgreSQL's default 128 MB of shared buffers is WASM memory PGlite never gives back; the data
 * files are read through the OS page cache anyway, so a smaller pool costs little and saves ~100 MB
 * of RSS (docs/foundation.md, "Memory").
 */
const SHARED_BUFFERS = '32MB';

/**
 * initdb grows PGlite's WASM memory to ~800 MB, and a WASM memory never shrinks: run it once in a
 * short-lived child process, so the server opens an initialised directory at its normal size.
 */
async function initDataDirInChild(dataDir: string): Promise<void> {
  // createRequire, not import.meta.resolve: the latter is missing under vitest's module runner.
  const pglitePath = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  const code = `const { PGlite } = require(${JSON.stringify(pglitePath)}); PGlite.create({ dataDir: process.argv[1] }).then((db) => db.close());`;
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', code, dataDir], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`could not initialise the embedded store in ${dataDir}: ${err.trim() || `exit ${code}`}`))));
  });
}

/**
 * PGlite is one connection inside this process: its transaction() already serialises callers,
 * and advisory locks are trivially ours, so withLock just runs fn.
 */
export async function openPglite(opts: PgliteOptions = {}): Promise<Db & { pglite: PGlite }> {
  const onDisk = opts.dataDir && opts.dataDir !== 'memory://';
  if (onDisk && !existsSync(path.join(opts.dataDir!, 'PG_VERSION'))) await initDataDirInChild(opts.dataDir!);
  const pglite = await PGlite.create({
    dataDir: opts.dataDir,
    loadDataDir: opts.loadDataDir,
    startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${SHARED_BUFFERS}`],
    // bytea (oid 17) parameters as hex via Buffer: PGlite's own serializer maps every byte to a JS
    // string (Array.from + map + join), ~4 s and most of the GC for the events insert's 2 MB
    // batch of 5,000 collector events; Buffer does it in ~50 ms (issue 17, bench:collect).
    serializers: { 17: (v: Uint8Array) => '\\x' + Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex') },
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
