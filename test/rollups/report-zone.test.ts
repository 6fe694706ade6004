import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp, llmEvent, type TestApp } from '../helpers/app.ts';
import { freshDb } from '../helpers/db.ts';
import { fixedClock } from '../../src/shared/clock.ts';
import { rollupService, zoneDisagreement } from '../../src/rollups/service.ts';
import type { Db } from '../../src/shared/db/index.ts';

// Day and month rollups in the deployment's zone (config tz): built at start when the zone is new
// or changed, from the raw events still stored; days before those answer from UTC buckets.
const NOW = '2026-06-30T12:00:00Z';
const EVENTS = [
  llmEvent('a', { time: '2026-03-01T10:00:00Z', subject: 'ann', data: { cost: '1.5' } }),
  llmEvent('b', { time: '2026-03-01T16:00:00Z', subject: 'ann', data: { cost: '2.25' } }), // already 2 March in Seoul
  llmEvent('c', { time: '2026-04-30T20:00:00Z', subject: 'ben', data: { cost: '4' } }), // 1 May in Seoul
  llmEvent('d', { time: '2026-06-29T10:00:00Z', subject: 'ben', data: { cost: '0.125' } }),
];

let db: Db;
const open: TestApp[] = [];
async function start(tz: string): Promise<TestApp> {
  const app = await testApp({ db, clock: fixedClock(NOW), config: { tz, 'retention.archive': false } });
  open.push(app);
  return app;
}
const zoneRows = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM rollup_llm_model WHERE grain IN (5, 6)')).rows[0]!.n;
const seoulDays = (app: TestApp) =>
  app.request('GET', `/v1/usage?from=${encodeURIComponent('2026-03-01T00:00:00+09:00')}&to=${encodeURIComponent('2026-07-01T00:00:00+09:00')}&window=month&tz=Asia/Seoul&group_by=subject`);

beforeAll(async () => {
  db = await freshDb();
});
afterAll(async () => {
  for (const a of open) await a.tg.close();
  await db.close();
});

describe('report-zone rollups', () => {
  it('are built at start for a new zone from the stored raw events, and answer like the UTC path', async () => {
    const utc = await start('UTC');
    expect((await utc.request('POST', '/v1/events', { body: EVENTS })).body.accepted).toBe(4);
    const viaUtcGrains = await seoulDays(utc);
    expect(viaUtcGrains.status).toBe(200);
    await utc.request('GET', '/v1/usage?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z&tz=UTC'); // drains
    expect(await zoneRows()).toBe(0);

    const seoul = await start('Asia/Seoul');
    expect(await zoneRows()).toBeGreaterThan(0);
    const viaZoneGrains = await seoulDays(seoul);
    expect(viaZoneGrains.body).toEqual(viaUtcGrains.body);
    expect(viaZoneGrains.body.rows.map((r: any) => [r.window_start, r.subject, r.cost])).toEqual([
      ['2026-03-01T00:00:00+09:00', 'ann', '3.75'],
      ['2026-05-01T00:00:00+09:00', 'ben', '4'],
      ['2026-06-01T00:00:00+09:00', 'ben', '0.125'],
    ]);
    // Events ingested now land in the zone grains too.
    await seoul.request('POST', '/v1/events', { body: [llmEvent('e', { time: '2026-03-01T15:30:00Z', subject: 'ann', data: { cost: '10' } })] });
    const after = await seoulDays(seoul);
    expect(after.body.rows[0]).toMatchObject({ subject: 'ann', cost: '13.75' });
    const seoulMarch2 = await seoul.request('GET', `/v1/usage?from=${encodeURIComponent('2026-03-02T00:00:00+09:00')}&to=${encodeURIComponent('2026-03-03T00:00:00+09:00')}&tz=Asia/Seoul`);
    expect(seoulMarch2.body.totals).toMatchObject({ requests: 2, cost: '12.25' });
  });

  it('after retention deleted raw events, a new zone is complete from the oldest raw event on; earlier days read UTC buckets', async () => {
    const before = await seoulDays(open[open.length - 1]!);
    // Raw events before May go (as retention would); the rollups keep them.
    await db.query("DELETE FROM events WHERE time < '2026-04-15T00:00:00Z'");
    const kolkata = await start('Asia/Kolkata');
    const since = (await db.query<{ value: string }>("SELECT value FROM rollup_settings WHERE key = 'zone_since'")).rows[0]!.value;
    // Oldest raw event 2026-04-30T20:00Z = 1 May 01:30 in Kolkata: complete from 2 May 00:00 +05:30.
    expect(since).toBe('2026-05-01T18:30:00.000Z');
    const months = await kolkata.request('GET', `/v1/usage?from=${encodeURIComponent('2026-03-01T00:00:00+05:30')}&to=${encodeURIComponent('2026-07-01T00:00:00+05:30')}&window=none&tz=Asia/Kolkata`);
    expect(months.status).toBe(200);
    expect(months.body.totals).toMatchObject({ requests: 5, cost: '17.875' });
    expect(before.status).toBe(200);
  });

  it('switching back to UTC drops the zone rows', async () => {
    await start('UTC');
    expect(await zoneRows()).toBe(0);
    expect((await db.query<{ value: string }>("SELECT value FROM rollup_settings WHERE key = 'report_zone'")).rows[0]!.value).toBe('');
  });

  it('a start-up check that fails (database down) is retried by the next query, not remembered', async () => {
    let down = true;
    const flaky = new Proxy(db, {
      get(target, prop, recv) {
        const v = Reflect.get(target, prop, recv);
        if (prop === 'query' || prop === 'transaction') {
          return (...a: unknown[]) => (down ? Promise.reject(new Error('connection refused')) : (v as (...x: unknown[]) => unknown).apply(target, a));
        }
        return v;
      },
    }) as Db;
    const svc = rollupService(flaky, { zone: 'UTC' });
    const q = { from: new Date('2026-06-29T00:00:00Z'), to: new Date('2026-06-30T00:00:00Z'), tz: 'UTC', window: 'day' as const, groupBy: [], filters: {} };
    await expect(svc.usage(q)).rejects.toThrow('connection refused');
    down = false;
    expect((await svc.usage(q)).totals).toMatchObject({ requests: 1, cost: '0.125' });
  });

  it('the database and Node agree on every local day of the zones the tests use; a zone where they do not gets no zone rollups', async () => {
    // St John's repeats midnight in some fall-backs (the database labels the day with the later one).
    for (const z of ['Asia/Seoul', 'Asia/Kolkata', 'Asia/Kathmandu', 'America/New_York', 'Europe/London', 'America/St_Johns']) expect(await zoneDisagreement(db, z)).toBeNull();
    // Samoa skipped 30 December 2011.
    expect(await zoneDisagreement(db, 'Pacific/Apia')).toMatch(/2011-12-30/);
    const apia = await start('Pacific/Apia');
    expect(await zoneRows()).toBe(0);
    const r = await apia.request('GET', `/v1/usage?from=${encodeURIComponent('2026-06-29T00:00:00+13:00')}&to=${encodeURIComponent('2026-07-01T00:00:00+13:00')}&tz=Pacific/Apia`);
    expect(r.body.totals).toMatchObject({ requests: 1, cost: '0.125' });
  });
});
