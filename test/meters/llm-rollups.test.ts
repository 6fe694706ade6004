import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp, llmEvent, type TestApp } from '../helpers/app.ts';
import { fixedClock } from '../../src/shared/clock.ts';

/**
 * The built-in llm_* meters are answered by the usage rollups. Their answers must equal what the
 * bucket-based meters returned on the same events: llm-baseline.json was recorded from the old
 * implementation (same events, same queries, both databases) and must not be regenerated. (Its
 * llm_requests values were turned from JSON numbers into strings when every meter value became a
 * decimal string, issue 13; nothing else changed.)
 */
const BASELINE = new URL('./llm-baseline.json', import.meta.url);
const SLUGS = ['llm_requests', 'llm_input_tokens', 'llm_output_tokens', 'llm_tokens', 'llm_cost'];
const QUERIES = [
  'from=2026-03-01T00:00:00Z&to=2026-03-06T00:00:00Z',
  'from=2026-03-01T00:00:00Z&to=2026-03-06T00:00:00Z&window=day',
  'from=2026-03-01T00:00:00Z&to=2026-03-06T00:00:00Z&window=day&tz=Asia/Kathmandu',
  'from=2026-03-01T00:00:00Z&to=2026-03-06T00:00:00Z&window=week&tz=America/New_York&group_by=team',
  'from=2026-03-02T03:07:00Z&to=2026-03-02T09:52:30Z&window=hour',
  'from=2026-03-02T03:07:00Z&to=2026-03-02T09:52:30Z&window=hour&group_by=model,team',
  'from=2026-03-02T03:07:00Z&to=2026-03-04T22:41:00Z&window=day&tz=Asia/Kolkata&group_by=provider',
  'from=2026-03-02T03:07:00Z&to=2026-03-02T03:12:00Z',
  'from=2026-03-01T00:00:00Z&to=2026-03-06T00:00:00Z&group_by=subject,project,api_key,region,feature',
  'from=2026-03-01T00:00:00Z&to=2026-03-06T00:00:00Z&window=day&filter[team]=red,blue&filter[model]=gpt-4o',
  'from=2026-03-01T05:00:00Z&to=2026-03-03T05:00:00Z&window=month&tz=Pacific/Chatham&filter[region]=eu',
];

function events() {
  const teams = ['red', 'blue', 'green', null];
  const models: Array<[string, string]> = [['openai', 'gpt-4o'], ['openai', 'gpt-4o-mini'], ['anthropic', 'claude-sonnet-4-5'], ['acme', 'no-such-model']];
  const out = [];
  for (let i = 0; i < 60; i++) {
    const [provider, model] = models[i % 4]!;
    const team = teams[(i * 7) % 4];
    const t = new Date(Date.UTC(2026, 2, 1, 1) + i * 1_777_000 + (i % 3) * 61_000);
    const data: Record<string, unknown> = { provider, model, input_tokens: 100 + i * 13, output_tokens: 7 * i, cache_read_tokens: i % 5 === 0 ? 40 : undefined, cache_write_tokens: i % 6 === 0 ? 11 : undefined };
    if (team) data.team = team;
    if (i % 3 === 0) data.project = `p${i % 4}`;
    if (i % 4 === 1) data.api_key = `k${i % 3}`;
    if (i % 5 === 2) data.region = i % 2 ? 'eu' : 'us';
    if (i % 2 === 0) data.feature = `f${i % 3}`;
    if (i % 7 === 3) data.cost = `0.0${i}`;
    out.push(llmEvent(`lb-${i}`, { time: t.toISOString(), subject: `s${i % 4}`, data }));
  }
  return out;
}

