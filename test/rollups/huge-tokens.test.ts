import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp, llmEvent, type TestApp } from '../helpers/app.ts';
import { fixedClock } from '../../src/shared/clock.ts';
import { rollupService } from '../../src/rollups/service.ts';
import { MAX_TOKENS_PER_EVENT } from '../../src/events/validate.ts';

/** Issue 13 item 4: huge token counts overflowed bigint rollups and broke every report, permanently. */
let app: TestApp;
const clock = fixedClock('2026-03-10T12:00:00Z');
const MAX = MAX_TOKENS_PER_EVENT;
const N = 1_500;

beforeAll(async () => {
  app = await testApp({ clock });
});
afterAll(() => app.close());

const reports = [
  '/v1/usage?from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z&window=hour&group_by=team',
  '/v1/usage?from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z&window=month',
  '/v1/usage/top?from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z&measure=tokens',
  '/v1/usage/top/series?from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z&measure=tokens&window=day',
  '/v1/summary',
  '/v1/meters/llm_tokens/query?from=2026-03-09T00:00:00Z&to=2026-03-11T00:00:00Z&window=hour',
  '/v1/meters/llm_input_tokens/query?from=2026-03-09T00:07:00Z&to=2026-03-11T00:00:00Z',
];

describe('huge token counts', () => {
  it('huge token counts: an event over 10^12 tokens in a class is rejected on its own, naming the field', async () => {
    const r = await app.request('POST', '/v1/events', {
      body: [
        llmEvent('ok-1', { time: '2026-03-09T01:00:00Z' }),
        llmEvent('big-1', { time: '2026-03-09T01:00:00Z', data: { input_tokens: 2 ** 53 - 1 } }),
        llmEvent('big-2', { time: '2026-03-09T01:00:00Z', data: { output_tokens: MAX + 1, reasoning_tokens: 1 } }),
        llmEvent('big-3', { time: '2026-03-09T01:00:00Z', data: { cache_read_tokens: MAX + 1 } }),
      ],
    });
    expect(r.status).toBe(202);
    expect(r.body.accepted).toBe(1);
    expect(r.body.rejected.map((x: any) => [x.index, x.error.split(' ')[0]])).toEqual([
      [1, 'data.input_tokens'],
      [2, 'data.output_tokens'],
      [3, 'data.cache_read_tokens'],
    ]);
    expect(r.body.rejected[0].error).toMatch(/at most 1000000000000/);
  });

  it('huge token counts: many max-size events in one hour keep every report working', async () => {
    const batch = Array.from({ length: N }, (_, i) =>
      llmEvent(`max-${i}`, {
        time: `2026-03-10T03:${String(i % 60).padStart(2, '0')}:00Z`,
        subject: `u${i % 3}`,
        data: { team: 'big', input_tokens: MAX, output_tokens: MAX, cache_read_tokens: MAX, cache_write_tokens: MAX, reasoning_tokens: MAX, cost: '1' },
      }),
    );
    const r = await app.request('POST', '/v1/events', { body: batch });
    expect(r.status).toBe(202);
    expect(r.body.accepted).toBe(N);
    for (const url of reports) {
      const q = await app.request('GET', url);
      expect(q.status, `${url}: ${JSON.stringify(q.body).slice(0, 300)}`).toBe(200);
    }
    const u = await app.request('GET', '/v1/usage?from=2026-03-10T03:00:00Z&to=2026-03-10T04:00:00Z&filter[team]=big');
    expect(u.body.totals.input_tokens).toBe(N * MAX);
    expect(u.body.totals.reasoning_tokens).toBe(N * MAX);
  });

  it('huge token counts: sums past 2^63 (events a store accepted before the bound) fold, rebuild and answer', async () => {
    // Before the per-event bound, ingest took input_tokens up to 2^53 − 1: 1,200 of them in one
    // hour pass bigint's 2^63 − 1. Such rows may sit in an upgraded store; write them as they were.
    const big = String(2 ** 53 - 1);
    await app.db.query(
      `WITH ins AS (
         INSERT INTO events (source, id, type, subject, time, data, provider, model, team, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, unpriced)
         SELECT 'legacy', 'l' || g, 'llm.usage', 'old', timestamptz '2026-02-03 05:00:00+00' + g * interval '1 second', '{}'::jsonb, 'openai', 'gpt-4o', 'legacy',
           $1::bigint, $1::bigint, 0, 0, 0, true
         FROM generate_series(1, 1200) g RETURNING seq)
       INSERT INTO rollup_pending (seqs) SELECT array_agg(seq) FROM ins`,
      [big],
    );
    const expected = 1200 * (2 ** 53 - 1);
    const u = await app.request('GET', '/v1/usage?from=2026-02-01T00:00:00Z&to=2026-03-01T00:00:00Z&window=hour&filter[team]=legacy');
    expect(u.status, JSON.stringify(u.body)).toBe(200);
    expect(u.body.totals.input_tokens).toBe(expected);
    const [n] = (await app.db.query<{ n: string }>(`SELECT sum(input_tokens)::text AS n FROM rollup_llm_model WHERE grain = 4 AND bucket = '2026-02-01T00:00:00Z'`)).rows;
    expect(BigInt(n!.n)).toBe(1200n * (2n ** 53n - 1n)); // exact in the database
    // `tollgate rollups rebuild` recomputes those months from the raw rows.
    const rebuilt = await rollupService(app.db, { zone: app.tg.config.tz }).rebuild(new Date('2026-02-01T00:00:00Z'), new Date('2026-04-01T00:00:00Z'));
    expect(rebuilt.from.toISOString()).toBe('2026-02-01T00:00:00.000Z');
    for (const url of [...reports, '/v1/usage?from=2026-02-01T00:00:00Z&to=2026-04-01T00:00:00Z&window=day&group_by=team']) {
      const q = await app.request('GET', url);
      expect(q.status, `${url}: ${JSON.stringify(q.body).slice(0, 300)}`).toBe(200);
    }
    const again = await app.request('GET', '/v1/usage?from=2026-02-01T00:00:00Z&to=2026-03-01T00:00:00Z&filter[team]=legacy');
    expect(again.body.totals.input_tokens).toBe(expected);
  });
});

