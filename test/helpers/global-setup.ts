import { writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import os from 'node:os';
import type { TestProject } from 'vitest/node';
import { openPglite } from '../../src/shared/db/pglite.ts';
import { migrate } from '../../src/shared/db/index.ts';

/**
 * PGlite's initdb takes seconds; do it and the migrations once, dump the data directory, and let
 * every test file start from the dump (~0.5 s).
 */
export default async function setup(project: TestProject) {
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
