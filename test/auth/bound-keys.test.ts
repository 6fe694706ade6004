import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp, llmEvent, ADMIN_KEY, type TestApp } from '../helpers/app.ts';
import { authRoutesOf } from '../../src/http/server.ts';

let app: TestApp;
let teamAdmin: string;
beforeAll(async () => {
  app = await testApp();
  teamAdmin = await app.key(['admin'], { team: 'team-x' });
});
afterAll(() => app.close());

/** A path with its parameters filled, so the route is reached (its handler may still 404). */
const concrete = (url: string) => url.replace(/:[A-Za-z_]+/g, 'x').replace(/\*/g, 'x');

describe('defect: a team-bound admin key escaped its team', () => {
  it('creates keys only bound at least as narrowly as itself', async () => {
    const unbound = await app.request('POST', '/v1/keys', { key: teamAdmin, body: { name: 'escape', scopes: ['admin'] } });
    expect(unbound.status).toBe(403);
    expect(unbound.body.error).toMatchObject({ type: 'permission_denied', code: 'BINDING_ESCAPE', param: 'team' });
    const other = await app.request('POST', '/v1/keys', { key: teamAdmin, body: { name: 'other', scopes: ['read'], team: 'team-y' } });
    expect(other.status).toBe(403);
    const same = await app.request('POST', '/v1/keys', { key: teamAdmin, body: { name: 'same', scopes: ['read'], team: 'team-x' } });
    expect(same.status).toBe(201);
    const narrower = await app.request('POST', '/v1/keys', { key: teamAdmin, body: { name: 'user', scopes: ['read'], team: 'team-x', subject: 'u1' } });
    expect(narrower.status).toBe(201);
  });

  it('lists and revokes only keys of its own binding; another key answers 404', async () => {
    const list = await app.request('GET', '/v1/keys', { key: teamAdmin });
    expect(list.status).toBe(200);
    expect(list.body.data.length).toBeGreaterThan(0);
    expect(list.body.data.every((k: any) => k.team === 'team-x')).toBe(true);
    const all = (await app.request('GET', '/v1/keys')).body.data;
    const globalAdmin = all.find((k: any) => k.prefix === ADMIN_KEY.slice(0, 8));
    const revokeGlobal = await app.request('DELETE', `/v1/keys/${globalAdmin.id}`, { key: teamAdmin });
    expect(revokeGlobal.status).toBe(404);
    expect((await app.request('GET', '/v1/keys')).status).toBe(200); // the global admin still works
    const own = await app.request('POST', '/v1/keys', { key: teamAdmin, body: { name: 'doomed', scopes: ['read'], team: 'team-x' } });
    expect((await app.request('DELETE', `/v1/keys/${own.body.id}`, { key: teamAdmin })).status).toBe(200);
  });

  it('every global admin route refuses a bound admin key (table over all routes)', async () => {
    const routes = authRoutesOf(app.tg.server).filter((r) => r.scope === 'admin' && !r.allowBound);
    expect(routes.length).toBeGreaterThan(5);
    const subjectAdmin = await app.key(['admin'], { subject: 'u9' });
    for (const key of [teamAdmin, subjectAdmin]) {
      for (const r of routes) {
        const res = await app.request(r.method, concrete(r.url), { key, body: r.method === 'GET' || r.method === 'DELETE' ? undefined : {} });
        expect({ route: `${r.method} ${r.url}`, status: res.status, code: res.body?.error?.code }).toEqual({
          route: `${r.method} ${r.url}`,
          status: 403,
          code: 'GLOBAL_ADMIN_REQUIRED',
        });
      }
    }
    // Key management is the one admin area open to bound keys.
    expect(authRoutesOf(app.tg.server).filter((r) => r.allowBound).map((r) => r.url)).toEqual(expect.arrayContaining(['/v1/keys', '/v1/keys/:id']));
  });
});

describe('defect: authentication was checked after body validation', () => {
  it('every keyed route answers 401 without a key, whatever the body', async () => {
    const routes = authRoutesOf(app.tg.server);
    for (const r of routes) {
      const res = await app.request(r.method, concrete(r.url), { key: null, rawBody: '{"not":', headers: { 'content-type': 'application/json' } });
      expect({ route: `${r.method} ${r.url}`, status: res.status, code: res.body?.error?.code }).toEqual({
        route: `${r.method} ${r.url}`,
        status: 401,
        code: 'MISSING_API_KEY',
      });
    }
  });

  it('a DELETE with a JSON content type and no body is not a bad request', async () => {
    const noKey = await app.request('DELETE', '/v1/keys/key_nope', { key: null, headers: { 'content-type': 'application/json' } });
    expect(noKey.status).toBe(401);
    const withKey = await app.request('DELETE', '/v1/keys/key_nope', { headers: { 'content-type': 'application/json' } });
    expect(withKey.status).toBe(404);
  });
});

describe('defect: bodies and URLs the framework answered in its own shape', () => {
  it('text/plain on a JSON route is 415 in the error shape', async () => {
    const r = await app.request('POST', '/v1/keys', { rawBody: 'name=x', headers: { 'content-type': 'text/plain' } });
    expect(r.status).toBe(415);
    expect(r.body.error.code).toBe('UNSUPPORTED_CONTENT_TYPE');
  });

  it('a gzip-encoded ingest body is decoded; a broken one or an unknown encoding is refused clearly', async () => {
    const body = gzipSync(JSON.stringify([llmEvent('gz-1'), llmEvent('gz-2')]));
    const res = await app.tg.server.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json', 'content-encoding': 'gzip' },
      payload: body,
    });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ accepted: 2 });
    const broken = await app.tg.server.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json', 'content-encoding': 'gzip' },
      payload: Buffer.from('not gzip at all'),
    });
    expect(broken.statusCode).toBe(400);
    expect(broken.json().error).toMatchObject({ code: 'INVALID_BODY_ENCODING', param: 'body' });
    const zstd = await app.tg.server.inject({
      method: 'POST',
      url: '/v1/events',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json', 'content-encoding': 'zstd' },
      payload: Buffer.from('x'),
    });
    expect(zstd.statusCode).toBe(415);
    expect(zstd.json().error.code).toBe('UNSUPPORTED_CONTENT_ENCODING');
  });

  it('raw UTF-8 in a query string answers in the error shape, never Fastify\'s own', async () => {
    const { connect } = await import('node:net');
    const address = await app.tg.server.listen({ port: 0, host: '127.0.0.1' });
    const { port } = new URL(address);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write(Buffer.concat([Buffer.from('GET /v1/usage?filter[team]='), Buffer.from('팀-🎉'), Buffer.from(` HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${ADMIN_KEY}\r\n\r\n`)]));
      });
      let got = '';
      socket.on('data', (c) => (got += c));
      socket.on('end', () => resolve(got));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400/);
    const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));
    expect(body.error).toMatchObject({ type: 'invalid_request', code: 'INVALID_REQUEST', param: 'url' });
  });
});

describe('defect: doubled metric prefix', () => {
  it('process metrics are tollgate_process_*, not tollgate_process_process_*', async () => {
    const r = await app.request('GET', '/metrics', { key: null });
    expect(r.body).toContain('tollgate_process_cpu_user_seconds_total');
    expect(r.body).not.toContain('tollgate_process_process_');
  });
});