describe('huge numbers elsewhere in an event', () => {
  it('huge numbers: a cost or a traffic counter the database cannot hold rejects that event alone', async () => {
    const snap = (id: string, traffic: unknown) => ({ specversion: '1.0', id, source: 'test', type: 'resource.snapshot', time: '2026-03-09T01:00:00Z', data: { host: 'h', traffic_bytes_total: traffic } });
    const r = await app.request('POST', '/v1/events', {
      body: [
        llmEvent('num-ok', { time: '2026-03-09T01:00:00Z', data: { cost: '999999999999.123' } }),
        llmEvent('num-cost-1', { time: '2026-03-09T01:00:00Z', data: { cost: '1e200000' } }),
        llmEvent('num-cost-2', { time: '2026-03-09T01:00:00Z', data: { cost: '1e-20000' } }),
        llmEvent('num-cost-3', { time: '2026-03-09T01:00:00Z', data: { cost: 1e300 } }),
        snap('num-traffic', '9'.repeat(200_000)),
        snap('num-traffic-ok', '1'.repeat(30)),
      ],
    });
    expect(r.status, JSON.stringify(r.body).slice(0, 400)).toBe(202);
    expect(r.body.accepted).toBe(2);
    expect(r.body.rejected.map((x: any) => [x.index, x.error.split(' ')[0]])).toEqual([
      [1, 'data.cost'],
      [2, 'data.cost'],
      [3, 'data.cost'],
      [4, 'data.traffic_bytes_total'],
    ]);
  });
});
