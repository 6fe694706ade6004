import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDb, migrate } from '../../src/shared/db/index.ts';
import { TEST_DB } from '../helpers/db.ts';

/**
 * A new PGlite data directory starts from a template of a freshly initialised one when there is
 * one (src/shared/db/pglite.ts): an initdb leaves it, later directories load it, and a bad
 * template counts as none.
 */
const saved = process.env.TOLLGATE_PGLITE_TEMPLATE;
afterEach(() => {
  if (saved === undefined) delete process.env.TOLLGATE_PGLITE_TEMPLATE;
  else process.env.TOLLGATE_PGLITE_TEMPLATE = saved;
});

async function freshStore(): Promise<{ rows: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tollgate-template-'));
  const db = await openDb({ dataDir: dir });
  try {
    await migrate(db);
    const r = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM schema_migrations');
    return { rows: Number(r.rows[0]!.n) };
  } finally {
    await db.close();
  }
}

describe.runIf(TEST_DB === 'pglite')('PGlite data directory template', () => {
  it('a new directory with no usable template runs initdb and leaves one; the next new directory loads it', async () => {
    const template = path.join(mkdtempSync(path.join(os.tmpdir(), 'tollgate-tpl-')), 'pglite.tar');
    process.env.TOLLGATE_PGLITE_TEMPLATE = template;
    writeFileSync(template, 'not a tarball'); // a bad template is the same as none: initdb
    const first = await freshStore();
    const made = statSync(template);
    expect(made.size).toBeGreaterThan(1_000_000);
    const second = await freshStore();
    expect(second.rows).toBe(first.rows); // every migration applied on both
    expect(statSync(template).mtimeMs).toBe(made.mtimeMs); // loaded, not made again by an initdb
  });
});
