import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testApp, type TestApp } from '../helpers/app.ts';
import { fixedClock } from '../../src/shared/clock.ts';
import { verifySignature } from '../../src/alerts/message.ts';
import { ALERT_CONFIG, ALERT_ENV, levelSignal, webhookListener } from './helpers.ts';

describe('alert rules and signed webhooks', () => {
  let app: TestApp;
  let hook: Awaited<ReturnType<typeof webhookListener>>;
  const clock = fixedClock('2026-01-15T10:00:00Z');
  beforeEach(async () => {
    hook = await webhookListener([500]);
    app = await testApp({ clock, env: ALERT_ENV, config: ALERT_CONFIG });
  });
  afterEach(async () => {
    await app.close();
    await hook.close();
  });

  it('creates, lists, patches and deletes rules; masks the secret', async () => {
    const r = await app.request('POST', '/v1/alerts/rules', { body: { name: 'warn', on: 'entitlement.level', channels: [{ type: 'webhook', url: hook.url }] } });
    expect(r.status).toBe(201);
    expect(r.body.condition).toEqual({ levels: ['warning', 'critical', 'blocked'] });
    expect(r.body.secrets['0']).toMatch(/^whsec_/);
    expect(r.body.effective_dedup_window_s).toBe(86400);
    const list = await app.request('GET', '/v1/alerts/rules');
    expect(list.body.data).toHaveLength(1);
    expect(list.body.data[0].channels[0].secret).not.toBe(r.body.secrets['0']);
    const p = await app.request('PATCH', `/v1/alerts/rules/${r.body.id}`, { body: { enabled: false, throttle_s: 60 } });
    expect(p.status).toBe(200);
    expect(p.body.enabled).toBe(false);
    expect(p.body.throttle_s).toBe(60);
    expect(p.body.secrets).toBeUndefined();
    const bad = await app.request('POST', '/v1/alerts/rules', { body: { name: 'x', on: 'budget.amount', condition: { meter: 'llm_cost' }, channels: [{ type: 'in_app' }] } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.param).toMatch(/^condition/);
    expect((await app.request('DELETE', `/v1/alerts/rules/${r.body.id}`)).status).toBe(204);
    expect((await app.request('GET', `/v1/alerts/rules/${r.body.id}`)).status).toBe(404);
  });

  it('signs each webhook, retries a 500, and delivers once per firing', async () => {
    const secret = 'whsec_test_secret_123';
    await app.request('POST', '/v1/alerts/rules', { body: { name: 'warn', on: 'entitlement.level', channels: [{ type: 'webhook', url: hook.url, secret }] } });
    const alerts = app.tg.alerts;
    const fired = await alerts.onSignal(levelSignal());
    expect(fired).toHaveLength(1);
    // The same level again (arrival or sweep) within the window: deduplicated.
    expect(await alerts.onSignal(levelSignal())).toHaveLength(0);
    const rep = await alerts.deliverDue();
    expect(rep).toEqual({ sent: 1, retrying: 0, failed: 0 });
    expect(hook.received).toHaveLength(2);
    expect(hook.received[0]!.status).toBe(500);
    expect(hook.okById()).toEqual(new Map([[fired[0]!.id, 1]]));
    for (const r of hook.received) {
      expect(r.json.id).toBe(fired[0]!.id);
      expect(verifySignature(secret, r.body, String(r.headers['x-tollgate-signature']), Math.floor(clock.now().getTime() / 1000))).toBe(true);
    }
    const body = hook.received[1]!.json;
    expect(body).toMatchObject({ type: 'entitlement.level', subject: 'user-1', level: 'warning', value: '90500', threshold: '100000', occurred_at: '2026-01-15T10:00:00.000Z', purchase_url: 'https://shop.example/buy' });
    expect(body.rule.name).toBe('warn');
    // A second pass has nothing left to send.
    expect(await alerts.deliverDue()).toEqual({ sent: 0, retrying: 0, failed: 0 });
    const h = await app.request('GET', '/v1/alerts/history');
    expect(h.status).toBe(200);
    expect(h.body.data).toHaveLength(1);
    const d = h.body.data[0].deliveries[0];
    expect(d).toMatchObject({ type: 'webhook', status: 'sent', attempts: 2 });
    expect(d.attempt_log.map((a: any) => [a.ok, a.status_code])).toEqual([
      [false, 500],
      [true, 200],
    ]);
  });

  it('refuses a private-address webhook target with a clear error', async () => {
    for (const url of ['http://10.1.2.3/hook', 'http://169.254.169.254/latest/meta-data', 'http://[::1]:9/x', 'http://127.0.0.2:9/x', 'http://192.168.1.10/x']) {
      const r = await app.request('POST', '/v1/alerts/rules', { body: { name: 'ssrf', on: 'anomaly', channels: [{ type: 'webhook', url }] } });
      expect(r.status, url).toBe(400);
      expect(r.body.error.code).toBe('WEBHOOK_TARGET_REFUSED');
      expect(r.body.error.message).toMatch(/private, loopback or link-local.*TOLLGATE_WEBHOOK_ALLOWED_HOSTS/);
      expect(r.body.error.param).toBe('channels.0.url');
    }
  });

  it('POST /rules/:id/test sends a sample through every channel and reports each', async () => {
    const r = await app.request('POST', '/v1/alerts/rules', { body: { name: 't', on: 'entitlement.level', channels: [{ type: 'webhook', url: hook.url }, { type: 'in_app' }] } });
    const t = await app.request('POST', `/v1/alerts/rules/${r.body.id}/test`);
    expect(t.status).toBe(200);
    expect(t.body.deliveries.map((d: any) => [d.type, d.status])).toEqual([
      ['webhook', 'sent'],
      ['in_app', 'sent'],
    ]);
    expect(hook.received.at(-1)!.json.test).toBe(true);
  });
});