describe('llm_* meters served by the rollups', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await testApp({ clock: fixedClock('2026-04-01T00:00:00Z') });
    const r = await app.request('POST', '/v1/events', { body: events() });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
  });
  afterAll(() => app.close());

  it('answer exactly what the bucket meters answered on the same events', async () => {
    const got: Record<string, unknown> = {};
    for (const s of SLUGS) {
      for (const qs of QUERIES) {
        const r = await app.request('GET', `/v1/meters/${s}/query?${qs}`);
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        got[`${s}?${qs}`] = r.body;
      }
    }
    expect(got).toEqual(JSON.parse(readFileSync(BASELINE, 'utf8')));
  });

  it('groups and filters only on the rollup dimensions, naming the field', async () => {
    const r = await app.request('GET', '/v1/meters/llm_cost');
    expect(Object.keys(r.body.group_by).sort()).toEqual(['api_key', 'feature', 'model', 'project', 'provider', 'region', 'subject', 'team']);
    expect(r.body.description).toContain('rollups');
    const g = await app.request('GET', '/v1/meters/llm_tokens/query?group_by=team,status');
    expect(g.status).toBe(400);
    expect(g.body.error.param).toBe('group_by');
    expect(g.body.error.message).toContain('"status"');
    const f = await app.request('GET', '/v1/meters/llm_requests/query?filter[latency_ms]=3');
    expect(f.status).toBe(400);
    expect(f.body.error.param).toBe('filter[latency_ms]');
  });

  it('keeps no meter buckets for them (ingest does not maintain them)', async () => {
    const r = await app.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM meter_buckets WHERE meter LIKE 'llm\\_%'`);
    expect(Number(r.rows[0]!.n)).toBe(0);
  });
});

describe('llm_cost and reprice', () => {
  it('follows a reprice, like /v1/usage', async () => {
    const app = await testApp({ clock: fixedClock('2026-02-01T00:00:00Z') });
    try {
      const acme = (id: string, time: string, team: string) => llmEvent(id, { time, data: { provider: 'acme', model: 'acme-large', input_tokens: 1_000_000, output_tokens: 100_000, team } });
      const r = await app.request('POST', '/v1/events', {
        body: [
          acme('r-1', '2026-01-09T10:05:00Z', 'a'),
          acme('r-2', '2026-01-09T10:40:00Z', 'b'),
          acme('r-3', '2026-01-09T23:58:00Z', 'a'),
          llmEvent('r-4', { time: '2026-01-09T11:00:00Z', data: { cost: '0.25', team: 'a' } }),
        ],
      });
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      const day = 'from=2026-01-09T00:00:00Z&to=2026-01-10T00:00:00Z';
      const odd = 'from=2026-01-09T10:01:00Z&to=2026-01-09T23:59:00Z&window=hour'; // raw edges at both ends
      const cost = async (qs: string) => (await app.request('GET', `/v1/meters/llm_cost/query?${qs}`)).body.rows;
      expect(await cost(day + '&group_by=team')).toEqual([{ window_start: '2026-01-09T00:00:00Z', window_end: '2026-01-10T00:00:00Z', team: 'a', value: '0.25' }]);

      const put = await app.request('PUT', '/v1/prices', { body: { provider: 'acme', model: 'acme-large', input: '1', output: '10' } });
      expect(put.status, JSON.stringify(put.body)).toBe(200);
      const rep = await app.request('POST', '/v1/prices/reprice', { body: { from: '2026-01-09', to: '2026-01-10' } });
      expect(rep.body).toMatchObject({ updated: 3, priced: 3, still_unpriced: 0 });

      // each acme event: 1M input × $1/M + 0.1M output × $10/M = $2
      const usage = await app.request('GET', `/v1/usage?${day}&window=none`);
      expect(usage.body.totals.cost).toBe('6.25');
      expect(await cost(day)).toEqual([{ window_start: '2026-01-09T00:00:00Z', window_end: '2026-01-10T00:00:00Z', value: usage.body.totals.cost }]);
      expect(await cost(day + '&group_by=team')).toEqual([
        { window_start: '2026-01-09T00:00:00Z', window_end: '2026-01-10T00:00:00Z', team: 'a', value: '4.25' },
        { window_start: '2026-01-09T00:00:00Z', window_end: '2026-01-10T00:00:00Z', team: 'b', value: '2' },
      ]);
      expect(await cost(odd)).toEqual([
        { window_start: '2026-01-09T10:01:00Z', window_end: '2026-01-09T11:00:00Z', value: '4' },
        { window_start: '2026-01-09T11:00:00Z', window_end: '2026-01-09T12:00:00Z', value: '0.25' },
        { window_start: '2026-01-09T23:00:00Z', window_end: '2026-01-09T23:59:00Z', value: '2' },
      ]);
    } finally {
      await app.close();
    }
  });
});
