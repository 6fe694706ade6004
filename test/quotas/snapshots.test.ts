import { afterEach, describe, expect, it } from 'vitest';
import { testApp, llmEvent, type TestApp } from '../helpers/app.ts';
import { fixedClock } from '../../src/shared/clock.ts';

/**
 * Stored usage snapshots (src/quotas/usage.ts): an answer replays only the usage after the
 * stored state's instant S, and usage that arrives late for an instant before S is still counted.
 */
let app: TestApp | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const tokens = (id: string, time: string, input: number) => llmEvent(id, { time, subject: 'u1', data: { input_tokens: input, output_tokens: 0 } });

async function sources(a: TestApp): Promise<Record<string, number>> {
  const text = (await a.tg.metrics.getSingleMetric('tollgate_quota_computations_total')!.get()).values;
  return Object.fromEntries(text.map((v) => [String(v.labels.source), v.value]));
}

async function stored(a: TestApp, id: string) {
  const r = await a.db.query<{ at: Date; usage_before: string }>(`SELECT at, usage_before::text AS usage_before FROM quota_usage_snapshots WHERE entitlement_id = $1`, [id]);
  const row = r.rows[0];
  return row ? { at: new Date(row.at).toISOString(), usage_before: row.usage_before } : null;
}

async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  const end = Date.now() + 5000;
  for (;;) {
    const v = await f();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function setup(clock: ReturnType<typeof fixedClock>) {
  app = await testApp({ clock });
  const e = await app.request('POST', '/v1/entitlements', { body: { subject: 'u1', meter: 'llm_tokens', period: 'month', tz: 'Asia/Seoul', thresholds: { warning: 0.9, critical: 0.95, block: 1.05 } } });
  expect(e.status).toBe(201);
  const g = await app.request('POST', `/v1/entitlements/${e.body.id}/grants`, { body: { amount: '1000', kind: 'free', priority: 10, recurring: 'month', effective_at: '2026-03-01T00:00:00+09:00' } });
  expect(g.status).toBe(201);
  return { a: app, id: e.body.id as string };
}

describe('stored usage snapshots', () => {
  it('OpenMeter #2406: usage arriving late for an instant before the stored snapshot still counts (detected, state rebuilt)', async () => {
    const clock = fixedClock('2026-03-10T12:00:00Z');
    const { a, id } = await setup(clock);
    expect((await a.request('POST', '/v1/events', { body: [tokens('e1', '2026-03-10T09:00:00Z', 100)] })).status).toBe(202);
    clock.set('2026-03-10T15:05:00Z');
    // First answer: a replay from the start; it stores the state at the last hour boundary ≥ 10 min ago.
    expect((await a.request('GET', `/v1/entitlements/${id}/value`)).body).toMatchObject({ usage: '100', balance: '900' });
    expect(await until(() => stored(a, id), (s) => s !== null)).toEqual({ at: '2026-03-10T14:00:00.000Z', usage_before: '100' });
    const s0 = await sources(a);
    expect(s0.replayed).toBe(1);

    // Usage after S is replayed on top of the stored state.
    await a.request('POST', '/v1/events', { body: [tokens('e2', '2026-03-10T14:30:00Z', 7)] });
    expect((await a.request('GET', `/v1/entitlements/${id}/value`)).body).toMatchObject({ usage: '107', balance: '893' });
    expect((await sources(a)).stored).toBe(1);

    // A late event, stamped before S: the usage before S no longer matches what the state consumed.
    await a.request('POST', '/v1/events', { body: [tokens('late', '2026-03-10T10:00:00Z', 50)] });
    expect((await a.request('GET', `/v1/entitlements/${id}/value`)).body).toMatchObject({ usage: '157', balance: '843' });
    expect((await sources(a)).rebuilt).toBe(1);
    expect(await until(() => stored(a, id), (s) => s?.usage_before === '150')).toEqual({ at: '2026-03-10T14:00:00.000Z', usage_before: '150' });
    // … and the rebuilt state is used from then on (a second later: past this process's 0.5 s answer cache).
    clock.advance(1000);
    expect((await a.request('POST', '/v1/check', { body: { subject: 'u1', meter: 'llm_tokens', amount: 1 } })).body).toMatchObject({ allowed: true, balance: '842' });
    expect((await sources(a)).stored).toBe(2);
  });

  it('the snapshot advances when it is older than an hour and across the reset; grants given or voided after it keep it valid, a backdated one rebuilds it', async () => {
    const clock = fixedClock('2026-03-10T12:00:00Z');
    const { a, id } = await setup(clock);
    await a.request('POST', '/v1/events', { body: [tokens('e1', '2026-03-10T09:00:00Z', 400)] });
    expect((await a.request('GET', `/v1/entitlements/${id}/value`)).body).toMatchObject({ usage: '400' });
    expect((await until(() => stored(a, id), (s) => s !== null))!.at).toBe('2026-03-10T11:00:00.000Z');

    // A purchase now (after S): the stored state stays valid.
    const buy = await a.request('POST', `/v1/entitlements/${id}/grants`, { body: { amount: '500', kind: 'purchased', priority: 1 } });
    await a.request('POST', '/v1/events', { body: [tokens('e2', '2026-03-10T12:00:00Z', 100)] });
    let v = await a.request('GET', `/v1/entitlements/${id}/value`);
    expect(v.body).toMatchObject({ usage: '500', available: '1500', balance: '1000' });
    expect((await sources(a)).stored).toBe(1);

    // Past the Seoul month start (2026-03-31T15:00Z): the snapshot advances; usage starts over, the purchase's rest stays.
    clock.set('2026-03-31T16:00:00Z');
    v = await a.request('GET', `/v1/entitlements/${id}/value`);
    expect(v.body).toMatchObject({ usage: '0', available: '1400', balance: '1400' });
    expect((await sources(a)).stored).toBe(2);
    expect((await until(() => stored(a, id), (s) => s?.at === '2026-03-31T15:00:00.000Z'))).toEqual({ at: '2026-03-31T15:00:00.000Z', usage_before: '500' });

    // Voiding now keeps it valid; a grant backdated before S rebuilds it.
    await a.request('POST', `/v1/entitlements/${id}/grants/${buy.body.id}/void`);
    v = await a.request('GET', `/v1/entitlements/${id}/value`);
    expect(v.body).toMatchObject({ usage: '0', available: '1000', balance: '1000' });
    expect((await sources(a)).stored).toBe(3);
    await a.request('POST', `/v1/entitlements/${id}/grants`, { body: { amount: '30', kind: 'promotional', priority: 0, effective_at: '2026-03-20T00:00:00Z' } });
    v = await a.request('GET', `/v1/entitlements/${id}/value`);
    expect(v.body).toMatchObject({ usage: '0', available: '1030', balance: '1030' });
    expect((await sources(a)).rebuilt).toBe(1);
  });
});
