import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { testApp } from '../helpers/app.ts';
import { TEST_DB, TEST_DATABASE_URL } from '../helpers/db.ts';
import { fixedClock } from '../../src/shared/clock.ts';
import { migrate, openDb, type Db } from '../../src/shared/db/index.ts';
import { openPostgres } from '../../src/shared/db/postgres.ts';
import { ALERT_CONFIG, ALERT_ENV, levelSignal, webhookListener } from './helpers.ts';

/** A store a child process can open too: a PGlite data dir, or a schema on the test PostgreSQL. */
async function sharedStore(): Promise<{ env: Record<string, string>; open: () => Promise<Db>; drop: () => Promise<unknown> }> {
  if (TEST_DB === 'pglite') {
    const dir = await mkdtemp(path.join(tmpdir(), 'tg-alerts-crash-'));
    return { env: { CHILD_DATA_DIR: dir }, open: () => openDb({ dataDir: dir }), drop: () => rm(dir, { recursive: true, force: true }) };
  }
  const schema = 't_' + randomBytes(6).toString('hex');
  return {
    env: { CHILD_SCHEMA: schema, CHILD_DATABASE_URL: TEST_DATABASE_URL },
    open: () => openPostgres({ url: TEST_DATABASE_URL, schema, max: 4 }),
    async drop() {
      const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    },
  };
}

const CHILD = path.join(import.meta.dirname, 'crash-child.ts');

function runChild(env: Record<string, string>) {
  return spawn(process.execPath, ['--import', 'tsx', CHILD], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('a crash between deciding and sending', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('kill -9 after the decision commits: delivered exactly once after restart, with the same id', async () => {
    const hook = await webhookListener();
    cleanups.push(() => hook.close());
    const store = await sharedStore();
    cleanups.push(store.drop);
    const clock = fixedClock('2026-01-15T10:00:00Z');

    if (TEST_DB === 'pglite') {
      const init = runChild({ ...store.env, CHILD_MODE: 'init' });
      let initErr = '';
      init.stderr.on('data', (c) => (initErr += c));
      expect(await new Promise((res) => init.on('exit', res)), initErr).toBe(0);
    }
    let db: Db = await store.open();
    await migrate(db);
    let app = await testApp({ db, clock, env: ALERT_ENV, config: ALERT_CONFIG });
    const r = await app.request('POST', '/v1/alerts/rules', { body: { name: 'crash', on: 'entitlement.level', channels: [{ type: 'webhook', url: hook.url }] } });
    expect(r.status).toBe(201);
    await app.close();
    await db.close();

    // The child decides, prints, and hangs before sending; we kill it there.
    const child = runChild(store.env);
    let out = '';
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    const firingId = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (c) => {
        out += c;
        const m = /DECIDED (\S+)/.exec(out);
        if (m) resolve(m[1]!);
        if (out.includes('NOTHING FIRED')) reject(new Error('the child fired nothing'));
      });
      child.on('exit', (code) => reject(new Error(`child exited (${code}) before deciding: ${err}`)));
    });
    const exited = new Promise((res) => child.on('exit', (_code, signal) => res(signal)));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(hook.received).toHaveLength(0);

    // Restart: the outbox row survived; it is sent once, carrying the decided firing's id.
    db = await store.open();
    app = await testApp({ db, clock, env: ALERT_ENV, config: ALERT_CONFIG });
    cleanups.push(async () => {
      await app.close();
      await db.close();
    });
    const alerts = app.tg.alerts;
    // The same signal arriving again (or the sweep) does not decide a second firing.
    expect(await alerts.onSignal(levelSignal())).toHaveLength(0);
    expect(await alerts.deliverDue()).toEqual({ sent: 1, retrying: 0, failed: 0 });
    expect(await alerts.deliverDue()).toEqual({ sent: 0, retrying: 0, failed: 0 });
    expect(hook.received.map((x) => x.json.id)).toEqual([firingId]);
  }, 300_000);
});
