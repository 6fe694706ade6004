import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp, llmEvent, type TestApp } from '../helpers/app.ts';
import { fixedClock } from '../../src/shared/clock.ts';
import { rollupService } from '../../src/rollups/service.ts';
import type { CostChange, StoredEvent } from '../../src/events/types.ts';

/**
 * A collector event stands for the provider's request count of its bucket (`data.requests`): the
 * rollups count that, not one per event, on the fold, the reprice deltas and the rebuild alike.
 */
let app: TestApp;
const clock = fixedClock('2026-03-12T12:00:00Z');

beforeAll(async () => {
  app = await testApp({ clock });
});
afterAll(() => app.close());

const collector = (id: string, data: Record<string, unknown>, time = '2026-03-10T05:00:00Z') => llmEvent(id, { source: 'collector:openai', subject: undefined, time, data: { team: 'red', ...data } });
const FROM = '2026-03-10T00:00:00Z';
const TO = '2026-03-11T00:00:00Z';

async function totals(extra = ''): Promise<any> {
  const r = await app.request('GET', `/v1/usage?from=${FROM}&to=${TO}${extra}`);
  expect(r.status, JSON.stringify(r.body).slice(0, 300)).toBe(200);
  return r.body;
}

describe('collector request counts in the rollups', () => {
  it('requests: data.requests must be a non-negative integer', async () => {
    const r = await app.request('POST', '/v1/events', {
      body: [collector('ok-elsewhere', { requests: 3 }, '2026-03-01T00:00:00Z'), collector('bad-1', { requests: -1 }), collector('bad-2', { requests: 1.5 }), collector('bad-3', { requests: '3' }), collector('bad-4', { requests: 1e13 })],
    });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body.accepted).toBe(1);
    expect(r.body.rejected.map((x: any) => x.error.split(' ')[0])).toEqual(['data.requests', 'data.requests', 'data.requests', 'data.requests']);
  });

  it('requests: /v1/usage counts a collector bucket as its data.requests, a plain event as 1, a cost-only line as 0', async () => {
    const r = await app.request('POST', '/v1/events', {
      body: [
        collector('c-1', { model: 'gpt-4o', requests: 250, input_tokens: 1000, output_tokens: 100, cost: '1.25' }),
        collector('c-2', { model: 'gpt-4o', requests: 7, input_tokens: 10, output_tokens: 1 }), // unpriced: catalog has no price here
        collector('c-cost', { model: 'web-search', requests: 0, input_tokens: 0, output_tokens: 0, cost: '0.5', cost_only: true }, '2026-03-10T00:00:00Z'),
        llmEvent('sdk-1', { time: '2026-03-10T05:30:00Z', data: { team: 'red' } }),
      ],
    });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body.accepted).toBe(4);
    const t = await totals();
    expect(t.totals.requests).toBe(258);
    const byModel = await totals('&group_by=model');
    expect(Object.fromEntries(byModel.rows.map((x: any) => [x.model, x.requests]))).toEqual({ 'gpt-4o': 258, 'web-search': 0 });
    // A signed read (a Kolkata day: whole UTC day minus edges) keeps the 0-request, costed group.
    const k = await app.request('GET', '/v1/usage?from=2026-03-10T00:00:00%2B05:30&to=2026-03-11T00:00:00%2B05:30&tz=Asia/Kolkata&window=day&group_by=model');
    expect(k.status).toBe(200);
    const kRows = Object.fromEntries(k.body.rows.map((x: any) => [x.model, [x.requests, x.cost]]));
    expect(kRows['gpt-4o'][0]).toBe(258);
    expect(kRows['web-search']).toEqual([0, '0.5']);
    const top = await app.request('GET', `/v1/usage/top?by=model&measure=requests&from=${FROM}&to=${TO}`);
    expect(top.status).toBe(200);
    expect(top.body.rows[0]).toMatchObject({ model: 'gpt-4o', requests: 258 });
    // The llm_requests meter agrees, whole buckets and raw edges alike (a 05:30 edge reads raw rows).
    const meter = await app.request('GET', `/v1/meters/llm_requests/query?from=${FROM}&to=${TO}&window=none`);
    expect(meter.status).toBe(200);
    expect(meter.body.rows[0].value).toBe('258');
    const edge = await app.request('GET', '/v1/meters/llm_requests/query?from=2026-03-10T00:00:00%2B05:30&to=2026-03-11T00:00:00%2B05:30&window=none');
    expect(edge.body.rows[0].value).toBe('258');
  });

  it('requests: repricing (the apply path) and a rebuild from raw events keep the same counts', async () => {
    const before = await totals('&group_by=model');
    await app.db.transaction(async (tx) => {
      const old = (await tx.query<StoredEvent>(`SELECT * FROM events WHERE id IN ('c-1', 'c-2') ORDER BY seq`)).rows;
      const now = (await tx.query<StoredEvent>(`UPDATE events SET cost = coalesce(cost, 0.5) * 2, cost_source = 'computed', unpriced = false WHERE id IN ('c-1', 'c-2') RETURNING *`)).rows;
      const bySeq = new Map(now.map((a) => [String(a.seq), a]));
      const changes: CostChange[] = old.map((b) => ({ before: b, after: bySeq.get(String(b.seq))! }));
      for (const h of app.tg.events.hooks.inTransaction) await h.run(tx, { kind: 'repriced', changes });
    });
    const repriced = await totals('&group_by=model');
    expect(repriced.rows.map((x: any) => [x.model, x.requests])).toEqual(before.rows.map((x: any) => [x.model, x.requests]));
    expect(repriced.totals.cost).not.toBe(before.totals.cost);
    await rollupService(app.db, { zone: app.tg.config.tz }).rebuild(new Date(FROM), new Date(TO));
    const rebuilt = await totals('&group_by=model');
    expect(rebuilt.rows).toEqual(repriced.rows);
    expect(rebuilt.totals).toEqual(repriced.totals);
  });

  it('requests: a stored data.requests that is not a small integer (before it was validated) counts 1', async () => {
    await app.db.query(`UPDATE events SET data = jsonb_set(data, '{requests}', '"lots"') WHERE id = 'c-2'`);
    await rollupService(app.db, { zone: app.tg.config.tz }).rebuild(new Date(FROM), new Date(TO));
    expect((await totals()).totals.requests).toBe(252);
  });
});
