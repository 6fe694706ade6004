import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp, llmEvent, type TestApp } from '../helpers/app.ts';
import { fixedClock } from '../../src/shared/clock.ts';
import { moneyString } from '../../src/shared/money.ts';

/** Events as stored, by id. */
async function stored(app: TestApp, ids: string[]) {
  const r = await app.db.query<Record<string, unknown>>(
    `SELECT id, cost::text AS cost, cost_source, computed_cost::text AS computed_cost, price, unpriced FROM events WHERE id = ANY($1::text[]) ORDER BY id`,
    [ids],
  );
  return Object.fromEntries(r.rows.map((x) => [x.id as string, { ...x, price: typeof x.price === 'string' ? JSON.parse(x.price) : x.price }])) as Record<string, any>;
}

describe('pricing at ingest and through the API', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await testApp({
      clock: fixedClock('2026-01-10T00:00:00Z'),
      env: { TOLLGATE_PRICING: JSON.stringify({ openai: { '*': { 'ft:gpt-4o-mini:acme::abc': { input: '0.3', output: '1.2' } } } }) },
      config: { 'pricing.discounts': [{ team: 'discounted', percent: '10' }] },
    });
  });
  afterAll(() => app.close());

  it('prices each llm.usage event and stores the price snapshot with it', async () => {
    const r = await app.request('POST', '/v1/events', {
      body: [
        llmEvent('p-1', { data: { provider: 'openai', model: 'gpt-4o-2024-08-06', input_tokens: 1000, output_tokens: 500, cache_read_tokens: 2000 } }),
        llmEvent('p-2', {
          data: { provider: 'anthropic', model: 'claude-sonnet-4-20250514', input_tokens: 50, output_tokens: 800, cache_read_tokens: 100_000, cache_write_5m_tokens: 15_000, cache_write_1h_tokens: 5_000 },
        }),
        llmEvent('p-3', { data: { provider: 'openai', model: 'gpt-4o', input_tokens: 1000, output_tokens: 500, cost: '0.0042' } }),
        llmEvent('p-4', { data: { provider: 'openai', model: 'ft:gpt-4o-mini:acme::abc', input_tokens: 1_000_000, output_tokens: 0 } }),
        llmEvent('p-5', { data: { provider: 'openai', model: 'gpt-4o', input_tokens: 1_000_000, output_tokens: 0, team: 'discounted', batch: true } }),
      ],
    });
    expect(r.status).toBe(202);
    const s = await stored(app, ['p-1', 'p-2', 'p-3', 'p-4', 'p-5']);
    expect(s['p-1']).toMatchObject({ cost: '0.01', cost_source: 'computed', computed_cost: '0.01', unpriced: false });
    expect(s['p-1'].price).toMatchObject({
      provider: 'openai',
      model: 'gpt-4o',
      model_requested: 'gpt-4o-2024-08-06',
      source: 'catalog',
      prices: { input: '2.5', cache_read: '1.25', output: '10' },
      breakdown: { input: '0.0025', cache_read: '0.0025', output: '0.005' },
    });
    expect(s['p-2']).toMatchObject({ cost: '0.1284', cost_source: 'computed' });
    expect(s['p-2'].price.breakdown).toEqual({ input: '0.00015', cache_read: '0.03', cache_write: '0.05625', cache_write_1h: '0.03', output: '0.012' });
    // provider-reported cost wins in `cost`; Tollgate's is kept beside it
    expect(s['p-3']).toMatchObject({ cost: '0.0042', cost_source: 'provider', computed_cost: '0.0075', unpriced: false });
    // TOLLGATE_PRICING override
    expect(s['p-4']).toMatchObject({ cost: '0.3', unpriced: false });
    expect(s['p-4'].price).toMatchObject({ source: 'override', catalog: 'env' });
    // batch half price, then the team's 10 %: 2.5 × 0.5 × 0.9
    expect(s['p-5']).toMatchObject({ cost: '1.125' });
    expect(s['p-5'].price).toMatchObject({ subtotal: '2.5', batch_discount: '0.5', discount_percent: '10', discount_scope: 'team:discounted' });
  });

  it('POST /v1/prices/quote returns cost and breakdown', async () => {
    const r = await app.request('POST', '/v1/prices/quote', {
      body: { provider: 'google', model: 'gemini-2.5-pro', input_tokens: 250_000, output_tokens: 2_000 },
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ currency: 'USD', cost: '0.655', breakdown: { input: '0.625', output: '0.03' }, price: { tier_above: 200_000 } });
    const unknown = await app.request('POST', '/v1/prices/quote', { body: { provider: 'openai', model: 'gpt-99', input_tokens: 1 } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ type: 'not_found', code: 'PRICE_NOT_FOUND', param: 'model' });
    const bad = await app.request('POST', '/v1/prices/quote', { body: { provider: 'openai', model: 'gpt-4o', input_tokens: -1 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe('input_tokens');
  });

  it('GET /v1/prices lists the catalog and resolves one model', async () => {
    const list = await app.request('GET', '/v1/prices?provider=anthropic&limit=500');
    expect(list.status).toBe(200);
    expect(list.body.source.catalog).toMatchObject({ name: '@pydantic/genai-prices' });
    expect(list.body.data.length).toBeGreaterThan(10);
    expect(list.body.data.every((d: any) => d.provider === 'anthropic')).toBe(true);
    const one = await app.request('GET', '/v1/prices?provider=openai&model=o3-2025-04-16');
    expect(one.body.resolution).toMatchObject({ provider: 'openai', model_id: 'o3' });
    expect(one.body.data.map((d: any) => [d.effective_from, d.prices.input, d.in_force])).toEqual([
      [null, '10', false],
      ['2025-06-10', '2', true],
    ]);
  });

  it('PUT /v1/prices/discounts sets a negotiated discount that applies to new events', async () => {
    const put = await app.request('PUT', '/v1/prices/discounts', { body: { provider: 'Anthropic', team: 'discounted', percent: '25', effective_from: '2026-01-01' } });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ provider: 'anthropic', team: 'discounted', percent: '25', effective_from: '2026-01-01T00:00:00.000Z' });
    const list = await app.request('GET', '/v1/prices/discounts');
    expect(list.body.data).toEqual(expect.arrayContaining([expect.objectContaining({ provider: 'anthropic', team: 'discounted', percent: '25', origin: 'api' })]));
    const q = await app.request('POST', '/v1/prices/quote', { body: { provider: 'anthropic', model: 'claude-3-5-haiku-20241022', input_tokens: 1_000_000, team: 'discounted', time: '2026-01-09T00:00:00Z' } });
    expect(q.body).toMatchObject({ cost: '0.6', price: { subtotal: '0.8', discount_percent: '25', discount_scope: 'team:discounted' } });
    const bad = await app.request('PUT', '/v1/prices/discounts', { body: { percent: '150', provider: 'openai' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe('percent');
    const openapi = await app.request('GET', '/openapi.json');
    expect(Object.keys(openapi.body.paths)).toEqual(expect.arrayContaining(['/v1/prices', '/v1/prices/quote', '/v1/prices/unpriced', '/v1/prices/reprice', '/v1/prices/discounts']));
  });

  it('PUT /v1/prices needs admin and validates the price naming the field', async () => {
    const reader = await app.key(['read']);
    const denied = await app.request('PUT', '/v1/prices', { key: reader, body: { provider: 'openai', model: 'x', input: '1' } });
    expect(denied.status).toBe(403);
    const bad = await app.request('PUT', '/v1/prices', { body: { provider: 'openai', model: 'x', input: 'cheap' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toBe('input');
  });
});

describe('unknown models: flagged, counted, listed, then repriced', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await testApp({ clock: fixedClock('2026-01-10T00:00:00Z') });
  });
  afterAll(() => app.close());

  it('stores the event unpriced (not free), counts it, lists it; a new price and reprice fix the event and the totals', async () => {
    const ev = (id: string, time: string, over: Record<string, unknown> = {}) =>
      llmEvent(id, { time, data: { provider: 'acme', model: 'acme-large', input_tokens: 1_000_000, output_tokens: 100_000, team: 'a', ...over } });
    const r = await app.request('POST', '/v1/events', {
      body: [
        ev('u-1', '2026-01-09T10:00:00Z'),
        ev('u-2', '2026-01-09T11:00:00Z'),
        ev('u-3', '2026-01-09T12:00:00Z', { team: 'b' }),
        llmEvent('k-1', { time: '2026-01-09T10:30:00Z', data: { provider: 'openai', model: 'gpt-4o', input_tokens: 1_000_000, output_tokens: 0, team: 'a' } }),
      ],
    });
    expect(r.status).toBe(202);
    let s = await stored(app, ['u-1', 'u-2', 'u-3']);
    expect(s['u-1']).toMatchObject({ cost: null, cost_source: null, computed_cost: null, unpriced: true });

    const metrics = await app.request('GET', '/metrics');
    expect(metrics.body).toMatch(/tollgate_unpriced_events_total\{provider="acme",model="acme-large"\} 3/);

    const listed = await app.request('GET', '/v1/prices/unpriced?from=2026-01-09&to=2026-01-10');
    expect(listed.body.data).toEqual([
      expect.objectContaining({ provider: 'acme', model: 'acme-large', region: null, events: 3, input_tokens: 3_000_000, first_seen: '2026-01-09T10:00:00.000Z', last_seen: '2026-01-09T12:00:00.000Z' }),
    ]);
    const teamB = await app.request('GET', '/v1/prices/unpriced', { key: await app.key(['read'], { team: 'b' }) });
    expect(teamB.body.data).toEqual([expect.objectContaining({ events: 1 })]);

    const usageBefore = await app.request('GET', '/v1/usage?from=2026-01-09T00:00:00Z&to=2026-01-10T00:00:00Z&window=none');

    // the price arrives, effective from 11:00: u-1 stays unpriced, u-2 and u-3 get priced
    const put = await app.request('PUT', '/v1/prices', { body: { provider: 'ACME', model: 'acme-large', input: '1', output: '10', effective_from: '2026-01-09T11:00:00Z' } });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ provider: 'acme', region: '*', model: 'acme-large', effective_from: '2026-01-09T11:00:00.000Z' });

    const rep = await app.request('POST', '/v1/prices/reprice', { body: { from: '2026-01-09', to: '2026-01-10' } });
    expect(rep.status).toBe(200);
    expect(rep.body).toMatchObject({ total: 3, scanned: 3, updated: 2, priced: 2, still_unpriced: 1 });
    s = await stored(app, ['u-1', 'u-2', 'u-3']);
    expect(s['u-1'].unpriced).toBe(true);
    expect(s['u-2']).toMatchObject({ cost: '2', cost_source: 'computed', unpriced: false });
    expect(s['u-2'].price).toMatchObject({ source: 'override', catalog: 'api', effective_from: '2026-01-09T11:00:00.000Z' });

    // now from the start of the day: u-1 too
    await app.request('PUT', '/v1/prices', { body: { provider: 'acme', model: 'acme-large', input: '1', output: '10' } });
    const rep2 = await app.request('POST', '/v1/prices/reprice', { body: { from: '2026-01-09', to: '2026-01-10' } });
    expect(rep2.body).toMatchObject({ scanned: 1, updated: 1, priced: 1, still_unpriced: 0 });
    expect((await app.request('GET', '/v1/prices/unpriced')).body.data).toEqual([]);

    // every aggregate follows: the usage totals now include the repriced cost (2.5 for gpt-4o + 3 × 2)
    const usageAfter = await app.request('GET', '/v1/usage?from=2026-01-09T00:00:00Z&to=2026-01-10T00:00:00Z&window=none');
    expect(usageBefore.status).toBe(200);
    expect(usageBefore.body.totals.cost).toBe('2.5');
    expect(usageAfter.body.totals.cost).toBe('8.5');
    expect(usageAfter.body.totals.requests).toBe(4);
    const sum = await app.db.query<{ s: string }>(`SELECT sum(cost)::text AS s FROM events WHERE time >= '2026-01-09' AND time < '2026-01-10'`);
    expect(moneyString(sum.rows[0]!.s)).toBe('8.5');

    // --all reprices priced events too (a catalog change); nothing changes when prices did not
    const all = await app.tg.pricing.reprice({ from: new Date('2026-01-09T00:00:00Z'), to: new Date('2026-01-10T00:00:00Z'), all: true });
    expect(all).toMatchObject({ total: 4, scanned: 4, updated: 0, still_unpriced: 0 });
  });

  it('the sum of many tiny stored costs is exact in numeric', async () => {
    const body = Array.from({ length: 2000 }, (_, i) =>
      llmEvent(`tiny-${i}`, { time: '2026-01-08T00:00:00Z', data: { provider: 'openai', model: 'gpt-4o-mini', input_tokens: 1, output_tokens: 0 } }),
    );
    expect((await app.request('POST', '/v1/events', { body })).status).toBe(202);
    const r = await app.db.query<{ s: string }>(`SELECT sum(cost)::text AS s FROM events WHERE id LIKE 'tiny-%'`);
    expect(moneyString(r.rows[0]!.s)).toBe('0.0003'); // 2000 × $0.00000015
  });
});
