/**
 * Child process of crash.test.ts: decides one firing, then stops dead between the commit and the
 * send (the afterDecide hook never returns) so the parent can kill -9 it there.
 */
import { createTollgate } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/shared/log.ts';
import { fixedClock } from '../../src/shared/clock.ts';
import { migrate, openDb } from '../../src/shared/db/index.ts';
import { openPostgres } from '../../src/shared/db/postgres.ts';
import { levelSignal } from './helpers.ts';

const env = process.env;
const db = env.CHILD_SCHEMA ? await openPostgres({ url: env.CHILD_DATABASE_URL!, schema: env.CHILD_SCHEMA, max: 2 }) : await openDb({ dataDir: env.CHILD_DATA_DIR! });
if (env.CHILD_MODE === 'init') {
  // Only initialise and migrate the store (PGlite's initdb runs in a child Node process, which
  // the parent, under vitest, cannot start itself).
  await migrate(db);
  await db.close();
  process.exit(0);
}
const config = loadConfig({ env: { TOLLGATE_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1' }, cwd: '/nonexistent', overrides: { log_level: 'silent', 'alerts.rules_cache_ms': 0 } });
const tg = await createTollgate(config, { db, clock: fixedClock('2026-01-15T10:00:00Z'), logger: createLogger('silent', false), migrated: true });
const alerts = tg.alerts;
alerts.hooks.afterDecide.push(async (fired) => {
  process.stdout.write(`DECIDED ${fired.map((f) => f.id).join(',')}\n`);
  await new Promise(() => {});
});
await alerts.onSignal(levelSignal());
process.stdout.write('NOTHING FIRED\n');
