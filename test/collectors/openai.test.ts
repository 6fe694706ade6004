import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp, type TestApp } from '../helpers/app.ts';
import { fixedClock } from '../../src/shared/clock.ts';
import type { CollectorFailureSignal } from '../../src/shared/signals.ts';
import { D9, D10, fakeProvider, openaiUsage, paged, type FakeProvider } from './fake-providers.ts';

const ADMIN = 'sk-admin-test-0123456789';
const usage = openaiUsage;
const cost = (value: number, line_item: string | null, project_id: string | null) => ({ object: 'organization.costs.result', amount: { value, currency: 'usd' }, line_item, project_id });

function completions(key2Output = 100) {
  return paged(
    [
      {
        data: [
          {
            object: 'bucket',
            start_time: D9,
            end_time: D10,
            results: [
              usage({ input_tokens: 1000, input_cached_tokens: 400, output_tokens: 200, num_model_requests: 5, project_id: 'proj_a', api_key_id: 'key_1', model: 'gpt-4o-2024-08-06', batch: false }),
              usage({ input_tokens: 500, output_tokens: key2Output, num_model_requests: 2, project_id: 'proj_a', api_key_id: 'key_2', model: 'gpt-4o-2024-08-06', batch: false }),
              usage({ input_tokens: 300, output_tokens: 30, num_model_requests: 1, model: 'gpt-4o-mini-2024-07-18' }),
            ],
          },
        ],
      },
      { data: [{ object: 'bucket', start_time: D9, end_time: D10, results: [usage({ input_tokens: 2000, output_tokens: 1000, num_model_requests: 10, project_id: 'proj_b', api_key_id: 'key_3', model: 'gpt-4o-2024-08-06', batch: true })] }] },
    ],
    { object: 'page' },
  );
}

function install(p: FakeProvider, key2Output = 100) {
  p.routes.set('/v1/organization/usage/completions', completions(key2Output));
  p.routes.set(
    '/v1/organization/usage/embeddings',
    paged([{ data: [{ object: 'bucket', start_time: D9, end_time: D10, results: [{ object: 'organization.usage.embeddings.result', input_tokens: 5000, num_model_requests: 3, project_id: 'proj_a', user_id: null, api_key_id: 'key_1', model: 'text-embedding-3-small' }] }] }], { object: 'page' }),
  );
  p.routes.set(
    '/v1/organization/costs',
    paged(
      [
        {
          data: [
            {
              object: 'bucket',
              start_time: D9,
              end_time: D10,
              results: [
                cost(0.0022, 'gpt-4o-2024-08-06, input', 'proj_a'),
                cost(0.0005, 'gpt-4o-2024-08-06, cached input', 'proj_a'),
                cost(0.003, 'gpt-4o-2024-08-06, output', 'proj_a'),
                cost(0.0025, 'gpt-4o-2024-08-06, batch input', 'proj_b'),
                cost(0.005, 'gpt-4o-2024-08-06, batch output', 'proj_b'),
                cost(0.0001, 'text-embedding-3-small, input', 'proj_a'),
                cost(0.25, 'web search tool calls', 'proj_a'),
              ],
            },
          ],
        },
      ],
      { object: 'page' },
    ),
  );
}

let p: FakeProvider;
let app: TestApp;
const waits: number[] = [];
// Retries wait on this controlled clock: the timeline is exact and the test does not sleep.
const clock = Object.assign(fixedClock('2026-01-10T00:30:00Z'), {
  async sleep(ms: number) {
    waits.push(ms);
    clock.advance(ms);
  },
});
const failures: CollectorFailureSignal[] = [];

beforeAll(async () => {
  p = await fakeProvider((h) => h.authorization === `Bearer ${ADMIN}`);
  install(p);
  app = await testApp({
    clock,
    env: { OPENAI_ADMIN_KEY: ADMIN },
    config: {
      'collectors.openai.base_url': `${p.url}/v1`,
      'collectors.openai.timeout_ms': 1500,
      'collectors.openai.projects': { proj_a: { team: 'search', project: 'ranker' }, proj_b: { team: 'batch-team' } },
      'collectors.openai.api_keys': { key_2: { team: 'growth' } },
    },
  });
  app.tg.signals.on('collector.failure', (s) => void failures.push(s));
});
afterAll(async () => {
  await app?.close();
  await p?.close();
});

async function stored() {
  const r = await app.db.query<{ id: string; model: string; team: string | null; project: string | null; api_key: string | null; input_tokens: number; cache_read_tokens: number; output_tokens: number; cost: string | null; cost_source: string; data: any }>(
    `SELECT id, model, team, project, api_key, input_tokens::int AS input_tokens, cache_read_tokens::int AS cache_read_tokens, output_tokens::int AS output_tokens, cost::text AS cost, cost_source, data FROM events WHERE source = 'collector:openai' ORDER BY id`,
  );
  return r.rows;
}

