import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp, llmEvent, type TestApp } from '../helpers/app.ts';

let app: TestApp;
beforeAll(async () => {
  app = await testApp();
});
afterAll(() => app.close());

const usage = async () => (await app.request('GET', '/v1/usage?from=2026-01-09T00:00:00Z&to=2026-01-10T00:00:00Z&group_by=model')).body;

describe('rollups follow the pricing domain', () => {
  it('an unpriced event repriced through /v1/prices/reprice moves its cost into the rollups', async () => {
    const r = await app.request('POST', '/v1/events', {
      body: [
        llmEvent('rp-1', { data: { provider: 'openai', model: 'tg-rollup-test-model', input_tokens: 1_000_000, output_tokens: 0 } }),
        llmEvent('rp-2', { time: '2026-01-09T23:50:00Z', data: { provider: 'openai', model: 'tg-rollup-test-model', input_tokens: 0, output_tokens: 500_000 } }),
      ],
    });
    expect(r.status).toBe(202);
    let u = await usage();
    expect(u.rows).toEqual([expect.objectContaining({ model: 'tg-rollup-test-model', requests: 2, unpriced_requests: 2, cost: '0' })]);

    const put = await app.request('PUT', '/v1/prices', { body: { provider: 'openai', model: 'tg-rollup-test-model', input: '2', output: '8' } });
    expect(put.status).toBe(200);
    const rp = await app.request('POST', '/v1/prices/reprice', { body: { from: '2026-01-01T00:00:00Z', to: '2026-02-01T00:00:00Z' } });
    expect(rp.status).toBeLessThan(300);
    u = await usage();
    expect(u.rows).toEqual([expect.objectContaining({ model: 'tg-rollup-test-model', requests: 2, unpriced_requests: 0, cost: '6' })]);

    // The same from the raw events.
    const raw = await app.db.query<{ cost: string; unpriced: string }>(
      `SELECT sum(cost)::text AS cost, count(*) FILTER (WHERE unpriced)::text AS unpriced FROM events WHERE model = 'tg-rollup-test-model'`,
    );
    expect(Number(raw.rows[0]!.cost)).toBe(6);
    expect(Number(raw.rows[0]!.unpriced)).toBe(0);
  });
});
