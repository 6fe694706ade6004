import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import { testApp, llmEvent, type TestApp } from '../helpers/app.ts';
import { fixedClock } from '../../src/shared/clock.ts';
import { ALERT_CONFIG, ALERT_ENV, levelSignal } from './helpers.ts';

/** A real SMTP server on 127.0.0.1 that parses every message it accepts. */
async function smtpSink() {
  const mails: ParsedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream: NodeJS.ReadableStream, _session: unknown, cb: (err?: Error) => void) {
      simpleParser(stream as any).then(
        (m) => {
          mails.push(m);
          cb();
        },
        (e) => cb(e),
      );
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.server.address() as AddressInfo).port;
  return { url: `smtp://127.0.0.1:${port}`, mails, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('e-mail, in-app notifications and budgets', () => {
  let app: TestApp;
  let smtp: Awaited<ReturnType<typeof smtpSink>>;
  const clock = fixedClock('2026-01-15T10:00:00Z');
  beforeEach(async () => {
    clock.set('2026-01-15T10:00:00Z');
    smtp = await smtpSink();
    app = await testApp({ clock, env: { ...ALERT_ENV, SMTP_URL: smtp.url, TOLLGATE_DASHBOARD_URL: 'https://tollgate.example' }, config: ALERT_CONFIG });
  });
  afterEach(async () => {
    await app.close();
    await smtp.close();
  });

  it('sends a readable e-mail with the numbers, the reset, the buy link and a dashboard link', async () => {
    const r = await app.request('POST', '/v1/alerts/rules', { body: { name: 'tokens warning', on: 'entitlement.level', channels: [{ type: 'email', to: ['ops@example.com'] }] } });
    expect(r.status).toBe(201);
    const alerts = app.tg.alerts;
    const [f] = await alerts.onSignal(levelSignal());
    expect(await alerts.deliverDue()).toEqual({ sent: 1, retrying: 0, failed: 0 });
    expect(smtp.mails).toHaveLength(1);
    const m = smtp.mails[0]!;
    expect(m.subject).toBe('[Tollgate] user-1 reached warning: 90.5 % of llm_tokens used (90,500 of 100,000)');
    expect((m.to as any).text).toBe('ops@example.com');
    expect(m.text).toContain('Value: 90,500 llm_tokens (90.5 %)');
    expect(m.text).toContain('Resets: 2026-02-01T00:00:00.000Z');
    expect(m.text).toContain('Buy more: https://shop.example/buy');
    expect(m.text).toContain(`Dashboard: https://tollgate.example/alerts?firing=${f!.id}`);
    expect(m.html).toContain(`href="https://tollgate.example/alerts?firing=${f!.id}"`);
    expect(m.html).toContain('90,500 llm_tokens (90.5 %)');
    expect(m.headers.get('x-tollgate-firing-id')).toBe(f!.id);
  });

  it('refuses an e-mail channel when no SMTP server is configured', async () => {
    const bare = await testApp({ clock, env: ALERT_ENV, config: ALERT_CONFIG });
    try {
      const r = await bare.request('POST', '/v1/alerts/rules', { body: { name: 'x', on: 'anomaly', channels: [{ type: 'email', to: ['a@example.com'] }] } });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('SMTP_NOT_CONFIGURED');
    } finally {
      await bare.close();
    }
  });

  it('in-app: lists and marks read; a subject-bound key sees only its own', async () => {
    await app.request('POST', '/v1/alerts/rules', { body: { name: 'in app', on: 'entitlement.level', channels: [{ type: 'in_app' }] } });
    const alerts = app.tg.alerts;
    await alerts.onSignal(levelSignal());
    await alerts.onSignal(levelSignal({ entitlement_id: 'ent_2', subject: 'user-2', level: 'critical', percent: '0.96', usage: '96000' }));
    const all = await app.request('GET', '/v1/notifications');
    expect(all.body.data.map((n: any) => n.subject).sort()).toEqual(['user-1', 'user-2']);

    const mine = await app.key(['read'], { subject: 'user-1' });
    const l = await app.request('GET', '/v1/notifications?unread=true', { key: mine });
    expect(l.status).toBe(200);
    expect(l.body.data).toHaveLength(1);
    expect(l.body.data[0]).toMatchObject({ subject: 'user-1', level: 'warning', read_at: null, type: 'entitlement.level' });
    expect(l.body.data[0].data.purchase_url).toBe('https://shop.example/buy');
    expect((await app.request('GET', '/v1/notifications?subject=user-2', { key: mine })).status).toBe(403);
    const other = all.body.data.find((n: any) => n.subject === 'user-2');
    expect((await app.request('POST', `/v1/notifications/${other.id}/read`, { key: mine })).status).toBe(404);
    // The bound key may not read rules or history (they hold targets).
    expect((await app.request('GET', '/v1/alerts/rules', { key: mine })).status).toBe(403);

    const read = await app.request('POST', `/v1/notifications/${l.body.data[0].id}/read`, { key: mine });
    expect(read.status).toBe(200);
    expect(read.body.read_at).toBe('2026-01-15T10:00:00.000Z');
    expect((await app.request('GET', '/v1/notifications?unread=true', { key: mine })).body.data).toHaveLength(0);
    expect((await app.request('GET', '/v1/notifications', { key: mine })).body.data).toHaveLength(1);
  });

  it('a budget at 50/80/100 % fires three times, once each (arrival and sweep)', async () => {
    const r = await app.request('POST', '/v1/alerts/rules', {
      body: { name: 'tokens budget', on: 'budget.amount', condition: { meter: 'llm_tokens', amount: '1000', period: 'month', thresholds: [0.5, 0.8, 1] }, channels: [{ type: 'in_app' }] },
    });
    expect(r.status).toBe(201);
    const alerts = app.tg.alerts;
    let n = 0;
    const ingest = async (count: number) => {
      const evs = Array.from({ length: count }, () => llmEvent(`e${n++}`, { time: '2026-01-15T09:00:00Z' })); // 150 tokens each
      expect((await app.request('POST', '/v1/events', { body: evs })).status).toBe(202);
      return alerts.flush();
    };
    expect(await ingest(3)).toHaveLength(0); // 450
    expect((await ingest(1)).map((f) => f.details.threshold_percent)).toEqual(['50']); // 600
    expect(await ingest(1)).toHaveLength(0); // 750
    expect((await ingest(1)).map((f) => f.details.threshold_percent)).toEqual(['80']); // 900
    const last = await ingest(1); // 1050
    expect(last.map((f) => [f.details.threshold_percent, f.value, f.threshold])).toEqual([['100', '1050', '1000']]);
    expect(await ingest(1)).toHaveLength(0);
    // The hourly sweep re-reads the total: nothing new, and a day later still nothing (once per period).
    expect((await alerts.sweep()).fired).toBe(0);
    clock.advance(2 * 86_400_000);
    expect((await alerts.sweep()).fired).toBe(0);
    const h = await app.request('GET', '/v1/alerts/history');
    expect(h.body.data).toHaveLength(3);
  });

  it('per-subject budgets share one grouped read and fire for their own subject only', async () => {
    const mk = (subject: string) =>
      app.request('POST', '/v1/alerts/rules', { body: { name: `budget ${subject}`, on: 'budget.amount', filter: { subject }, condition: { meter: 'llm_tokens', amount: 300, period: 'day' }, channels: [{ type: 'in_app' }] } });
    for (const s of ['user-1', 'user-2', 'user-3']) expect((await mk(s)).status).toBe(201);
    const evs = [llmEvent('a1'), llmEvent('a2'), llmEvent('b1', { subject: 'user-2' })].map((e) => ({ ...e, time: '2026-01-15T09:00:00Z' }));
    expect((await app.request('POST', '/v1/events', { body: evs })).status).toBe(202);
    const fired = await app.tg.alerts.flush();
    expect(fired.map((f) => [f.subject, f.value])).toEqual([['user-1', '300']]);
  });
});
