import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { testApp, llmEvent, type TestApp } from '../helpers/app.ts';
import { TEST_DB, TEST_DATABASE_URL, freshDb } from '../helpers/db.ts';
import { createTollgate } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/shared/log.ts';
import { migrate, loadMigrations } from '../../src/shared/db/index.ts';
import { openPostgres } from '../../src/shared/db/postgres.ts';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});
afterAll(() => app.close());

describe('server basics', () => {
  it('GET /healthz answers ok once the store is ready', async () => {
    const r = await app.request('GET', '/healthz', { key: null });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'ok' });
  });

  it('GET /metrics is Prometheus text with ingest counters', async () => {
    await app.request('POST', '/v1/events', { body: [llmEvent('m-1'), llmEvent('m-1')] });
    const r = await app.request('GET', '/metrics', { key: null });
    expect(r.status).toBe(200);
    expect(String(r.headers['content-type'])).toContain('text/plain');
    expect(r.body).toContain('tollgate_events_total{outcome="accepted"} 1');
    expect(r.body).toContain('tollgate_events_total{outcome="duplicate"} 1');
  });

  it('serves OpenAPI and a browsable reference', async () => {
    const spec = await app.request('GET', '/openapi.json', { key: null });
    expect(spec.status).toBe(200);
    expect(spec.body.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.body.paths)).toEqual(expect.arrayContaining(['/v1/events', '/v1/keys', '/v1/keys/{id}', '/v1/events/rejected']));
    const docs = await app.request('GET', '/docs/', { key: null });
    expect(docs.status).toBe(200);
    expect(String(docs.headers['content-type'])).toContain('text/html');
  });

  it('unknown routes get the error shape', async () => {
    const r = await app.request('GET', '/v1/nope');
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ error: { type: 'not_found', code: 'ROUTE_NOT_FOUND', message: 'no route GET /v1/nope' } });
  });
});

describe('migrations', () => {
  it('are safe to run twice', async () => {
    expect(await migrate(app.db)).toEqual([]);
    const n = (await loadMigrations()).length;
    const r = await app.db.query<{ n: string }>('SELECT count(*) AS n FROM schema_migrations');
    expect(Number(r.rows[0]!.n)).toBe(n);
  });

  it.runIf(TEST_DB === 'postgres')('are safe from two processes at once', async () => {
    const schema = 't_mig_' + Math.random().toString(36).slice(2, 10);
    const a = await openPostgres({ url: TEST_DATABASE_URL, schema });
    const b = await openPostgres({ url: TEST_DATABASE_URL, schema });
    try {
      const [ra, rb] = await Promise.all([migrate(a), migrate(b)]);
      const all = (await loadMigrations()).map((m) => m.name);
      expect([...ra, ...rb].sort()).toEqual(all.sort());
    } finally {
      await a.query(`DROP SCHEMA "${schema}" CASCADE`);
      await a.close();
      await b.close();
    }
  });
});

describe('durability', () => {
  it.runIf(TEST_DB === 'pglite')('data survives a restart on PGlite', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tollgate-restart-'));
    const config = loadConfig({ env: {}, cwd: '/nonexistent', overrides: { data_dir: dir, bootstrap_key: 'tg_restart_key_0123456789' } });
    const logger = createLogger('silent', false);
    try {
      const first = await createTollgate(config, { logger });
      await first.keys.bootstrap(config.bootstrap_key);
      const r = await first.server.inject({
        method: 'POST',
        url: '/v1/events',
        headers: { authorization: 'Bearer tg_restart_key_0123456789', 'content-type': 'application/json' },
        payload: JSON.stringify([llmEvent('keep-1'), llmEvent('keep-2')]),
      });
      expect(r.statusCode).toBe(202);
      await first.close();

      const second = await createTollgate(config, { logger });
      expect(await second.keys.bootstrap(config.bootstrap_key)).toEqual({ created: false });
      const list = await second.server.inject({ method: 'GET', url: '/v1/events', headers: { authorization: 'Bearer tg_restart_key_0123456789' } });
      expect(JSON.parse(list.body).data.map((e: any) => e.id).sort()).toEqual(['keep-1', 'keep-2']);
      const again = await second.server.inject({
        method: 'POST',
        url: '/v1/events',
        headers: { authorization: 'Bearer tg_restart_key_0123456789', 'content-type': 'application/json' },
        payload: JSON.stringify([llmEvent('keep-1')]),
      });
      expect(JSON.parse(again.body)).toEqual({ accepted: 0, duplicates: 1, rejected: [] });
      await second.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a failed store write answers 5xx and acknowledges nothing', async () => {
    const db = await freshDb();
    const broken = await testApp({ db });
    try {
      await db.query('ALTER TABLE events ADD CONSTRAINT no_model_x CHECK (model IS DISTINCT FROM \'boom\')');
      const r = await broken.request('POST', '/v1/events', { body: [llmEvent('ok-1'), llmEvent('boom-1', { data: { model: 'boom' } })] });
      expect(r.status).toBe(500);
      expect(r.body.error.type).toBe('internal_error');
      const n = await db.query<{ n: string }>("SELECT count(*) AS n FROM events WHERE id IN ('ok-1', 'boom-1')");
      expect(Number(n.rows[0]!.n)).toBe(0); // all or nothing: the batch was not half-stored
    } finally {
      await broken.close();
      await db.close();
    }
  });
});
