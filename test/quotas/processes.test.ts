import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import OpenAI from 'openai';
import { testApp, ADMIN_KEY, type TestApp } from '../helpers/app.ts';
import { freshDb, TEST_DB, TEST_DATABASE_URL } from '../helpers/db.ts';
import type { Db } from '../../src/shared/db/index.ts';
import { estimateCallTokens } from '../../src/gateway/estimate.ts';
import { startFakeOpenAI, type FakeOpenAI } from './upstream.ts';

/**
 * Issue 15's two-process case with real OS processes: two `createTollgate` servers
 * (test/quotas/serve-child.ts, each its own Node process, pool and slices of room) on one
 * PostgreSQL schema, 200 concurrent calls through the official `openai` SDK split between them,
 * against one nearly exhausted entitlement. PostgreSQL only (PGlite is one process's database).
 */
let db: Db;
let up: FakeOpenAI;
let admin: TestApp;
const kids: Array<{ proc: ChildProcess; base: string }> = [];
let key = '';

function child(schema: string): Promise<{ proc: ChildProcess; base: string }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', new URL('./serve-child.ts', import.meta.url).pathname], {
    env: { ...process.env, CHILD_DATABASE_URL: TEST_DATABASE_URL, CHILD_SCHEMA: schema, CHILD_ADMIN_KEY: ADMIN_KEY, CHILD_UPSTREAM: up.url },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((ok, fail) => {
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += String(d);
      const m = /port=(\d+)/.exec(out);
      if (m) ok({ proc, base: `http://127.0.0.1:${m[1]}` });
    });
    proc.once('exit', (c) => fail(new Error(`child exited with ${c}`)));
  });
}

describe.skipIf(TEST_DB !== 'postgres')('two Tollgate OS processes on one PostgreSQL', () => {
  beforeAll(async () => {
    up = await startFakeOpenAI();
    db = await freshDb();
    admin = await testApp({ db });
    const schema = (await db.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]!.s;
    kids.push(...(await Promise.all([child(schema), child(schema)])));
    key = (await admin.request('POST', '/v1/keys', { body: { name: 'app', scopes: ['gateway'], team: 'acme' } })).body.key;
  }, 60_000);

  afterAll(async () => {
    await Promise.all(kids.map((k) => new Promise((r) => (k.proc.exitCode !== null ? r(null) : (k.proc.once('exit', r), k.proc.kill('SIGTERM'))))));
    await admin?.close();
    await db?.close();
    await up?.close();
  });

  it('200 concurrent openai SDK calls split over two processes never pass the block threshold by more than one call\'s overrun; nothing left open', async () => {
    const BODY = { model: 'gpt-4o', max_tokens: 40, messages: [{ role: 'user' as const, content: 'Count to three.' }] };
    const est = await estimateCallTokens(BODY, 'gpt-4o');
    // 100,000 granted, block at 105,000, 104,000 already used: room for ~1,000 / est calls.
    const e = await admin.request('POST', '/v1/entitlements', { body: { subject: 'os-1', meter: 'llm_tokens', period: 'month', tz: 'UTC', thresholds: { warning: 0.9, critical: 0.95, block: 1.05 } } });
    await admin.request('POST', `/v1/entitlements/${e.body.id}/grants`, { body: { amount: '100000', kind: 'free', priority: 10, effective_at: new Date(Date.now() - 86_400_000).toISOString() } });
    const seed = Array.from({ length: 100 }, (_, i) => ({ specversion: '1.0', id: `os-seed-${i}`, source: 'seed', type: 'llm.usage', time: new Date(Date.now() - 60_000).toISOString(), subject: 'os-1', data: { provider: 'openai', model: 'gpt-4o', team: 'acme', input_tokens: 1040, output_tokens: 0 } }));
    expect((await admin.request('POST', '/v1/events', { body: seed })).status).toBe(202);

    const clients = kids.map((k) => new OpenAI({ baseURL: `${k.base}/openai/v1`, apiKey: key, maxRetries: 0, defaultHeaders: { 'x-tollgate-subject': 'os-1' } }));
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        try {
          if (i % 4) await clients[i % 2]!.chat.completions.create(BODY);
          else for await (const _c of await clients[i % 2]!.chat.completions.create({ ...BODY, stream: true }));
          return 'ok';
        } catch (err: any) {
          return err?.status === 429 ? 'refused' : `other: ${err?.status} ${err?.message}`;
        }
      }),
    );
    expect(outcomes.filter((o) => o.startsWith('other'))).toEqual([]);
    const ok = outcomes.filter((o) => o === 'ok').length;

    // Both processes give their slices back (idle) and flush their events; then nothing is open.
    const end = Date.now() + 15_000;
    const open = async () => Number((await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM quota_reservations WHERE state = 'open'`)).rows[0]!.n);
    const recorded = async () => (await db.query<{ total: string; calls: string; max: string }>(
      `SELECT COALESCE(sum(input_tokens + output_tokens), 0)::text AS total, count(*)::text AS calls, COALESCE(max(input_tokens + output_tokens), 0)::text AS max
         FROM events WHERE source = 'tollgate-gateway' AND subject = 'os-1'`,
    )).rows[0]!;
    while ((await open()) > 0 || Number((await recorded()).calls) < ok) {
      if (Date.now() > end) throw new Error(`${await open()} reservation(s) open, ${(await recorded()).calls} of ${ok} calls recorded`);
      await new Promise((r) => setTimeout(r, 25));
    }
    const rec = await recorded();
    console.info(`two OS processes: ${ok} admitted, ${200 - ok} refused; ${rec.total} tokens recorded; estimate ${est}`);
    expect(Number(rec.calls)).toBe(ok);
    // Each call's usage is its estimate (overrun 0), so the threshold is never passed at all.
    expect(Number(rec.max)).toBeLessThanOrEqual(est);
    expect(104_000 + Number(rec.total)).toBeLessThanOrEqual(105_000);
    expect(ok).toBeGreaterThan(0);
    expect(200 - ok).toBeGreaterThan(50);
    expect(await open()).toBe(0);
  }, 30_000);
});
