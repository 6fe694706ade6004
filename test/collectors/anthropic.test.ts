import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp, type TestApp } from '../helpers/app.ts';
import { fixedClock } from '../../src/shared/clock.ts';
import { fakeProvider, paged, type FakeProvider } from './fake-providers.ts';

const ADMIN = 'sk-ant-admin01-test';
const B = { starting_at: '2026-01-09T00:00:00Z', ending_at: '2026-01-10T00:00:00Z' };

const row = (r: Record<string, unknown>) => ({
  uncached_input_tokens: 0,
  cache_creation: { ephemeral_1h_input_tokens: 0, ephemeral_5m_input_tokens: 0 },
  cache_read_input_tokens: 0,
  output_tokens: 0,
  server_tool_use: { web_search_requests: 0 },
  api_key_id: null,
  workspace_id: null,
  model: null,
  service_tier: null,
  context_window: null,
  ...r,
});
const costRow = (amount: string, r: Record<string, unknown>) => ({ currency: 'USD', amount, workspace_id: null, description: null, cost_type: 'tokens', context_window: null, model: null, service_tier: null, token_type: null, ...r });

let p: FakeProvider;
let app: TestApp;

beforeAll(async () => {
  p = await fakeProvider((h) => h['x-api-key'] === ADMIN && h['anthropic-version'] === '2023-06-01');
  p.routes.set(
    '/v1/organizations/usage_report/messages',
    paged([
      {
        data: [
          {
            ...B,
            results: [
              row({
                uncached_input_tokens: 1500,
                cache_creation: { ephemeral_1h_input_tokens: 1000, ephemeral_5m_input_tokens: 500 },
                cache_read_input_tokens: 200,
                output_tokens: 500,
                server_tool_use: { web_search_requests: 10 },
                api_key_id: 'apikey_01Rj2N8SVvo6BePZj99NhmiT',
                workspace_id: 'wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ',
                model: 'claude-sonnet-4-20250514',
                service_tier: 'standard',
                context_window: '0-200k',
              }),
            ],
          },
        ],
      },
      // Workbench (no API key) in the default workspace (no workspace id).
      { data: [{ ...B, results: [row({ uncached_input_tokens: 100, output_tokens: 20, model: 'claude-3-5-haiku-20241022', service_tier: 'standard', context_window: '0-200k' })] }] },
    ]),
  );
  p.routes.set(
    '/v1/organizations/cost_report',
    paged([
      {
        data: [
          {
            ...B,
            results: [
              // Cents, as decimal strings: 450 cents is $4.50.
              costRow('450', { workspace_id: 'wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ', description: 'Claude Sonnet 4 Usage - Input Tokens', model: 'claude-sonnet-4-20250514', service_tier: 'standard', context_window: '0-200k', token_type: 'uncached_input_tokens' }),
              costRow('75.5', { workspace_id: 'wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ', description: 'Claude Sonnet 4 Usage - Output Tokens', model: 'claude-sonnet-4-20250514', service_tier: 'standard', context_window: '0-200k', token_type: 'output_tokens' }),
              costRow('12.5', { description: 'Claude Haiku 3.5 Usage - Output Tokens', model: 'claude-3-5-haiku-20241022', service_tier: 'standard', context_window: '0-200k', token_type: 'output_tokens' }),
              costRow('1000', { workspace_id: 'wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ', description: 'Web Search', cost_type: 'web_search' }),
            ],
          },
        ],
      },
    ]),
  );
  app = await testApp({
    clock: fixedClock('2026-01-10T01:00:00Z'),
    config: {
      'collectors.anthropic.base_url': p.url,
      'collectors.anthropic.accounts': [{ name: 'studio', admin_key: ADMIN, team: 'studio-team' }],
      'collectors.anthropic.projects': { default: { project: 'workbench' } },
      'collectors.anthropic.api_keys': { apikey_01Rj2N8SVvo6BePZj99NhmiT: { team: 'search' } },
    },
  });
});
afterAll(async () => {
  await app?.close();
  await p?.close();
});

describe('Anthropic collector', () => {
  it('reads tokens by class, keeps Workbench and default-workspace nulls, and reads cost amounts as cents', async () => {
    const r = await app.request('POST', '/v1/collectors/anthropic/run', { body: { date: '2026-01-09' } });
    expect(r.status).toBe(200);
    // $4.50 + $0.755 + $0.125 + $10 (web search: the workspace's one usage row carries it).
    expect(r.body).toMatchObject({ status: 'ok', events: 2, duplicates: 0, cost: '15.38' });
    const q = p.requests.find((x) => x.path === '/v1/organizations/usage_report/messages')!;
    expect(q.query.getAll('group_by[]')).toEqual(['api_key_id', 'workspace_id', 'model', 'service_tier', 'context_window']);
    const rows = (
      await app.db.query<any>(
        `SELECT id, model, team, project, api_key, input_tokens::int AS input, cache_read_tokens::int AS cache_read, cache_write_tokens::int AS cache_write, output_tokens::int AS output, cost::text AS cost, data FROM events WHERE source = 'collector:anthropic' ORDER BY id`,
      )
    ).rows;
    const sonnet = rows.find((x: any) => x.model === 'claude-sonnet-4-20250514');
    expect(sonnet).toMatchObject({ input: 1500, cache_read: 200, cache_write: 1500, output: 500, cost: '15.255', team: 'search', api_key: 'apikey_01Rj2N8SVvo6BePZj99NhmiT' });
    expect(sonnet.data).toMatchObject({ cache_write_5m_tokens: 500, cache_write_1h_tokens: 1000, server_tool_use: { web_search_requests: 10 }, service_tier: 'standard', context_window: '0-200k', account: 'studio' });
    const workbench = rows.find((x: any) => x.model === 'claude-3-5-haiku-20241022');
    expect(workbench).toMatchObject({ input: 100, output: 20, cost: '0.125', api_key: null, team: 'studio-team', project: 'workbench' });
    expect(workbench.data).toMatchObject({ api_key_id: null, workspace_id: null });
    expect(workbench.id).toBe('anthropic:studio|messages|1d|2026-01-09T00:00:00.000Z|-|-|claude-3-5-haiku-20241022|standard/0-200k');
    expect(rows).toHaveLength(2);

    const again = await app.request('POST', '/v1/collectors/anthropic/run', { body: { from: '2026-01-08', to: '2026-01-10' } });
    expect(again.body).toMatchObject({ status: 'ok', events: 0, duplicates: 2 });
  });
});
