import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp, llmEvent, type TestApp } from '../helpers/app.ts';
import { fixedClock } from '../../src/shared/clock.ts';

let app: TestApp;
const clock = fixedClock('2026-03-10T03:20:00Z');
beforeAll(async () => {
  app = await testApp({ clock });
  const r = await app.request('POST', '/v1/events', {
    body: [
      llmEvent('u1', { time: '2026-03-09T23:59:00Z', subject: 'alice', data: { team: 'red', cost: '0.10', cache_read_tokens: 5 } }),
      llmEvent('u2', { time: '2026-03-10T00:10:00Z', subject: 'alice', data: { team: 'red', model: 'gpt-4o-mini', cost: '0.02' } }),
      llmEvent('u3', { time: '2026-03-10T01:00:00Z', subject: 'bob', data: { team: 'blue', provider: 'anthropic', model: 'claude', cost: '1.5', reasoning_tokens: 3 } }),
      llmEvent('u4', { time: '2026-03-01T12:00:00Z', subject: 'bob', data: { team: 'blue', model: 'no-such-model-xyz' } }), // unpriced (no price)
    ],
  });
  expect(r.status).toBe(202);
});
afterAll(() => app.close());

describe('GET /v1/usage', () => {
  it('totals a range', async () => {
    const r = await app.request('GET', '/v1/usage?from=2026-03-01T00:00:00Z&to=2026-03-11T00:00:00Z');
    expect(r.status).toBe(200);
    expect(r.body.rows).toHaveLength(1);
    expect(r.body.totals).toEqual({
      requests: 4, unpriced_requests: 1, input_tokens: 400, output_tokens: 200, cache_read_tokens: 5, cache_write_tokens: 0, reasoning_tokens: 3, cost: '1.62',
    });
    expect(r.body.rows[0].window_start).toBe('2026-03-01T00:00:00Z');
  });

  it('windows by day in Asia/Kolkata with the zone offset, grouped and filtered', async () => {
    const r = await app.request('GET', '/v1/usage?from=2026-03-09T00:00:00%2B05:30&to=2026-03-11T00:00:00%2B05:30&window=day&tz=Asia/Kolkata&group_by=team&filter[team]=red');
    expect(r.status).toBe(200);
    expect(r.body.rows.map((x: any) => [x.window_start, x.window_end, x.team, x.requests, x.cost])).toEqual([
      ['2026-03-10T00:00:00+05:30', '2026-03-11T00:00:00+05:30', 'red', 2, '0.12'],
    ]);
  });

  it('a team-bound key sees only its team', async () => {
    const key = await app.key(['read'], { team: 'blue' });
    const r = await app.request('GET', '/v1/usage?from=2026-03-01T00:00:00Z&to=2026-03-11T00:00:00Z&group_by=team', { key });
    expect(r.body.rows.map((x: any) => x.team)).toEqual(['blue']);
    const denied = await app.request('GET', '/v1/usage?from=2026-03-01T00:00:00Z&to=2026-03-11T00:00:00Z&filter[team]=red', { key });
    expect(denied.status).toBe(403);
    expect(denied.body.error.param).toBe('filter[team]');
  });

  it('validates input, naming the field', async () => {
    const cases: Array<[string, string]> = [
      ['/v1/usage?to=2026-03-11T00:00:00Z', 'from'],
      ['/v1/usage?from=2026-03-01T00:07:00Z&to=2026-03-11T00:00:00Z', 'from'],
      ['/v1/usage?from=2026-03-11T00:00:00Z&to=2026-03-01T00:00:00Z', 'from'],
      ['/v1/usage?from=2026-03-01T00:00:00Z&to=2026-03-11T00:00:00Z&tz=Mars/Olympus', 'tz'],
      ['/v1/usage?from=2026-03-01T00:00:00Z&to=2026-03-11T00:00:00Z&group_by=color', 'group_by'],
      ['/v1/usage?from=2026-03-01T00:00:00Z&to=2026-03-11T00:00:00Z&filter[color]=x', 'filter[color]'],
      ['/v1/usage?from=2020-01-01T00:00:00Z&to=2026-03-11T00:00:00Z&window=hour', 'window'],
    ];
    for (const [url, param] of cases) {
      const r = await app.request('GET', url);
      expect(r.status, url).toBe(400);
      expect(r.body.error.param, url).toBe(param);
    }
  });

  it('top and top/series', async () => {
    const top = await app.request('GET', '/v1/usage/top?by=subject&measure=cost&from=2026-03-01T00:00:00Z&to=2026-03-11T00:00:00Z');
    expect(top.status).toBe(200);
    expect(top.body.rows.map((x: any) => [x.rank, x.subject, x.cost])).toEqual([[1, 'bob', '1.5'], [2, 'alice', '0.12']]);
    const s = await app.request('GET', '/v1/usage/top/series?by=subject&measure=requests&limit=1&window=day&from=2026-03-09T00:00:00Z&to=2026-03-11T00:00:00Z');
    expect(s.status).toBe(200);
    expect(s.body.series).toHaveLength(1);
    expect(s.body.series[0].subject).toBe('alice');
    expect(s.body.series[0].points.map((p: any) => p.requests)).toEqual([1, 1]);
  });

  it('summary in a zone', async () => {
    const r = await app.request('GET', '/v1/summary?tz=Asia/Seoul');
    expect(r.status).toBe(200);
    // now = 2026-03-10 12:20 KST: yesterday = Mar 9 KST (= Mar 8 15:00Z .. Mar 9 15:00Z): nothing
    expect(r.body.yesterday.requests).toBe(0);
    expect(r.body.yesterday.from).toBe('2026-03-09T00:00:00+09:00');
    expect(r.body.this_week.requests).toBe(3);
    expect(r.body.month_to_date.requests).toBe(4);
    expect(r.body.month_to_date.cost).toBe('1.62');
    expect(r.body.by_provider.map((p: any) => p.provider)).toEqual(['anthropic', 'openai']);
    expect(r.body.currency).toBe('USD');
    // The projection is analysis's (test/analysis/forecast.test.ts); here: never below month to date.
    expect(Number(r.body.forecast_month_end)).toBeGreaterThanOrEqual(1.62);
  });

  it('exports csv and anonymised ndjson', async () => {
    const csv = await app.request('GET', '/v1/export?format=csv&from=2026-03-01T00:00:00Z&to=2026-03-11T00:00:00Z&window=none&group_by=subject');
    expect(csv.status).toBe(200);
    expect(String(csv.headers['content-type'])).toContain('text/csv');
    const lines = String(csv.body).trim().split('\n');
    expect(lines[0]).toBe('window_start,window_end,subject,requests,unpriced_requests,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens,reasoning_tokens,cost');
    expect(lines).toHaveLength(3);
    const nd = await app.request('GET', '/v1/export?format=ndjson&kind=events&anonymize=true&from=2026-03-01T00:00:00Z&to=2026-03-11T00:00:00Z');
    const evs = String(nd.body).trim().split('\n').map((l) => JSON.parse(l));
    expect(evs).toHaveLength(4);
    expect(evs.every((e: any) => /^anon_[0-9a-f]{32}$/.test(e.subject) && e.data === undefined)).toBe(true);
    const again = await app.request('GET', '/v1/export?format=ndjson&kind=events&anonymize=true&from=2026-03-01T00:00:00Z&to=2026-03-11T00:00:00Z');
    expect(again.body).toBe(nd.body);
    expect(new Set(evs.map((e: any) => e.subject)).size).toBe(2);
  });

  it('is described in the OpenAPI document', async () => {
    const r = await app.request('GET', '/openapi.json');
    expect(r.status).toBe(200);
    for (const p of ['/v1/usage', '/v1/usage/top', '/v1/usage/top/series', '/v1/summary', '/v1/export']) expect(r.body.paths[p], p).toBeDefined();
    expect(r.body.paths['/v1/usage'].get.parameters.map((x: any) => x.name)).toContain('filter[model]');
  });
});
