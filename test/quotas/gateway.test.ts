import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { testApp, type TestApp } from '../helpers/app.ts';
import { freshDb, TEST_DB, TEST_DATABASE_URL } from '../helpers/db.ts';
import { openPostgres } from '../../src/shared/db/postgres.ts';
import type { Db } from '../../src/shared/db/index.ts';
import { estimateCallTokens } from '../../src/gateway/estimate.ts';
import { startFakeOpenAI, type FakeOpenAI } from './upstream.ts';

/**
 * The quota gate through the gateway (issue 15, step 4): two Tollgate instances on one database
 * (on PostgreSQL two connection pools, as two processes would have; on PGlite one database), the
 * official `openai` SDK as the client, a local upstream whose usage equals each call's estimate.
 */
let db: Db;
let db2: Db | undefined;
let up: FakeOpenAI;
const inst: Array<{ app: TestApp; base: string }> = [];
let key = '';

async function instance(d: Db) {
  const app = await testApp({
    db: d,
    config: { 'gateway.flush_interval_ms': 5, 'gateway.providers': { openai: { type: 'openai', base_url: `${up.url}/v1`, api_key: 'sk-upstream' } } },
  });
  await app.tg.server.listen({ port: 0, host: '127.0.0.1' });
  return { app, base: `http://127.0.0.1:${(app.tg.server.server.address() as AddressInfo).port}` };
}

beforeAll(async () => {
  up = await startFakeOpenAI();
  db = await freshDb();
  if (TEST_DB === 'postgres') {
    const schema = (await db.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]!.s;
    db2 = await openPostgres({ url: TEST_DATABASE_URL, schema, max: 8 });
  }
  inst.push(await instance(db), await instance(db2 ?? db));
  // One team-bound key; each call names its end user with x-tollgate-subject.
  key = (await inst[0]!.app.request('POST', '/v1/keys', { body: { name: 'app', scopes: ['gateway'], team: 'acme' } })).body.key;
});

afterAll(async () => {
  for (const i of inst) await i.app.close();
  await db2?.close();
  await db?.close();
  await up?.close();
});

const A = () => inst[0]!.app;
const sdk = (i: number, subject: string) =>
  new OpenAI({ baseURL: `${inst[i]!.base}/openai/v1`, apiKey: key, maxRetries: 0, defaultHeaders: { 'x-tollgate-subject': subject } });
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

/** An entitlement for `subject` with one free grant, and `used` tokens already metered (in `n` requests). */
async function entitlement(subject: string, grant: string, used: number, o: { meter?: string; n?: number; filter?: object; purchase_url?: string } = {}) {
  const e = await A().request('POST', '/v1/entitlements', {
    body: { subject, meter: o.meter ?? 'llm_tokens', period: 'month', tz: 'UTC', thresholds: { warning: 0.9, critical: 0.95, block: 1.05 }, purchase_url: o.purchase_url ?? 'https://example.com/buy', ...(o.filter ? { filter: o.filter } : {}) },
  });
  expect(e.status).toBe(201);
  const g = await A().request('POST', `/v1/entitlements/${e.body.id}/grants`, { body: { amount: grant, kind: 'free', priority: 10, effective_at: ago(86_400_000) } });
  expect(g.status).toBe(201);
  const n = o.n ?? 1;
  if (used) {
    const evs = Array.from({ length: n }, (_, i) => ({ specversion: '1.0', id: `${subject}-seed-${i}`, source: 'seed', type: 'llm.usage', time: ago(60_000), subject, data: { provider: 'openai', model: 'gpt-4o', team: 'acme', input_tokens: used / n, output_tokens: 0 } }));
    expect((await A().request('POST', '/v1/events', { body: evs })).status).toBe(202);
  }
  return e.body.id as string;
}

const BODY = { model: 'gpt-4o', max_tokens: 40, messages: [{ role: 'user' as const, content: 'Count to three.' }] };

async function settledAll() {
  const q = A().tg.quotas.service.store;
  const end = Date.now() + 15_000;
  while ((await q.openReservations()) > 0) {
    if (Date.now() > end) throw new Error(`${await q.openReservations()} reservation(s) still open`);
    await new Promise((r) => setTimeout(r, 20));
  }
  for (const i of inst) await i.app.tg.gateway.flush();
}

async function recorded(subject: string): Promise<{ total: number; calls: number; max: number }> {
  const r = await db.query<{ total: string; calls: string; max: string }>(
    `SELECT COALESCE(sum(input_tokens + output_tokens + cache_read_tokens + cache_write_tokens), 0)::text AS total, count(*)::text AS calls,
            COALESCE(max(input_tokens + output_tokens + cache_read_tokens + cache_write_tokens), 0)::text AS max
       FROM events WHERE source = 'tollgate-gateway' AND subject = $1`,
    [subject],
  );
  return { total: Number(r.rows[0]!.total), calls: Number(r.rows[0]!.calls), max: Number(r.rows[0]!.max) };
}

