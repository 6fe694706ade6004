import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testApp, llmEvent, type TestApp } from '../helpers/app.ts';
import { fixedClock } from '../../src/shared/clock.ts';
import { ALERT_CONFIG, ALERT_ENV } from './helpers.ts';

describe('alerts on the real quotas domain', () => {
  let app: TestApp;
  const clock = fixedClock('2026-01-15T10:00:00Z');
  beforeEach(async () => {
    app = await testApp({ clock, env: ALERT_ENV, config: ALERT_CONFIG });
  });
  afterEach(() => app.close());

  it('the hourly sweep reads entitlement levels through the quotas service; arrival and sweep fire once', async () => {
    const e = await app.request('POST', '/v1/entitlements', {
      body: { subject: 'user-1', meter: 'llm_tokens', period: 'month', tz: 'UTC', thresholds: { warning: 0.9, critical: 0.95, block: 1.05 }, purchase_url: 'https://shop.example/buy' },
    });
    expect(e.status, JSON.stringify(e.body)).toBe(201);
    expect((await app.request('POST', `/v1/entitlements/${e.body.id}/grants`, { body: { amount: '1000', kind: 'free', priority: 10, effective_at: '2026-01-01T00:00:00Z', recurring: 'month' } })).status).toBe(201);
    expect((await app.request('POST', '/v1/alerts/rules', { body: { name: 'levels', on: 'entitlement.level', channels: [{ type: 'in_app' }] } })).status).toBe(201);
    const evs = Array.from({ length: 6 }, (_, i) => llmEvent(`q${i}`, { time: '2026-01-15T09:00:00Z' })); // 900 tokens: 90 %
    expect((await app.request('POST', '/v1/events', { body: evs })).status).toBe(202);
    // The sweep acts on what the meters already show; on a busy machine the fold can lag the 202.
    for (let i = 0; i < 50; i++) {
      const v = await app.request('GET', `/v1/entitlements/${e.body.id}/value`);
      if (v.body.usage === '900') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const alerts = app.tg.alerts;
    const first = await alerts.sweep();
    const second = await alerts.sweep();
    // Reading the value above may already have fired on arrival (the level-change signal): either
    // way the level fires once in all.
    expect(first.fired + second.fired).toBeLessThanOrEqual(1);
    let n: any[] = [];
    for (let i = 0; i < 25 && n.length === 0; i++) {
      n = (await app.request('GET', '/v1/notifications?subject=user-1')).body.data;
      if (!n.length) await new Promise((r) => setTimeout(r, 200));
    }
    expect((await app.tg.alerts.sweep()).fired).toBe(0);
    expect(n).toHaveLength(1);
    expect(n[0]).toMatchObject({ level: 'warning', subject: 'user-1' });
    expect(n[0].data.purchase_url).toBe('https://shop.example/buy');
  });
});