describe('OpenAI collector', () => {
  it('pulls every page of completions, embeddings and costs into llm.usage events with tokens by class and reported cost', async () => {
    const r = await app.request('POST', '/v1/collectors/openai/run', { body: { date: '2026-01-09' } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'ok', events: 6, duplicates: 0, cost: '0.2633' });
    const q = p.requests.find((x) => x.path === '/v1/organization/usage/completions')!;
    expect(q.query.getAll('group_by[]')).toEqual(['project_id', 'api_key_id', 'model', 'batch']);
    expect(q.query.get('bucket_width')).toBe('1d');
    expect(p.requests.filter((x) => x.path === '/v1/organization/usage/completions').map((x) => x.query.get('page'))).toEqual([null, 'page_1']);

    const rows = await stored();
    expect(rows).toHaveLength(6);
    const key1 = rows.find((x) => x.api_key === 'key_1' && x.model === 'gpt-4o-2024-08-06')!;
    // input_tokens included the 400 cached: split so no token is priced twice.
    expect(key1).toMatchObject({ input_tokens: 600, cache_read_tokens: 400, output_tokens: 200, cost: '0.0037', cost_source: 'provider', team: 'search', project: 'ranker' });
    expect(key1.data).toMatchObject({ requests: 5, cost_basis: 'provider', project_id: 'proj_a', batch: false, bucket_width: '1d' });
    expect(key1.id).toBe('openai:default|completions|1d|2026-01-09T00:00:00.000Z|proj_a|key_1|gpt-4o-2024-08-06|false');
    expect(rows.find((x) => x.api_key === 'key_2')).toMatchObject({ cost: '0.002', team: 'growth' });
    expect(rows.find((x) => x.api_key === 'key_3')).toMatchObject({ cost: '0.0075', team: 'batch-team' });
    expect(rows.find((x) => x.model === 'text-embedding-3-small')).toMatchObject({ input_tokens: 5000, cost: '0.0001' });
    // No cost line for it: priced from the catalog and flagged.
    const mini = rows.find((x) => x.model === 'gpt-4o-mini-2024-07-18')!;
    expect(mini.cost_source).toBe('computed');
    expect(mini.data).toMatchObject({ cost_basis: 'catalog', project_id: null, api_key_id: null });
    expect(mini.api_key).toBeNull();
    expect(rows.find((x) => x.data.cost_only)).toMatchObject({ model: 'web search tool calls', cost: '0.25', input_tokens: 0 });
  });

  it('re-runs and overlapping windows never double count', async () => {
    const again = await app.request('POST', '/v1/collectors/openai/run', { body: { date: '2026-01-09' } });
    expect(again.body).toMatchObject({ status: 'ok', events: 0, duplicates: 6, cost: '0' });
    const overlap = await app.request('POST', '/v1/collectors/openai/run', { body: { from: '2026-01-08', to: '2026-01-10' } });
    expect(overlap.body).toMatchObject({ status: 'ok', events: 0, duplicates: 6 });
    expect(await stored()).toHaveLength(6);
  });

  it('late data: a changed bucket records a correction carrying the difference, once', async () => {
    install(p, 150);
    const r = await app.request('POST', '/v1/collectors/openai/run', { body: { date: '2026-01-09' } });
    expect(r.body).toMatchObject({ status: 'ok', events: 1, corrections: 1 });
    const rows = await stored();
    const corr = rows.find((x) => x.id.endsWith('#r1'))!;
    expect(corr.id).toBe('openai:default|completions|1d|2026-01-09T00:00:00.000Z|proj_a|key_2|gpt-4o-2024-08-06|false#r1');
    expect(corr).toMatchObject({ input_tokens: 0, cache_read_tokens: 0, output_tokens: 50, api_key: 'key_2' });
    expect(corr.data.revision).toBe(1);
    const twice = await app.request('POST', '/v1/collectors/openai/run', { body: { date: '2026-01-09' } });
    expect(twice.body).toMatchObject({ events: 0, corrections: 0 });
    const sum = await app.db.query<{ o: string }>(`SELECT sum(output_tokens)::text AS o FROM events WHERE source = 'collector:openai' AND api_key = 'key_2'`);
    expect(sum.rows[0]!.o).toBe('150');
  });

  it('retries 429 (Retry-After honoured), 500 and a timeout with 1 s / 2 s / 4 s backoff', async () => {
    const svc = app.tg.collectors.service;
    p.failures.push({ status: 429, retryAfter: '3' }, { status: 500 }, 'hang');
    const start = clock.now().getTime();
    waits.length = 0;
    const r = await svc.run('openai', new Date('2026-01-09T00:00:00Z'), new Date('2026-01-10T00:00:00Z'));
    expect(r.status).toBe('ok');
    expect(waits).toEqual([3000, 2000, 4000]);
    expect(clock.now().getTime() - start).toBe(9000);
  });

  it('a final failure records the run failed, signals collector.failure, and the next run retries the window', async () => {
    p.failures.push({ status: 500 }, { status: 500 }, { status: 503 }, { status: 500 });
    waits.length = 0;
    const r = await app.request('POST', '/v1/collectors/openai/run', { body: { date: '2026-01-11' } });
    expect(r.body).toMatchObject({ status: 'failed', events: 0 });
    expect(r.body.accounts[0].error).toMatch(/HTTP 500/);
    expect(waits).toEqual([1000, 2000, 4000]);
    expect(failures.at(-1)).toMatchObject({ type: 'collector.failure', collector: 'openai', account: 'default', window: '2026-01-11..2026-01-12' });
    const list = await app.request('GET', '/v1/collectors');
    expect(list.body.data.find((c: { name: string }) => c.name === 'openai')).toMatchObject({ enabled: true, schedule: '0 9 * * *', last_status: 'failed', next_run: expect.any(String) });
    const ok = await app.request('POST', '/v1/collectors/openai/run', { body: { date: '2026-01-11' } });
    expect(ok.body.status).toBe('ok');
  });

  it('the scheduled job pulls the previous UTC day plus the look-back', async () => {
    const runs = await app.tg.jobs.scheduler.runWindow('collect.openai', new Date('2026-01-10T00:00:00Z'), clock.now());
    expect(runs).toMatchObject({ status: 'ok', result: { events: 0 } });
    const last = p.requests.filter((x) => x.path === '/v1/organization/costs').at(-1)!;
    expect(Number(last.query.get('start_time'))).toBe(D9 - 3 * 86400);
    expect(Number(last.query.get('end_time'))).toBe(D10);
  });
});

