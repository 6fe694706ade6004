/**
 * Which PostgreSQL database a vitest worker uses. Kept apart from db.ts, which imports vitest's
 * runtime: global-setup.ts runs in vitest's main process and may not import that.
 */

/** The PostgreSQL the run was given (scripts/test.mjs); each vitest worker uses a database of its own on it. */
export const BASE_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/tollgate_test';

/**
 * A worker's database: test files run in parallel workers, and advisory locks (jobs' exactly-once
 * windows, the meter-definition and rollup locks) are per database, not per schema — two files
 * sharing one database could take each other's. global-setup.ts creates them.
 */
export function workerDatabaseUrl(base = BASE_DATABASE_URL, pool = process.env.VITEST_POOL_ID ?? '1'): string {
  const u = new URL(base);
  u.pathname = `${u.pathname}_w${pool}`;
  return u.toString();
}
