import { afterEach, describe, expect, it } from 'vitest';
import { testApp, llmEvent, type TestApp } from '../helpers/app.ts';
import { fixedClock } from '../../src/shared/clock.ts';

let app: TestApp | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const tokens = (id: string, time: string, input: number, output = 0, subject = 'user-1') =>
  llmEvent(id, { time, subject, data: { input_tokens: input, output_tokens: output } });

async function seed003(a: TestApp) {
  const ent = await a.request('POST', '/v1/entitlements', {
    body: { subject: 'user-1', meter: 'llm_tokens', period: 'month', tz: 'Asia/Seoul', thresholds: { warning: 0.9, critical: 0.95, block: 1.05 }, purchase_url: 'https://example.com/buy' },
  });
  expect(ent.status).toBe(201);
  const free = await a.request('POST', `/v1/entitlements/${ent.body.id}/grants`, { body: { amount: '100000', kind: 'free', priority: 10, recurring: 'month', effective_at: '2026-01-01T00:00:00+09:00' } });
  expect(free.status).toBe(201);
  return ent.body.id as string;
}

describe('quotas API (seed 003 end to end)', () => {
  it('free tokens reset at 00:00 on the 1st in Seoul, purchased go first and stay; levels; estimated turns', async () => {
    const clock = fixedClock('2026-01-20T00:00:00Z');
    app = await testApp({ clock });
    const id = await seed003(app);
    const buy = await app.request('POST', `/v1/entitlements/${id}/grants`, { body: { amount: '50000', kind: 'purchased', priority: 1, effective_at: '2026-01-05T00:00:00Z' } });
    expect(buy.status).toBe(201);
    const ev = await app.request('POST', '/v1/events', { body: [tokens('a', '2026-01-10T00:00:00Z', 60_000), tokens('b', '2026-01-11T00:00:00Z', 80_000, 0), tokens('other', '2026-01-11T00:00:00Z', 5, 0, 'user-2')] });
    expect(ev.status).toBe(202);
    let v = await app.request('GET', `/v1/entitlements/${id}/value`);
    expect(v.status).toBe(200);
    expect(v.body).toMatchObject({ usage: '140000', available: '150000', balance: '10000', level: 'warning', purchase_url: 'https://example.com/buy', estimated_turns: null }); // no request in the last 7 days
    const g = Object.fromEntries(v.body.grants.map((x: any) => [x.kind, x]));
    expect(g.purchased).toMatchObject({ used: '50000', balance: '0' });
    expect(g.free).toMatchObject({ used: '90000', balance: '10000' });

    // One minute before the Seoul month start, then at it (2026-01-31T15:00Z).
    clock.set('2026-01-31T14:59:00Z');
    v = await app.request('GET', `/v1/entitlements/${id}/value`);
    expect(v.body.usage).toBe('140000');
    expect(v.body.resets_at).toBe('2026-01-31T15:00:00.000Z');
    clock.set('2026-01-31T15:00:00Z');
    v = await app.request('GET', `/v1/entitlements/${id}/value`);
    expect(v.body).toMatchObject({ usage: '0', available: '100000', balance: '100000', level: 'ok' });

    // February: a second purchase goes first again; then 96 % → critical; 105 % → blocked.
    clock.set('2026-02-10T00:00:00Z');
    await app.request('POST', `/v1/entitlements/${id}/grants`, { body: { amount: '20000', kind: 'purchased', priority: 1 } });
    await app.request('POST', '/v1/events', { body: [tokens('c', '2026-02-10T00:00:00Z', 115_200)] });
    v = await app.request('GET', `/v1/entitlements/${id}/value`);
    expect(v.body).toMatchObject({ usage: '115200', available: '120000', balance: '4800', percent: '0.96', level: 'critical' });
    // The last 7 days end at now (exclusive): the request stamped exactly now is not in them yet.
    expect(v.body.estimated_turns).toBeNull();
    await app.request('POST', '/v1/events', { body: [tokens('d', '2026-02-10T00:00:00Z', 10_800)] });
    v = await app.request('GET', `/v1/entitlements/${id}/value`);
    expect(v.body).toMatchObject({ usage: '126000', level: 'blocked', balance: '0' });
    const chk = await app.request('POST', '/v1/check', { body: { subject: 'user-1', meter: 'llm_tokens', amount: 1 } });
    expect(chk.status).toBe(200);
    expect(chk.body).toMatchObject({ allowed: false, level: 'blocked' });

    const h = await app.request('GET', `/v1/entitlements/${id}/history?window=day`);
    expect(h.status).toBe(200);
    const day10 = h.body.rows.find((r: any) => r.window_start.startsWith('2026-02-09T15:00'));
    expect(day10.usage).toBe('126000');
    expect(day10.burns.reduce((s: number, b: any) => s + Number(b.amount), 0)).toBe(120_000);
  });

  it('estimated_turns from the last 7 days\' average usage per request', async () => {
    app = await testApp({ clock: fixedClock('2026-01-20T00:00:00Z') });
    const id = await seed003(app);
    await app.request('POST', '/v1/events', { body: [tokens('a', '2026-01-18T00:00:00Z', 1000), tokens('b', '2026-01-19T00:00:00Z', 3000), tokens('old', '2026-01-02T00:00:00Z', 50_000)] });
    const v = await app.request('GET', `/v1/entitlements/${id}/value`);
    // balance 100,000 − 54,000 = 46,000; average of the last 7 days = 2,000 → 23 turns.
    expect(v.body).toMatchObject({ balance: '46000', estimated_turns: 23 });
  });

  it('reservations count against the balance, settle, release and expire; nothing leaks', async () => {
    const clock = fixedClock('2026-01-20T00:00:00Z');
    app = await testApp({ clock });
    const id = await seed003(app);
    await app.request('POST', '/v1/events', { body: [tokens('a', '2026-01-10T00:00:00Z', 99_000)] });
    const body = { subject: 'user-1', meter: 'llm_tokens', amount: 4000, ttl_s: 30 };
    const r1 = await app.request('POST', '/v1/reservations', { body });
    expect(r1.status).toBe(201);
    expect(r1.body).toMatchObject({ allowed: true, level: 'critical' });
    const r2 = await app.request('POST', '/v1/reservations', { body });
    expect(r2.body).toMatchObject({ allowed: false, level: 'blocked', id: null });
    // Released: its room comes back at once (LiteLLM #27639: no phantom 429 below the cap).
    expect((await app.request('DELETE', `/v1/reservations/${r1.body.id}`)).status).toBe(200);
    const r3 = await app.request('POST', '/v1/reservations', { body });
    expect(r3.body.allowed).toBe(true);
    // Expiry by ttl (a client that never settles).
    clock.advance(31_000);
    const swept = await app.tg.quotas.service.sweep();
    expect(swept.expired).toBe(1);
    const r4 = await app.request('POST', '/v1/reservations', { body });
    expect(r4.body.allowed).toBe(true);
    const s = await app.request('POST', `/v1/reservations/${r4.body.id}/settle`, { body: { actual: '3500' } });
    expect(s.status).toBe(200);
    expect((await app.request('POST', `/v1/reservations/${r4.body.id}/settle`, { body: { actual: '3500' } })).status).toBe(404);
    const v = await app.request('GET', `/v1/entitlements/${id}/value`);
    expect(v.body.reserved).toBe('3500');
    clock.advance(10_000);
    await app.tg.quotas.service.sweep();
    expect((await app.request('GET', `/v1/entitlements/${id}/value`)).body.reserved).toBe('0');
    expect(await app.tg.quotas.service.store.openReservations()).toBe(0);
  });

  it('grants are voided, never edited; entitlements patch and delete; errors have the one shape', async () => {
    app = await testApp({ clock: fixedClock('2026-01-20T00:00:00Z') });
    const id = await seed003(app);
    const g = await app.request('POST', `/v1/entitlements/${id}/grants`, { body: { amount: '500', kind: 'promotional', priority: 5 } });
    expect((await app.request('GET', `/v1/entitlements/${id}/value`)).body.available).toBe('100500');
    const vd = await app.request('POST', `/v1/entitlements/${id}/grants/${g.body.id}/void`);
    expect(vd.status).toBe(200);
    expect(vd.body.voided_at).toBe('2026-01-20T00:00:00.000Z');
    expect((await app.request('GET', `/v1/entitlements/${id}/value`)).body.available).toBe('100000');
    expect((await app.request('GET', `/v1/entitlements/${id}/grants`)).body.data).toHaveLength(2);
    const p = await app.request('PATCH', `/v1/entitlements/${id}`, { body: { thresholds: { warning: 0.8, critical: 0.9, block: 1 } } });
    expect(p.body.thresholds).toEqual({ warning: '0.8', critical: '0.9', block: '1' });
    const bad = await app.request('POST', '/v1/entitlements', { body: { meter: 'llm_tokens', period: 'month' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.type).toBe('invalid_request');
    expect((await app.request('DELETE', `/v1/entitlements/${id}`)).status).toBe(200);
    const gone = await app.request('GET', `/v1/entitlements/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.error).toMatchObject({ type: 'not_found' });
  });

  it('a bound key reads only its own; writes need admin; stats are admin-only', async () => {
    app = await testApp({ clock: fixedClock('2026-01-20T00:00:00Z') });
    const id = await seed003(app);
    const mine = await app.key(['read'], { subject: 'user-1' });
    const theirs = await app.key(['read'], { subject: 'user-2' });
    expect((await app.request('GET', `/v1/entitlements/${id}/value`, { key: mine })).status).toBe(200);
    expect((await app.request('GET', `/v1/entitlements/${id}/value`, { key: theirs })).status).toBe(404);
    expect((await app.request('GET', '/v1/entitlements', { key: theirs })).body.data).toEqual([]);
    expect((await app.request('POST', `/v1/entitlements/${id}/grants`, { key: mine, body: { amount: 1, kind: 'free' } })).status).toBe(403);
    expect((await app.request('GET', '/v1/entitlements/stats', { key: mine })).status).toBe(403);
    await app.request('POST', '/v1/events', { body: [tokens('a', '2026-01-10T00:00:00Z', 92_000)] });
    await app.request('GET', `/v1/entitlements/${id}/value`);
    const st = await app.request('GET', '/v1/entitlements/stats?meter=llm_tokens');
    expect(st.status).toBe(200);
    expect(st.body.overview).toMatchObject({ subjects: 1, active_subjects: 1, used: '92000' });
    expect(st.body.distribution.find((b: any) => b.bucket === '90-95%').subjects).toBe(1);
    expect(st.body.top[0]).toMatchObject({ subject: 'user-1', used: '92000', available: '100000', percent: '0.92' });
  });

  it('publishes entitlement.level once when the level changes', async () => {
    app = await testApp({ clock: fixedClock('2026-01-20T00:00:00Z') });
    const id = await seed003(app);
    const seen: any[] = [];
    app.tg.signals.on('entitlement.level', (s) => void seen.push(s));
    await app.request('POST', '/v1/events', { body: [tokens('a', '2026-01-10T00:00:00Z', 95_500)] });
    await app.request('GET', `/v1/entitlements/${id}/value`);
    await app.request('GET', `/v1/entitlements/${id}/value`);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ entitlement_id: id, level: 'critical', previous_level: 'ok', subject: 'user-1', usage: '95500', purchase_url: 'https://example.com/buy' });
  });

  it('a budget is an entitlement on llm_cost with a filter', async () => {
    app = await testApp({ clock: fixedClock('2026-01-20T00:00:00Z') });
    const e = await app.request('POST', '/v1/entitlements', { body: { team: 't1', meter: 'llm_cost', filter: { provider: 'openai' }, period: 'month', tz: 'UTC' } });
    expect(e.status).toBe(201);
    await app.request('POST', `/v1/entitlements/${e.body.id}/grants`, { body: { amount: '10', kind: 'free', recurring: 'month', effective_at: '2026-01-01T00:00:00Z' } });
    await app.request('POST', '/v1/events', { body: [
      llmEvent('x', { time: '2026-01-10T00:00:00Z', data: { team: 't1', cost: '4.5' } }),
      llmEvent('y', { time: '2026-01-10T00:00:00Z', data: { team: 't1', provider: 'anthropic', model: 'claude-sonnet-4-5', cost: '3' } }),
    ] });
    const v = await app.request('GET', `/v1/entitlements/${e.body.id}/value`);
    expect(v.body).toMatchObject({ usage: '4.5', balance: '5.5', available: '10' });
  });
});
