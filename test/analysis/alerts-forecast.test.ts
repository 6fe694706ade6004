import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testApp, type TestApp } from '../helpers/app.ts';
import { freshDb } from '../helpers/db.ts';
import { fixedClock } from '../../src/shared/clock.ts';
import type { Db } from '../../src/shared/db/index.ts';
import { projectCrossing } from '../../src/alerts/forecast.ts';
import { ALERT_CONFIG, ALERT_ENV, fakeEntitlements, snapshot } from '../alerts/helpers.ts';

// forecast.exceeds through the app's wiring: analysis's forecast replaces alerts' linear projection
// once there are ≥ 21 complete days of history (the 14-day ramp in test/alerts/dedup.test.ts stays
// on the projection).
describe('forecast.exceeds uses the analysis forecast wired in src/app.ts', () => {
  let db: Db;
  let a: TestApp;
  const clock = fixedClock('2026-01-15T10:00:00Z');
  const source = fakeEntitlements();
  beforeEach(async () => {
    db = await freshDb();
    a = await testApp({ db, clock, env: ALERT_ENV, config: ALERT_CONFIG });
    a.tg.alerts.setEntitlementSource(source);
  });
  afterEach(async () => {
    await a.close();
    await db.close();
  });

  it('a 35-day ramp crosses on the trend day, not the recent-mean day', async () => {
    // Dec 11 (i = 1) … Jan 14 (i = 35): 3,000 + 300 i a day. January so far (i = 22…35) = 161,700.
    const days = Array.from({ length: 35 }, (_, k) => {
      const d = new Date(Date.UTC(2025, 11, 11 + k));
      return { day: d.toISOString().slice(0, 10), usage: String(3000 + 300 * (k + 1)) };
    });
    source.set(snapshot({ id: 'ramp', subject: 'ramp-user', usage: '161700', available: '200000', percent: '0.8085', level: 'ok' }));
    source.setDaily('ramp', days);
    // By hand: the trend goes on at 13,800 (Jan 15, 14/24 of it left = 8,050) → 169,750; Jan 16 +14,100
    // → 183,850; Jan 17 +14,400 → 198,250; Jan 18 +14,700 → 212,950 ≥ 210,000 (200,000 × 1.05).
    // The linear projection (mean of the last 7 days, 12,600) crosses 3.83 days from now: Jan 19.
    const linear = projectCrossing({ usage: '161700', limit: '210000', recentDaily: days.slice(-7).map((d) => d.usage), periodStart: new Date('2026-01-01T00:00:00Z'), periodEnd: new Date('2026-02-01T00:00:00Z'), now: clock.now() });
    expect(linear.crosses_at!.toISOString().slice(0, 10)).toBe('2026-01-19');

    await a.request('POST', '/v1/alerts/rules', { body: { name: 'f', on: 'forecast.exceeds', filter: { meter: 'llm_tokens' }, channels: [{ type: 'in_app' }] } });
    expect((await a.tg.alerts.sweep()).fired).toBe(1);
    const [h] = (await a.request('GET', '/v1/alerts/history')).body.data;
    expect(h.details.forecast_method).toMatch(/^linear_trend/);
    expect(h.details.projected_at.slice(0, 10)).toBe('2026-01-18');
    // Month end: 161,700 + 8,050 + Jan 16…31 (i = 37…52: 16 × 3,000 + 300 × 716) = 431,350.
    expect(Number(h.details.projected_total)).toBeCloseTo(431350, -1);
    expect(Number(h.details.projected_low)).toBeLessThanOrEqual(Number(h.details.projected_total));
  });
});
