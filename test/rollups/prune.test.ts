import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp, llmEvent, type TestApp } from '../helpers/app.ts';
import { fixedClock } from '../../src/shared/clock.ts';

// Rollup tiers: sub-day buckets older than `hourly` days are dropped by retention; what they held
// stays answerable in whole UTC days, and a query that would need a dropped bucket is refused.
const NOW = '2026-06-30T12:00:00Z';
let app: TestApp;
beforeAll(async () => {
  app = await testApp({ clock: fixedClock(NOW), config: { 'retention.archive': false } });
  const r = await app.request('POST', '/v1/events', {
    body: [
      llmEvent('old-1', { time: '2026-03-01T10:00:00Z', data: { cost: '1.5' } }),
      llmEvent('old-2', { time: '2026-03-01T20:00:00Z', data: { cost: '2.25' } }),
      llmEvent('new-1', { time: '2026-06-29T10:00:00Z', data: { cost: '4' } }),
    ],
  });
  expect(r.body.accepted).toBe(3);
});
afterAll(() => app.close());

const usage = (qs: string) => app.request('GET', `/v1/usage?${qs}`);

describe('rollup tier retention', () => {
  it('keeps whole-UTC-day answers and refuses answers that need pruned sub-day buckets', async () => {
    const before = await usage('from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z&window=day&tz=UTC');
    expect(before.body.totals).toMatchObject({ requests: 2, cost: '3.75' });

    await app.tg.jobs.retention.run(new Date(NOW));

    const after = await usage('from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z&window=day&tz=UTC');
    expect(after.status).toBe(200);
    expect(after.body.totals).toEqual(before.body.totals);

    const kolkata = await usage('from=2026-03-01T00:00:00%2B05:30&to=2026-03-02T00:00:00%2B05:30&window=day&tz=Asia/Kolkata');
    expect(kolkata.status).toBe(400);
    expect(kolkata.body.error).toMatchObject({ code: 'ROLLUPS_PRUNED', param: 'from' });

    const recent = await usage('from=2026-06-29T00:00:00%2B05:30&to=2026-06-30T00:00:00%2B05:30&window=hour&tz=Asia/Kolkata');
    expect(recent.status).toBe(200);
    expect(recent.body.totals).toMatchObject({ requests: 1, cost: '4' });
  });
});

// Issue 13: the README's example event (2026-01-09 +09:00) could not be queried by hour or in
// Asia/Seoul on a fresh store — ROLLUPS_PRUNED "retention dropped sub-day rollups" although nothing
// had been dropped. Rollups of events whose raw rows are kept stay; the refusal names what applies.
describe('README example on a fresh store', () => {
  const TODAY = '2026-12-01T15:00:00Z';
  let fresh: TestApp;
  beforeAll(async () => {
    fresh = await testApp({ clock: fixedClock(TODAY), config: { 'retention.archive': false } });
  });
  afterAll(() => fresh.close());

  const seoulHours = 'from=2026-01-09T00:00:00%2B09:00&to=2026-01-10T00:00:00%2B09:00&window=hour&tz=Asia/Seoul';

  it('README example: queryable by hour in Asia/Seoul after retention ran on the empty store', async () => {
    await fresh.tg.jobs.retention.run(new Date(TODAY)); // a fresh server catches up its retention window
    const r = await fresh.request('POST', '/v1/events', {
      headers: { 'content-type': 'application/cloudevents+json' },
      body: {
        specversion: '1.0', id: 'req-1', source: 'my-app', type: 'llm.usage', time: '2026-01-09T10:00:00+09:00', subject: 'user-42',
        data: { provider: 'openai', model: 'gpt-4o', input_tokens: 1200, output_tokens: 300 },
      },
    });
    expect(r.status).toBe(202);
    const q = await fresh.request('GET', `/v1/usage?${seoulHours}&group_by=model`);
    expect(q.status, JSON.stringify(q.body)).toBe(200);
    expect(q.body.rows).toEqual([
      expect.objectContaining({ window_start: '2026-01-09T10:00:00+09:00', window_end: '2026-01-09T11:00:00+09:00', model: 'gpt-4o', requests: 1, input_tokens: 1200, output_tokens: 300 }),
    ]);
  });

  it('README example: once retention deletes the raw event, the refusal says what was dropped and why', async () => {
    await fresh.tg.jobs.retention.run(new Date(TODAY)); // raw llm.usage events are kept 90 days: this one goes now
    const q = await fresh.request('GET', `/v1/usage?${seoulHours}`);
    expect(q.status).toBe(400);
    expect(q.body.error.code).toBe('ROLLUPS_PRUNED');
    expect(q.body.error.message).toMatch(/15-minute or hour rollups before 2026-01-09T02:00:00.000Z, which retention dropped together with their raw events \(retention.tiers.hourly\)/);
    const utcDay = await fresh.request('GET', '/v1/usage?from=2026-01-09T00:00:00Z&to=2026-01-10T00:00:00Z&window=day&tz=UTC');
    expect(utcDay.status).toBe(200);
    expect(utcDay.body.totals.requests).toBe(1);
  });
});
