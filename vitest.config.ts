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

export default defineConfig({
  test: {
    pool: 'forks',
    projects: [
      { test: { name: 'unit', include: ['src/**/*.test.ts'], testTimeout: 60_000 } },
      integration('pglite'),
      integration('postgres'),
    ],
  },
});
