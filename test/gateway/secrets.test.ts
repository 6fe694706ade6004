import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { testApp, type TestApp } from '../helpers/app.ts';
import { kmsKeyProvider, localKeyProvider } from '../../src/secrets/crypto.ts';
import { secretService } from '../../src/secrets/service.ts';
import { fakeKms } from './fake-kms.ts';

let app: TestApp;
const master = randomBytes(32);
beforeAll(async () => {
  app = await testApp({ config: { 'secrets.master_key': master.toString('base64') } });
});
afterAll(() => app.close());

describe('secret store', () => {
  it('PUT/GET/DELETE /v1/secrets: values go in, only metadata comes out', async () => {
    const put = await app.request('PUT', '/v1/secrets/openai-prod', { body: { value: 'sk-live-abcdef', description: 'prod key' } });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ name: 'openai-prod', version: 1, description: 'prod key' });
    const again = await app.request('PUT', '/v1/secrets/openai-prod', { body: { value: 'sk-live-2' } });
    expect(again.body.version).toBe(2);
    const list = await app.request('GET', '/v1/secrets');
    const one = await app.request('GET', '/v1/secrets/openai-prod');
    for (const r of [put, again, list, one]) expect(JSON.stringify(r.body)).not.toMatch(/sk-live/);
    expect(list.body.data.map((s: any) => s.name)).toContain('openai-prod');
    expect(await app.tg.secrets.get('openai-prod')).toBe('sk-live-2');
    const raw = await app.db.query(`SELECT * FROM secrets WHERE name = 'openai-prod'`);
    expect(JSON.stringify(raw.rows)).not.toMatch(/sk-live/);
    expect((await app.request('DELETE', '/v1/secrets/openai-prod')).status).toBe(200);
    expect((await app.request('GET', '/v1/secrets/openai-prod')).status).toBe(404);
  });

  it('needs admin and validates the name', async () => {
    const reader = await app.key(['read']);
    expect((await app.request('PUT', '/v1/secrets/x', { body: { value: 'v' }, key: reader })).status).toBe(403);
    const bad = await app.request('PUT', '/v1/secrets/..bad', { body: { value: 'v' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe('name');
    const empty = await app.request('PUT', '/v1/secrets/ok', { body: { value: '' } });
    expect(empty.status).toBe(400);
    expect(empty.body.error.message).toMatch(/value/);
  });

  it('rotating the master key re-wraps every data key; old key no longer opens them', async () => {
    const svc = secretService(app.db, app.tg.clock, async () => localKeyProvider(master));
    await svc.set('a', 'value-a');
    await svc.set('b', 'value-b');
    const next = localKeyProvider(randomBytes(32));
    expect(await svc.rotateMasterKey(next)).toBeGreaterThanOrEqual(2);
    expect(await svc.get('a')).toBe('value-a');
    const withNew = secretService(app.db, app.tg.clock, async () => next);
    expect(await withNew.get('b')).toBe('value-b');
    const withOld = secretService(app.db, app.tg.clock, async () => localKeyProvider(master));
    await expect(withOld.get('a')).rejects.toThrow(/wrapped by master key/);
    // and onto a KMS key, through the same interface
    const kms = kmsKeyProvider('alias/tollgate', fakeKms());
    await withNew.rotateMasterKey(kms);
    const viaKms = secretService(app.db, app.tg.clock, async () => kms);
    expect(await viaKms.get('a')).toBe('value-a');
    const meta = await viaKms.list();
    expect(meta.find((m) => m.name === 'a')!.key_id).toBe('kms:alias/tollgate');
  });
});
