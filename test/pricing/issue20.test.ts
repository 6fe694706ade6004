import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp, llmEvent, type TestApp } from '../helpers/app.ts';
import { fixedClock } from '../../src/shared/clock.ts';
import { ISSUE_20 } from '../../src/pricing/issue20.fixture.ts';

/**
 * Issue 20 (prices that match the bill) and issue 13's pricing item (a failed call with no usage is
 * not unpriced), through the API and the store: quotes via POST /v1/prices/quote, events via
 * POST /v1/events and what is stored.
 */

async function stored(app: TestApp, ids: string[]) {
  const r = await app.db.query<Record<string, unknown>>(`SELECT id, cost::text AS cost, cost_source, unpriced, price FROM events WHERE id = ANY($1::text[]) ORDER BY id`, [ids]);
  return Object.fromEntries(r.rows.map((x) => [x.id as string, { ...x, price: typeof x.price === 'string' ? JSON.parse(x.price) : x.price }])) as Record<string, any>;
}

describe('issue 20: quotes and stored events bill what the provider bills', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await testApp({ clock: fixedClock('2026-01-10T00:00:00Z') });
  });
  afterAll(() => app.close());

  it.each(ISSUE_20)('POST /v1/prices/quote %s %s %s', async (provider, model, region, usage, cost, prices) => {
    const r = await app.request('POST', '/v1/prices/quote', { body: { provider, model, region, input_tokens: 0, output_tokens: 0, ...usage, time: '2026-01-09T10:00:00Z' } });
    expect(r.status).toBe(200);
    expect(r.body.cost).toBe(cost);
    expect(r.body.price.prices).toEqual(prices);
  });

  it('each case stored as an event carries the same cost and price', async () => {
    const body = ISSUE_20.map(([provider, model, region, usage], i) => llmEvent(`i20-${i}`, { data: { provider, model, ...(region ? { region } : {}), input_tokens: 0, output_tokens: 0, ...usage } }));
    const r = await app.request('POST', '/v1/events', { body });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ accepted: ISSUE_20.length, rejected: [] });
    const s = await stored(app, body.map((b) => b.id));
    ISSUE_20.forEach(([provider, model, , , cost, prices], i) => {
      expect(s[`i20-${i}`], `${provider}/${model}`).toMatchObject({ cost, cost_source: 'computed', unpriced: false });
      expect(s[`i20-${i}`].price.prices, `${provider}/${model}`).toEqual(prices);
    });
  });
});

describe('issue 13: a failed gateway attempt with no usage is not an unpriced call', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await testApp({ clock: fixedClock('2026-01-10T00:00:00Z') });
  });
  afterAll(() => app.close());

  it('upstream 500 and timeout with 0 tokens: cost 0, not in /v1/prices/unpriced, unpriced_requests or the unpriced metric', async () => {
    const failed = (id: string, extra: Record<string, unknown>) =>
      llmEvent(id, { source: 'tollgate-gateway', data: { provider: 'acme', model: 'acme-new', input_tokens: 0, output_tokens: 0, team: 't', ...extra } });
    const r = await app.request('POST', '/v1/events', {
      body: [
        failed('f-500', { status: 500, error: 'upstream answered 500' }),
        failed('f-timeout', { status: 504, error: 'no response within 30000 ms' }),
        // an answered call on a model with no price is still unpriced
        llmEvent('f-ok', { data: { provider: 'acme', model: 'acme-new', input_tokens: 10, output_tokens: 5, status: 200, team: 't' } }),
      ],
    });
    expect(r.status).toBe(202);
    const s = await stored(app, ['f-500', 'f-timeout', 'f-ok']);
    expect(s['f-500']).toMatchObject({ cost: '0', unpriced: false });
    expect(s['f-timeout']).toMatchObject({ cost: '0', unpriced: false });
    expect(s['f-ok']).toMatchObject({ cost: null, unpriced: true });

    const listed = await app.request('GET', '/v1/prices/unpriced?from=2026-01-09&to=2026-01-10');
    expect(listed.body.data).toEqual([expect.objectContaining({ provider: 'acme', model: 'acme-new', events: 1 })]);
    const usage = await app.request('GET', '/v1/usage?from=2026-01-09T00:00:00Z&to=2026-01-10T00:00:00Z&window=none');
    expect(usage.status).toBe(200);
    expect(usage.body.totals).toMatchObject({ requests: 3, unpriced_requests: 1 });
    const metrics = await app.request('GET', '/metrics');
    expect(metrics.body).toMatch(/tollgate_unpriced_events_total\{provider="acme",model="acme-new"\} 1\n/);
  });
});
