import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, llmEvent, testApp, type TestApp } from '../helpers/app.ts';
import { TEST_DB, TEST_DATABASE_URL } from '../helpers/db.ts';

let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});
afterAll(async () => {
  await t?.close();
});

const cookieOf = (h: Record<string, unknown>) => String(h['set-cookie'] ?? '').split(';')[0]!;

describe('dashboard session (POST/GET/DELETE /v1/session)', () => {
  it('signs in with an admin key: HttpOnly, SameSite=Strict cookie that works wherever a key does', async () => {
    const r = await t.request('POST', '/v1/session', { key: null, body: { key: ADMIN_KEY } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ scopes: ['admin'], read_only: false, team: null });
    expect(r.body.features).toMatchObject({ usage: true, summary: true });
    const set = String(r.headers['set-cookie']);
    expect(set).toMatch(/^tg_session=/);
    expect(set).toMatch(/HttpOnly/);
    expect(set).toMatch(/SameSite=Strict/);
    expect(set).toMatch(/Path=\//);
    const cookie = cookieOf(r.headers);
    const me = await t.request('GET', '/v1/session', { key: null, headers: { cookie } });
    expect(me.status).toBe(200);
    expect(me.body.name).toBe('bootstrap');
    const usage = await t.request('GET', '/v1/usage?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&window=day', { key: null, headers: { cookie } });
    expect(usage.status).toBe(200);
  });

  it('refuses a bad key and a key without read scope', async () => {
    expect((await t.request('POST', '/v1/session', { key: null, body: { key: 'tg_nope' } })).status).toBe(401);
    const ingest = await t.key(['ingest']);
    const r = await t.request('POST', '/v1/session', { key: null, body: { key: ingest } });
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('INSUFFICIENT_SCOPE');
  });

  it('a write with the cookie needs the CSRF header; with it, it goes through', async () => {
    const cookie = cookieOf((await t.request('POST', '/v1/session', { key: null, body: { key: ADMIN_KEY } })).headers);
    const body = { name: 'from the dashboard', scopes: ['read'] };
    const bare = await t.request('POST', '/v1/keys', { key: null, headers: { cookie }, body });
    expect(bare.status).toBe(403);
    expect(bare.body.error).toMatchObject({ code: 'CSRF_HEADER_REQUIRED', param: 'x-tollgate-csrf' });
    const ok = await t.request('POST', '/v1/keys', { key: null, headers: { cookie, 'x-tollgate-csrf': '1' }, body });
    expect(ok.status).toBe(201);
    // A bearer key needs no such header (API clients are not browsers).
    expect((await t.request('POST', '/v1/keys', { body })).status).toBe(201);
  });

  it('a read key signs in read-only and its cookie cannot write; a team key sees its team', async () => {
    const read = await t.key(['read'], { team: 'red' });
    const r = await t.request('POST', '/v1/session', { key: null, body: { key: read } });
    expect(r.body).toMatchObject({ read_only: true, team: 'red' });
    const cookie = cookieOf(r.headers);
    const w = await t.request('POST', '/v1/events', { key: null, headers: { cookie, 'x-tollgate-csrf': '1' }, body: llmEvent('s-1') });
    expect(w.status).toBe(403);
  });

  it('sign out clears the cookie; a revoked key ends its session', async () => {
    const out = await t.request('DELETE', '/v1/session', { key: null });
    expect(out.status).toBe(200);
    expect(String(out.headers['set-cookie'])).toMatch(/tg_session=;.*Max-Age=0/);
    const k = await t.request('POST', '/v1/keys', { body: { name: 'short-lived', scopes: ['read'] } });
    const cookie = cookieOf((await t.request('POST', '/v1/session', { key: null, body: { key: k.body.key } })).headers);
    await t.request('DELETE', `/v1/keys/${k.body.id}`);
    expect((await t.request('GET', '/v1/session', { key: null, headers: { cookie } })).status).toBe(401);
  });
});

describe('dashboard app at /', () => {
  it('serves the app with security headers and cache headers', async () => {
    const r = await t.request('GET', '/', { key: null });
    expect(r.status).toBe(200);
    expect(String(r.headers['content-type'])).toMatch(/text\/html/);
    const csp = String(r.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['cache-control']).toBe('no-cache');
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(String(r.body))?.[1];
    if (asset) {
      const a = await t.request('GET', asset, { key: null });
      expect(a.status).toBe(200);
      expect(a.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    }
  });

  it('leaves the API and unknown routes as they were', async () => {
    const r = await t.request('GET', '/v1/nope', { key: null });
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('ROUTE_NOT_FOUND');
    expect((await t.request('GET', '/healthz', { key: null })).headers['content-security-policy']).toBeUndefined();
  });
});

async function openStream(app: TestApp) {
    const address = await app.tg.server.listen({ port: 0, host: '127.0.0.1' });
    const ac = new AbortController();
    const res = await fetch(`${address}/v1/stream`, { headers: { authorization: `Bearer ${ADMIN_KEY}` }, signal: ac.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let buf = '';
    const until = async (re: RegExp, ms: number) => {
      const deadline = Date.now() + ms;
      while (!re.test(buf)) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no ${re} within ${ms} ms; got ${buf}`);
        const chunk = await Promise.race([reader.read(), new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`timeout; got ${buf}`)), left))]);
        if (chunk.done) break;
        buf += dec.decode(chunk.value);
      }
    };
    await until(/event: ready/, 2000);
    return { until, buf: () => buf, close: () => ac.abort() };
}

describe('GET /v1/stream', () => {
  it('pushes a usage event within 2 s of ingest', async () => {
    const s = await openStream(t);
    const start = Date.now();
    expect((await t.request('POST', '/v1/events', { body: [llmEvent('live-1'), llmEvent('live-2', { time: '2026-01-09T11:30:00Z' })] })).status).toBe(202);
    await s.until(/event: usage\ndata: (.*)\n/, 2000);
    expect(Date.now() - start).toBeLessThan(2000);
    const data = JSON.parse(/event: usage\ndata: (.*)\n/.exec(s.buf())![1]!);
    expect(data).toMatchObject({ events: 2, hours: ['2026-01-09T10:00:00.000Z', '2026-01-09T11:00:00.000Z'] });
    s.close();
  });

  it.runIf(TEST_DB === 'postgres')('reaches a stream served by another process on the same PostgreSQL (LISTEN/NOTIFY)', async () => {
    const a = await testApp({ db: t.db, config: { database_url: TEST_DATABASE_URL } });
    const b = await testApp({ db: t.db, config: { database_url: TEST_DATABASE_URL } });
    try {
      await new Promise((r) => setTimeout(r, 500)); // the listeners connect
      const s = await openStream(b);
      const start = Date.now();
      expect((await a.request('POST', '/v1/events', { body: [llmEvent('remote-1', { source: `x-${start}` })] })).status).toBe(202);
      await s.until(/event: usage\ndata: .*"events":1/, 2000);
      expect(Date.now() - start).toBeLessThan(2000);
      s.close();
    } finally {
      await a.tg.close();
      await b.tg.close();
    }
  });
});
