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
