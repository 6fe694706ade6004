import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp, llmEvent, type TestApp } from '../helpers/app.ts';
import { fixedClock } from '../../src/shared/clock.ts';
import type { ReconciliationMismatchSignal } from '../../src/shared/signals.ts';

let app: TestApp;
const signals: ReconciliationMismatchSignal[] = [];
const T = '2026-01-09T10:00:00Z';

beforeAll(async () => {
  app = await testApp({ clock: fixedClock('2026-01-10T01:00:00Z') });
  app.tg.signals.on('reconciliation.mismatch', (s) => void signals.push(s));
  const gw = (id: string, data: Record<string, unknown>) => llmEvent(id, { source: 'gateway', time: T, data: { provider: 'openai', ...data } });
  const col = (id: string, data: Record<string, unknown>) => llmEvent(id, { source: 'collector:openai', time: '2026-01-09T00:00:00Z', subject: undefined, data: { provider: 'openai', ...data } });
  const r = await app.request('POST', '/v1/events', {
    body: [
      gw('g1', { model: 'gpt-4o', input_tokens: 300, output_tokens: 100, cost: '1.00' }),
      gw('g2', { model: 'gpt-4o', input_tokens: 300, output_tokens: 100, cost: '1.00' }),
      gw('g3', { model: 'text-embedding-3-small', input_tokens: 5000, output_tokens: 0, cost: '0.0001' }),
      // Another day and another provider: not in the comparison.
      gw('g4', { model: 'gpt-4o', input_tokens: 999, output_tokens: 1, cost: '5', }),
      gw('g5', { model: 'claude-sonnet-4', provider: 'anthropic', input_tokens: 1, output_tokens: 1, cost: '1' }),
      // The provider's report: gpt-4o 3 % dearer, and a model the gateway never saw.
      col('c1', { model: 'gpt-4o-2024-08-06', input_tokens: 600, output_tokens: 200, requests: 2, cost: '2.06' }),
      col('c2', { model: 'gpt-4o-mini-2024-07-18', input_tokens: 1000, output_tokens: 50, requests: 4, cost: '0.0015' }),
      col('c3', { model: 'text-embedding-3-small', input_tokens: 5000, output_tokens: 0, requests: 1, cost: '0.0001' }),
    ].map((e, i) => (i === 3 ? { ...e, time: '2026-01-08T10:00:00Z' } : e)),
  });
  expect(r.body).toMatchObject({ accepted: 8 });
});
afterAll(() => app?.close());

describe('reconciliation', () => {
  it('finds a model the gateway missed and a cost 3 % off; the rest is within tolerance', async () => {
    const r = await app.request('GET', '/v1/reconciliation?date=2026-01-09&provider=openai');
    expect(r.status).toBe(200);
    expect(r.body.within_tolerance).toBe(false);
    const by = Object.fromEntries(r.body.rows.map((x: { model: string }) => [x.model, x]));
    expect(Object.keys(by)).toEqual(['gpt-4o', 'gpt-4o-mini', 'text-embedding-3-small']);
    expect(by['gpt-4o']).toMatchObject({
      recorded: { requests: '2', input_tokens: '600', output_tokens: '200', cost: '2' },
      reported: { requests: '2', input_tokens: '600', output_tokens: '200', cost: '2.06' },
      difference: { requests: '0', input_tokens: '0', cost: '0.06' },
      within_tolerance: false,
    });
    expect(by['gpt-4o-mini']).toMatchObject({ recorded: { requests: '0', cost: '0' }, reported: { requests: '4', input_tokens: '1000' }, within_tolerance: false });
    expect(by['text-embedding-3-small'].within_tolerance).toBe(true);
  });

  it('stays quiet within a wider tolerance (but the missing model still shows)', async () => {
    const r = await app.request('GET', '/v1/reconciliation?date=2026-01-09&provider=openai&tolerance=0.05');
    const by = Object.fromEntries(r.body.rows.map((x: { model: string }) => [x.model, x]));
    expect(by['gpt-4o'].within_tolerance).toBe(true);
    expect(by['gpt-4o-mini'].within_tolerance).toBe(false);
  });

  it('the daily job publishes reconciliation.mismatch per model out of tolerance', async () => {
    const out = await app.tg.collectors.reconcileDay(new Date('2026-01-09T00:00:00Z'));
    expect(out).toEqual({ providers: 1, mismatches: 2 });
    expect(signals.map((s) => [s.provider, s.date, s.model])).toEqual([
      ['openai', '2026-01-09', 'gpt-4o'],
      ['openai', '2026-01-09', 'gpt-4o-mini'],
    ]);
    expect(signals[0]!.difference.cost).toBe('0.06');
    const job = await app.tg.jobs.scheduler.runWindow('reconcile', new Date('2026-01-10T00:30:00Z'));
    expect(job).toMatchObject({ status: 'ok', result: { mismatches: 2 } });
  });

  it('validates its parameters', async () => {
    expect((await app.request('GET', '/v1/reconciliation?date=2026-13-01&provider=openai')).body.error.code).toBe('INVALID_DATE');
    expect((await app.request('GET', '/v1/reconciliation?date=2026-01-09&provider=acme')).status).toBe(400);
  });
});
