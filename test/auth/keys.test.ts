import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp, llmEvent, ADMIN_KEY, type TestApp } from '../helpers/app.ts';
import { isPromise } from '../../src/shared/awaitable.ts';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});
afterAll(() => app.close());

describe('keys', () => {
  it('creates a key whose secret is shown once and stored hashed', async () => {
    const r = await app.request('POST', '/v1/keys', { body: { name: 'ingester', scopes: ['ingest'], team: 'ml' } });
    expect(r.status).toBe(201);
    expect(r.body.key).toMatch(/^tg_[A-Za-z0-9]{40}$/);
    expect(r.body).toMatchObject({ name: 'ingester', scopes: ['ingest'], team: 'ml', subject: null, revoked_at: null });
    const list = await app.request('GET', '/v1/keys');
    const listed = list.body.data.find((k: any) => k.id === r.body.id);
    expect(listed).toBeDefined();
    expect(JSON.stringify(list.body)).not.toContain(r.body.key);
    const raw = await app.db.query<any>('SELECT key_hash FROM api_keys WHERE id = $1', [r.body.id]);
    expect(raw.rows[0].key_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(raw.rows[0].key_hash).not.toContain(r.body.key);
  });

  it('validates the body, naming the field', async () => {
    const r = await app.request('POST', '/v1/keys', { body: { name: 'x', scopes: ['superuser'] } });
    expect(r.status).toBe(400);
    expect(r.body.error.type).toBe('invalid_request');
    expect(r.body.error.param).toBe('scopes.0');
    const r2 = await app.request('POST', '/v1/keys', { body: { scopes: ['read'] } });
    expect(r2.status).toBe(400);
    expect(r2.body.error.param).toBe('name');
    const r3 = await app.request('POST', '/v1/keys', { body: { name: 'x', scopes: ['read'], colour: 'red' } });
    expect(r3.status).toBe(400);
  });

  it('revoking a key makes it fail at once', async () => {
    const secret = await app.key(['read']);
    expect((await app.request('GET', '/v1/events', { key: secret })).status).toBe(200);
    const id = (await app.request('GET', '/v1/keys')).body.data.find((k: any) => k.prefix === secret.slice(0, 8)).id;
    const del = await app.request('DELETE', `/v1/keys/${id}`);
    expect(del.status).toBe(200);
    expect(del.body.revoked_at).not.toBeNull();
    const after = await app.request('GET', '/v1/events', { key: secret });
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('INVALID_API_KEY');
    expect((await app.request('DELETE', '/v1/keys/key_nope')).status).toBe(404);
  });

  it('a long chosen secret authenticates and revokes like any key; its hash is not a key', async () => {
    const secret = 'tg_' + 'long-chosen-secret-'.repeat(10); // over 128 characters: cached by its hash
    const { key } = await app.tg.keys.create({ name: 'long', scopes: ['read'], secret });
    expect((await app.request('GET', '/v1/events', { key: secret })).status).toBe(200);
    expect((await app.request('GET', '/v1/events', { key: secret })).status).toBe(200); // from the cache
    const [{ key_hash }] = (await app.db.query<any>('SELECT key_hash FROM api_keys WHERE id = $1', [key.id])).rows;
    expect((await app.request('GET', '/v1/events', { key: key_hash })).status).toBe(401);
    await app.request('DELETE', `/v1/keys/${key.id}`);
    expect((await app.request('GET', '/v1/events', { key: secret })).status).toBe(401);
  });

  it('a cached answer comes back synchronously; a miss, an unknown key and a revoke go to the store', async () => {
    const secret = await app.key(['gateway']);
    const first = app.tg.keys.authenticate(secret);
    expect(isPromise(first)).toBe(true); // not cached yet
    const p = await first;
    const again = app.tg.keys.authenticate(secret);
    expect(isPromise(again)).toBe(false);
    expect(again).toEqual(p);
    const unknown = 'tg_' + 'x'.repeat(40);
    expect(await app.tg.keys.authenticate(unknown)).toBeUndefined();
    expect(app.tg.keys.authenticate(unknown)).toBeUndefined(); // the refusal is cached too, synchronously
    await app.tg.keys.revoke(p!.keyId);
    const after = app.tg.keys.authenticate(secret);
    expect(isPromise(after)).toBe(true); // the revoke cleared the cache
    expect(await after).toBeUndefined();
  });

  it('bootstrap happens once: with keys present nothing is created', async () => {
    const r = await app.tg.keys.bootstrap('tg_another_bootstrap_key_123');
    expect(r).toEqual({ created: false });
  });
});

describe('authentication and scopes on every route', () => {
  const routes: Array<[string, string, string, unknown?]> = [
    ['POST', '/v1/events', 'ingest', llmEvent('scope-probe')],
    ['GET', '/v1/events', 'read'],
    ['GET', '/v1/events/rejected', 'read'],
    ['POST', '/v1/keys', 'admin', { name: 'n', scopes: ['read'] }],
    ['GET', '/v1/keys', 'admin'],
    ['DELETE', '/v1/keys/key_x', 'admin'],
  ];
  const allScopes = ['read', 'ingest', 'gateway'];

  it.each(routes)('%s %s: 401 without a key, 401 with a bad key', async (method, url, _scope, body) => {
    const none = await app.request(method, url, { key: null, body });
    expect(none.status).toBe(401);
    expect(none.body.error).toMatchObject({ type: 'authentication_error', code: 'MISSING_API_KEY' });
    const bad = await app.request(method, url, { key: 'tg_wrong', body });
    expect(bad.status).toBe(401);
    expect(bad.body.error.code).toBe('INVALID_API_KEY');
  });

  it.each(routes)('%s %s: 403 for keys without the %s scope', async (method, url, scope, body) => {
    for (const s of allScopes.filter((x) => x !== scope)) {
      const key = await app.key([s]);
      const r = await app.request(method, url, { key, body });
      expect(r.status, `${s} on ${method} ${url}`).toBe(403);
      expect(r.body.error).toMatchObject({ type: 'permission_denied', code: 'INSUFFICIENT_SCOPE' });
    }
  });

  it('admin implies every scope', async () => {
    expect((await app.request('GET', '/v1/events', { key: ADMIN_KEY })).status).toBe(200);
  });

  it('accepts the key as x-api-key too', async () => {
    const r = await app.request('GET', '/v1/events', { key: null, headers: { 'x-api-key': ADMIN_KEY } });
    expect(r.status).toBe(200);
  });
});

describe('bound keys', () => {
  it('an ingest key bound to a team stamps it and refuses other teams', async () => {
    const key = await app.key(['ingest'], { team: 'red' });
    const r = await app.request('POST', '/v1/events', { key, body: [llmEvent('bound-1'), llmEvent('bound-2', { data: { team: 'blue' } })] });
    expect(r.status).toBe(202);
    expect(r.body.accepted).toBe(1);
    expect(r.body.rejected[0]).toMatchObject({ index: 1, error: 'data.team must be "red" (this key is bound to it)' });
    const row = (await app.db.query<any>("SELECT team, data FROM events WHERE id = 'bound-1'")).rows[0];
    expect(row.team).toBe('red');
    expect(row.data.team).toBe('red');
  });

  it('a read key bound to a team sees only that team', async () => {
    await app.request('POST', '/v1/events', { body: [llmEvent('team-a', { data: { team: 'a' } }), llmEvent('team-b', { data: { team: 'b' } })] });
    const key = await app.key(['read'], { team: 'a' });
    const r = await app.request('GET', '/v1/events?limit=1000', { key });
    const ids = r.body.data.map((e: any) => e.id);
    expect(ids).toContain('team-a');
    expect(ids).not.toContain('team-b');
  });
});
