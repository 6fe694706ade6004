import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testApp, type TestApp } from '../helpers/app.ts';
import { freshDb } from '../helpers/db.ts';
import { fixedClock } from '../../src/shared/clock.ts';
import type { Db } from '../../src/shared/db/index.ts';
import { ALERT_CONFIG, ALERT_ENV, fakeEntitlements, levelSignal, snapshot, webhookListener } from './helpers.ts';

const HOUR = 3_600_000;

describe('dedup, throttle and forecasts', () => {
  let db: Db;
  let a: TestApp;
  let b: TestApp;
  let hook: Awaited<ReturnType<typeof webhookListener>>;
  const clock = fixedClock('2026-01-15T10:00:00Z');
  let source = fakeEntitlements();
  beforeEach(async () => {
    source = fakeEntitlements();
    clock.set('2026-01-15T10:00:00Z');
    hook = await webhookListener();
    db = await freshDb();
    // Two app instances on one database: two processes' worth of deciders and senders.
    a = await testApp({ db, clock, env: ALERT_ENV, config: ALERT_CONFIG });
    b = await testApp({ db, clock, env: ALERT_ENV, config: ALERT_CONFIG });
    a.tg.alerts.setEntitlementSource(source);
    b.tg.alerts.setEntitlementSource(source);
  });
  afterEach(async () => {
    await a.close();
    await b.close();
    await db.close();
    await hook.close();
  });

  const rule = async (body: Record<string, unknown>) => {
    const r = await a.request('POST', '/v1/alerts/rules', { body: { name: 'r', channels: [{ type: 'webhook', url: hook.url }, { type: 'in_app' }], ...body } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body;
  };

  it('one firing per (rule, subject, level, period) across the sweep, arrival and two instances', async () => {
    await rule({ on: 'entitlement.level' });
    source.set(snapshot());
    const A = a.tg.alerts;
    const B = b.tg.alerts;
    const results = await Promise.all([A.onSignal(levelSignal()), B.onSignal(levelSignal()), A.sweep(), B.sweep(), A.onSignal(levelSignal()), B.sweep()]);
    const fired = results.reduce((n, r) => n + (Array.isArray(r) ? r.length : r.fired), 0);
    expect(fired).toBe(1);
    await Promise.all([A.deliverDue(), B.deliverDue(), A.deliverDue()]);
    expect([...hook.okById().values()]).toEqual([1]);
    expect((await a.request('GET', '/v1/notifications')).body.data).toHaveLength(1);

    // Another level is another key; the same level fires again once the 24 h window has passed.
    source.set(snapshot({ level: 'critical', percent: '0.96', usage: '96000' }));
    expect((await A.sweep()).fired).toBe(1);
    expect((await B.sweep()).fired).toBe(0);
    clock.advance(24 * HOUR + 1000);
    expect((await B.sweep()).fired).toBe(1);
    expect(await A.onSignal(levelSignal({ level: 'critical' }))).toHaveLength(0);
    // A new period is a new key.
    expect(await A.onSignal(levelSignal({ level: 'critical', period_start: '2026-02-01T00:00:00.000Z' }))).toHaveLength(1);
  });

  it('throttle caps a rule\'s firings; collector failures at most once an hour', async () => {
    await rule({ on: 'entitlement.level', throttle_s: 3600 });
    const A = a.tg.alerts;
    const B = b.tg.alerts;
    expect(await A.onSignal(levelSignal())).toHaveLength(1);
    expect(await B.onSignal(levelSignal({ entitlement_id: 'ent_2', subject: 'user-2' }))).toHaveLength(0);
    clock.advance(HOUR + 1000);
    expect(await B.onSignal(levelSignal({ entitlement_id: 'ent_2', subject: 'user-2' }))).toHaveLength(1);

    const c = await rule({ on: 'collector.failure', dedup_window_s: 60 });
    expect(c.effective_dedup_window_s).toBe(3600);
    const fail = { type: 'collector.failure' as const, collector: 'openai', account: 'team-a', window: '2026-01-14', error: 'HTTP 500', occurred_at: clock.now().toISOString() };
    expect(await A.onSignal(fail)).toHaveLength(1);
    clock.advance(30 * 60_000);
    expect(await B.onSignal(fail)).toHaveLength(0);
    expect(await B.onSignal({ ...fail, account: 'team-b' })).toHaveLength(1); // each account on its own
    clock.advance(31 * 60_000);
    expect(await A.onSignal(fail)).toHaveLength(1);
  });

  it('forecast.exceeds fires days ahead on a steady ramp and stays quiet on flat usage', async () => {
    await rule({ on: 'forecast.exceeds', filter: { meter: 'llm_tokens' } });
    const days = (f: (d: number) => number) => Array.from({ length: 14 }, (_, i) => ({ day: `2026-01-${String(i + 1).padStart(2, '0')}`, usage: String(f(i + 1)) }));
    const ramp = days((d) => 3000 + 300 * d); // 73,500 by Jan 15; last week ~6,300/day
    const flat = days(() => 2000); // 28,000; ~62,000 by month end
    const sum = (rows: Array<{ usage: string }>) => String(rows.reduce((s, r) => s + Number(r.usage), 0));
    source.set(snapshot({ id: 'ramp', subject: 'ramp-user', usage: sum(ramp), percent: '0.735', level: 'ok' }));
    source.setDaily('ramp', ramp);
    source.set(snapshot({ id: 'flat', subject: 'flat-user', usage: sum(flat), percent: '0.28', level: 'ok' }));
    source.setDaily('flat', flat);
    const A = a.tg.alerts;
    expect((await A.sweep()).fired).toBe(1);
    const h = (await a.request('GET', '/v1/alerts/history')).body.data;
    expect(h).toHaveLength(1);
    expect(h[0].subject).toBe('ramp-user');
    expect(h[0].details.projected_at.slice(0, 10)).toBe('2026-01-20');
    expect(h[0].title).toContain('2026-01-20');
    expect(h[0].threshold).toBe('105000');
    const msg = hook.received.find((r) => r.json.id === h[0].id)?.json;
    expect(msg === undefined || msg.projected_at.startsWith('2026-01-20')).toBe(true);
    // An hour later the same forecast is not repeated (dedup), nor from the other instance.
    clock.advance(HOUR);
    expect((await b.tg.alerts.sweep()).fired).toBe(0);
  });

  it('refuses at send time a target that is no longer allowed (checked on the resolved address)', async () => {
    await rule({ on: 'entitlement.level', channels: [{ type: 'webhook', url: hook.url.replace('127.0.0.1', 'localhost') }] });
    // A third instance without the allowance: its sends to a loopback address are refused, for good.
    const strict = await testApp({ db, clock, config: ALERT_CONFIG });
    try {
      const S = strict.tg.alerts;
      expect(await S.onSignal(levelSignal())).toHaveLength(1);
      expect(await S.deliverDue()).toEqual({ sent: 0, retrying: 0, failed: 1 });
      expect(hook.received).toHaveLength(0);
      const d = (await strict.request('GET', '/v1/alerts/history')).body.data[0].deliveries[0];
      expect(d.status).toBe('failed');
      expect(d.last_error).toMatch(/localhost \(127\.0\.0\.1\) is a private, loopback or link-local address/);
    } finally {
      await strict.close();
    }
  });
});
