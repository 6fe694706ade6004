import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { testApp, ADMIN_KEY, type TestApp } from '../helpers/app.ts';
import { TEST_DB } from '../helpers/db.ts';
import { createQuotaClient, QuotaExceededError, TollgateError } from '../../src/client/index.ts';

/** `tollgate/client` check/reserve/settle and `tollgate quota …` against a real listening server. */
let app: TestApp;
let base = '';
let ent = '';
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

beforeAll(async () => {
  app = await testApp();
  await app.tg.server.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.tg.server.server.address() as AddressInfo).port}`;
  const e = await app.request('POST', '/v1/entitlements', { body: { subject: 'u1', meter: 'llm_tokens', period: 'month', tz: 'Asia/Seoul', thresholds: { warning: 0.9, critical: 0.95, block: 1.05 }, purchase_url: 'https://example.com/buy' } });
  ent = e.body.id;
  await app.request('POST', `/v1/entitlements/${ent}/grants`, { body: { amount: '1000', kind: 'free', priority: 10, recurring: 'month', effective_at: ago(86_400_000) } });
  await app.request('POST', '/v1/events', { body: [{ specversion: '1.0', id: 'seed', source: 'seed', type: 'llm.usage', time: ago(60_000), subject: 'u1', data: { provider: 'openai', model: 'gpt-4o', input_tokens: 800, output_tokens: 0 } }] });
});
afterAll(async () => {
  await app?.close();
});

describe('tollgate/client quota: check, reserve, settle, release', () => {
  it('a subject-bound app checks, holds room, settles it and is refused past the block threshold', async () => {
    const key = await app.key(['gateway'], { subject: 'u1' });
    const q = createQuotaClient({ baseUrl: base, apiKey: key });
    // The bound key needs no target: its subject is the target.
    expect(await q.check({})).toMatchObject({ entitlement_id: ent, allowed: true, level: 'ok', remaining: '250', balance: '200' });
    expect(await q.check({ amount: 251 })).toMatchObject({ allowed: false, level: 'blocked' });

    const r = await q.reserve({ amount: 120, ttl_s: 60 });
    expect(r).toMatchObject({ allowed: true, level: 'warning', remaining: '130' });
    expect(r.id).toMatch(/^res_/);
    // Held room counts for everyone (check is advisory but sees what is held).
    expect(await q.check({ amount: 131 })).toMatchObject({ allowed: false });
    expect(await q.settle(r.id!, '100.5')).toEqual({ id: r.id, settled: 1 });
    // Settling twice is an error in Tollgate's shape.
    const twice = await q.settle(r.id!, 1).catch((e) => e);
    expect(twice).toBeInstanceOf(TollgateError);
    expect(twice).toMatchObject({ status: 404, type: 'not_found' });

    const big = await q.reserve({ amount: 200 });
    expect(big).toMatchObject({ allowed: false, id: null, level: 'blocked' });
    const r2 = await q.reserve({ amount: 10 });
    expect(await q.release(r2.id!)).toEqual({ id: r2.id, released: 1 });

    // withReservation: settled on success, released on a throw, refused without calling fn.
    const used = await q.withReservation({ amount: 20 }, async () => ({ result: 'answer', actual: 15 }));
    expect(used).toBe('answer');
    await expect(q.withReservation({ amount: 20 }, async () => { throw new Error('provider down'); })).rejects.toThrow('provider down');
    let called = false;
    const refused = await q.withReservation({ amount: 500 }, async () => { called = true; return { result: 1, actual: 1 }; }).catch((e) => e);
    expect(refused).toBeInstanceOf(QuotaExceededError);
    expect(called).toBe(false);
    const v = await app.request('GET', `/v1/entitlements/${ent}/value`);
    expect(v.body.reserved).toBe('115.5'); // 100.5 + 15 held until metered; the released ones gave their room back
  });

  it('a bound key cannot act for another subject; a bad key or amount fails clearly', async () => {
    const key = await app.key(['gateway'], { subject: 'u1' });
    const q = createQuotaClient({ baseUrl: base, apiKey: key });
    await expect(q.check({ subject: 'u2' })).rejects.toMatchObject({ status: 403, code: 'BOUND_KEY', param: 'subject' });
    await expect(createQuotaClient({ baseUrl: base, apiKey: 'tg_nope' }).check({ subject: 'u1' })).rejects.toMatchObject({ status: 401 });
    await expect(q.reserve({ amount: -1 })).rejects.toThrow(TypeError);
    await expect(createQuotaClient({ baseUrl: 'http://127.0.0.1:9', apiKey: key }).check({})).rejects.toMatchObject({ code: 'UNREACHABLE' });
  });
});

const run = promisify(execFile);
const BIN = path.resolve('bin/tollgate.mjs');
const tollgate = (args: string[]) =>
  run(process.execPath, [BIN, 'quota', ...args, '--url', base], { env: { ...process.env, TOLLGATE_API_KEY: ADMIN_KEY }, timeout: 60_000 }).then(
    (r) => ({ code: 0, ...r }),
    (e) => ({ code: e.code as number, stdout: e.stdout as string, stderr: e.stderr as string }),
  );

// The CLI is a thin HTTP adapter (the store behind it is tested on both by the client tests above);
// its process spawns are slow, so it runs once, on PGlite.
describe.runIf(TEST_DB === 'pglite')('tollgate quota show | grant | void | check', () => {
  it('each subcommand has --help', async () => {
    const r = await run(process.execPath, [BIN, 'quota', '--help'], { timeout: 60_000 });
    for (const c of ['show', 'grant', 'void', 'check']) expect(r.stdout).toContain(c);
    const g = await tollgate(['grant', '--help']);
    expect(g.stdout).toContain('--amount');
  });

  it('grants, shows, checks and voids over the API', async () => {
    const g = await tollgate(['grant', ent, '--amount', '5000', '--kind', 'purchased', '--json']);
    expect(g.code).toBe(0);
    const grant = JSON.parse(g.stdout);
    expect(grant).toMatchObject({ amount: '5000', kind: 'purchased', priority: 1 });
    const shown = await tollgate(['show', '--subject', 'u1']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`${ent}  llm_tokens`);
    expect(shown.stdout).toContain('usage 800 of 6000 available');
    expect(shown.stdout).toContain(`grant ${grant.id}  purchased`);
    const ok = await tollgate(['check', '--subject', 'u1', '--amount', '100']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^allowed {2}level ok/);
    const v = await tollgate(['void', ent, grant.id]);
    expect(v.stdout).toContain(`voided ${grant.id}`);
    const no = await tollgate(['check', '--subject', 'u1', '--amount', '5000']);
    expect(no.code).toBe(3);
    expect(no.stdout).toMatch(/^refused {2}level blocked/);
    const bad = await tollgate(['grant', ent, '--amount', '1', '--kind', 'gift']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--kind');
  }, 180_000); // seven CLI processes: slow on a loaded 2-core machine
});
