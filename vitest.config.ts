import { defineConfig } from 'vitest/config';

/**
 * Three projects: pure unit tests once, and every storage/integration test twice — on PGlite and
 * on a real PostgreSQL (TEST_DATABASE_URL, set by scripts/test.mjs).
 */
const integration = (name: 'pglite' | 'postgres') => ({
  test: {
    name,
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    env: { TOLLGATE_TEST_DB: name },
    // CLI tests start Node processes (and initialise PGlite data dirs): seconds on a quiet
    // machine, a minute or more on a loaded 2-core one.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});

/**
 * Test files run in parallel forks. Most of a file's time is waiting — on PostgreSQL, on child
 * processes, on timers — so more workers than this 2-core VM's cores still shortens the run;
 * vitest's default here would be one (cores − 1). Each worker gets its own PostgreSQL database
 * (test/helpers/db.ts). TEST_WORKERS overrides.
 */
const WORKERS = Number(process.env.TEST_WORKERS ?? 3);
process.env.TOLLGATE_TEST_WORKERS = String(WORKERS);

export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: WORKERS,
    minWorkers: 1,
    projects: [
      { test: { name: 'unit', include: ['src/**/*.test.ts'], testTimeout: 60_000 } },
      integration('pglite'),
      integration('postgres'),
    ],
  },
});
