/**
 * One Tollgate OS process for test/quotas/processes.test.ts: createTollgate on the test
 * PostgreSQL schema named in the environment (already migrated by the test), its gateway pointed
 * at the test's fake upstream; prints `port=<n>` once listening and closes on SIGTERM.
 */
import type { AddressInfo } from 'node:net';
import { createTollgate } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/shared/log.ts';
import { openPostgres } from '../../src/shared/db/postgres.ts';

const env = process.env;
const db = await openPostgres({ url: env.CHILD_DATABASE_URL!, schema: env.CHILD_SCHEMA!, max: 8 });
const config = loadConfig({
  env: {},
  cwd: '/nonexistent',
  overrides: { bootstrap_key: env.CHILD_ADMIN_KEY!, log_level: 'silent', 'gateway.flush_interval_ms': 5, 'gateway.providers': { openai: { type: 'openai', base_url: `${env.CHILD_UPSTREAM}/v1`, api_key: 'sk-upstream' } } },
});
const tg = await createTollgate(config, { db, logger: createLogger('silent', false), migrated: true });
await tg.server.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`port=${(tg.server.server.address() as AddressInfo).port}\n`);
process.on('SIGTERM', () => {
  void tg
    .close()
    .then(() => db.close())
    .finally(() => process.exit(0));
});