describe('quota gate through the gateway', () => {
  it('warning and critical add the headers; over the block threshold the DESIGN.md 429', async () => {
    const est = await estimateCallTokens(BODY, 'gpt-4o');
    // 1,000 available, block at 1,050. Ten seeded requests make the 7-day average per request.
    await entitlement('warn-1', '1000', 890, { n: 10 });
    await entitlement('crit-1', '1000', 940, { n: 10 });
    await entitlement('block-1', '1000', 1050 - est + 1);

    const w = await sdk(0, 'warn-1').chat.completions.create(BODY).withResponse();
    const wh = w.response.headers;
    const held = 890 + est; // usage so far plus this call's reservation
    expect(wh.get('x-tollgate-quota-level')).toBe('warning');
    expect(wh.get('x-tollgate-remaining-tokens')).toBe(String(1050 - held));
    expect(wh.get('x-tollgate-remaining-percent')).toBe(String(Number(((1 - held / 1000) * 100).toFixed(2))));
    expect(wh.get('x-tollgate-estimated-turns')).toBe(String(Math.floor((1000 - held) / 89)));
    expect(wh.get('x-tollgate-purchase-url')).toBe('https://example.com/buy');

    const c = await sdk(1, 'crit-1').chat.completions.create(BODY).withResponse();
    expect(c.response.headers.get('x-tollgate-quota-level')).toBe('critical');
    expect(c.response.headers.get('x-tollgate-remaining-tokens')).toBe(String(1050 - 940 - est));

    const ok = await sdk(0, 'nobody').chat.completions.create(BODY).withResponse();
    expect(ok.response.headers.get('x-tollgate-quota-level')).toBeNull();

    // The raw 429 body, then what the SDK makes of it.
    const r = await fetch(`${inst[0]!.base}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-tollgate-subject': 'block-1' },
      body: JSON.stringify(BODY),
    });
    expect(r.status).toBe(429);
    const b = await r.json();
    const monthEnd = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth() + 1, 1)).toISOString();
    expect(b).toEqual({
      error: { type: 'quota_exceeded', code: 'TOKEN_EXHAUSTED', message: expect.any(String), remaining_tokens: String(est - 1), recommended_action: 'PURCHASE_TOKENS', purchase_url: 'https://example.com/buy', resets_at: monthEnd },
    });
    const err = await sdk(1, 'block-1').chat.completions.create(BODY).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.status).toBe(429);
    expect(err.error).toMatchObject({ type: 'quota_exceeded', code: 'TOKEN_EXHAUSTED', recommended_action: 'PURCHASE_TOKENS' });
    await settledAll();
  });

  it('a USD budget (llm_cost) reserves the priced estimate and settles to the real cost', async () => {
    const est = await estimateCallTokens(BODY, 'gpt-4o');
    // gpt-4o: $2.50 / M input, $10 / M output; the estimate priced all as output is the upper bound.
    const bound = (est * 10) / 1e6;
    const id = await entitlement('budget-1', '0.01', 0, { meter: 'llm_cost', filter: { provider: 'openai' } });
    await sdk(0, 'budget-1').chat.completions.create(BODY);
    await settledAll();
    const ev = (await db.query<{ cost: string; input_tokens: string; output_tokens: string }>(`SELECT cost::text, input_tokens::text, output_tokens::text FROM events WHERE source = 'tollgate-gateway' AND subject = 'budget-1'`)).rows;
    expect(ev).toHaveLength(1);
    expect(Number(ev[0]!.cost)).toBeGreaterThan(0);
    expect(Number(ev[0]!.cost)).toBeLessThanOrEqual(bound);
    // The settled actual is held in `reserved` (until surely metered): it is the event's exact cost.
    const v = await A().request('GET', `/v1/entitlements/${id}/value`);
    expect(v.body.reserved).toBe(ev[0]!.cost.replace(/0+$/, '').replace(/\.$/, ''));

    // A budget with less room than one call's priced estimate refuses it before the upstream call.
    const tiny = await entitlement('budget-2', String(bound / 2), 0, { meter: 'llm_cost', filter: { provider: 'openai' } });
    const calls = up.calls;
    const err = await sdk(1, 'budget-2').chat.completions.create(BODY).catch((e) => e);
    expect(err.status).toBe(429);
    expect(up.calls).toBe(calls);
    expect((await A().request('GET', `/v1/entitlements/${tiny}/value`)).body.usage).toBe('0');
  });

  async function storm(subject: string, o: { stream: (i: number) => boolean; leave: boolean; spacingMs?: number; used?: number; someRefused?: boolean; decideFirst?: boolean }) {
    const est = await estimateCallTokens(BODY, 'gpt-4o');
    // 100,000 granted, block at 105,000, 104,000 used: room for ~1,000 / est calls of 200.
    const used = o.used ?? 104_000;
    const id = await entitlement(subject, '100000', used, { n: 100 });
    const clients = [sdk(0, subject), sdk(1, subject)];
    // decideFirst: the upstream answers nothing until every call was either refused or reached it, so
    // no admitted call ends (and is both metered and held) while others are still being decided.
    let refused = 0;
    const callsBefore = up.calls;
    const decided = o.decideFirst ? untilAllDecided(() => up.calls - callsBefore + refused) : null;
    up.hold = decided;
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const c = clients[i % 2]!;
        if (o.spacingMs) await new Promise((r) => setTimeout(r, i * o.spacingMs!));
        try {
          if (!o.stream(i)) {
            await c.chat.completions.create(BODY);
            return 'ok';
          }
          const s = await c.chat.completions.create({ ...BODY, stream: true });
          for await (const _chunk of s) if (o.leave) break; // leaving the loop aborts the request mid-stream
          return 'ok';
        } catch (e: any) {
          if (e?.status === 429) refused++;
          return e?.status === 429 ? 'refused' : e?.status === 500 ? 'failed' : `other: ${e?.status} ${e?.message}`;
        }
      }),
    ).finally(() => {
      up.hold = null;
    });
    await settledAll();
    const count = (k: string) => outcomes.filter((x) => x === k).length;
    console.info(`${subject}: ${count('ok')} admitted, ${count('refused')} refused, ${count('failed')} failed upstream; estimate ${est} tokens`);
    expect(outcomes.filter((x) => x.startsWith('other'))).toEqual([]);
    const rec = await recorded(subject);
    // Every call's actual equals (streams left early: is below) its estimate: its own overrun is 0 …
    expect(rec.max).toBeLessThanOrEqual(est);
    // … so recorded usage never passes the block threshold at all.
    expect(used + rec.total).toBeLessThanOrEqual(105_000);
    expect(count('ok')).toBeGreaterThan(0);
    // Calls that fail upstream or are left early give their room back, so with those a fast machine
    // may admit every call; the threshold above is the invariant, refusals only where room runs out.
    if (o.someRefused !== false) expect(count('refused')).toBeGreaterThan(50);
    // The entitlement's own figures agree once the holds end, and nothing is left reserved.
    const v = await A().request('GET', `/v1/entitlements/${id}/value`);
    expect(Number(v.body.usage)).toBe(used + rec.total);
    expect(await A().tg.quotas.service.store.openReservations()).toBe(0);
    return { count, rec, est };
  }

  /** Resolves once `decided()` reaches 200 (or after 20 s, so a miscount fails an assertion, not the run). */
  function untilAllDecided(decided: () => number): Promise<void> {
    const end = Date.now() + 20_000;
    return new Promise((resolve) => {
      const poll = () => (decided() >= 200 || Date.now() > end ? resolve() : setTimeout(poll, 5));
      poll();
    });
  }

  it('200 concurrent SDK calls over two instances never take usage past the block threshold; none left open', async () => {
    const { count, rec, est } = await storm('storm-1', { stream: (i) => i % 4 === 0, leave: false, decideFirst: true });
    expect(rec.calls).toBe(count('ok'));
    // Exact, not merely safe: with every admission decided while all admitted calls are still held,
    // what is left unused is under one estimate in each instance's slice plus under one on the
    // entitlement row (a slice grows only by ≥ one estimate). Once calls end, a call's usage that is
    // both metered and still held makes the gate conservative, never over (the trickle test below);
    // CI once saw 12 of ~20 admitted that way before the upstream was held.
    expect(104_000 + rec.total).toBeGreaterThan(105_000 - est * 3);
  });

  it('calls arriving over 5 s, across the 3 s holds ending and the 0.5 s snapshots refreshing, still never overspend', async () => {
    // Room for ~62 calls admitted one after another while earlier ones' holds end: the hand-off
    // from `reserved` (held actual) to the metered usage in a refreshed snapshot must never open a gap.
    const { count, rec } = await storm('trickle-1', { stream: (i) => i % 3 === 0, leave: false, spacingMs: 25, used: 102_000 });
    expect(rec.calls).toBe(count('ok'));
  });

  it('the same with clients that leave mid-stream and an upstream that fails half the calls', async () => {
    up.failEvery = 2;
    up.chunkDelayMs = 30;
    try {
      // Streams in pairs (i % 4 < 2) so the upstream's every-second failure falls on streams and plain
      // calls alike, whatever order they arrive in: some admitted streams are always left mid-stream.
      const { count } = await storm('storm-2', { stream: (i) => i % 4 < 2, leave: true, used: 103_000, someRefused: false });
      expect(count('failed')).toBeGreaterThan(0);
      // Some admitted streams were really left mid-stream (recorded as 499, their lease settled to what was used).
      const left = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM events WHERE source = 'tollgate-gateway' AND subject = 'storm-2' AND data->>'status' = '499'`);
      console.info(`storm-2: ${left.rows[0]!.n} streams left mid-stream, upstream saw ${up.aborted} aborted`);
      expect(Number(left.rows[0]!.n)).toBeGreaterThan(0);
    } finally {
      up.failEvery = 0;
      up.chunkDelayMs = 15;
    }
  });
});
