import { writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import os from 'node:os';
import type { TestProject } from 'vitest/node';
import pg from 'pg';
import { openPglite } from '../../src/shared/db/pglite.ts';
import { migrate } from '../../src/shared/db/index.ts';
import { BASE_DATABASE_URL, workerDatabaseUrl } from './worker-db.ts';

/**
 * PGlite's initdb takes seconds; do it and the migrations once, dump the data directory, and let
 * every test file start from the dump (~0.5 s).
 */
export default async function setup(project: TestProject) {
  if (project.name === 'postgres') return createWorkerDatabases();
  if (project.name !== 'pglite') return;
  const db = await openPglite();
  await migrate(db);
  const dump = await db.pglite.dumpDataDir('none');
  await db.close();
  const dir = await mkdir(path.join(os.tmpdir(), 'tollgate-test'), { recursive: true }).then(() => path.join(os.tmpdir(), 'tollgate-test'));
  const file = path.join(dir, `pglite-${process.pid}.tar`);
  await writeFile(file, Buffer.from(await dump.arrayBuffer()));
  project.provide('pgliteDump', file);
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteDump: string;
  }
}

/** One database per vitest worker (helpers/db.ts, workerDatabaseUrl), created once, kept between runs. */
async function createWorkerDatabases() {
  const workers = Number(process.env.TOLLGATE_TEST_WORKERS ?? 1);
  const admin = new pg.Client({ connectionString: BASE_DATABASE_URL });
  await admin.connect();
  try {
    for (let w = 1; w <= workers; w++) {
      const name = decodeURIComponent(new URL(workerDatabaseUrl(BASE_DATABASE_URL, String(w))).pathname.slice(1));
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (!exists.rowCount) await admin.query(`CREATE DATABASE "${name}"`);
    }
  } finally {
    await admin.end();
  }
}
