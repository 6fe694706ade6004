import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openDb } from '../../src/shared/db/index.ts';
import { TEST_DB } from '../helpers/db.ts';
import { D9, D10, fakeProvider, openaiUsage, paged, type FakeProvider } from './fake-providers.ts';

/** `tollgate collect openai --date …` as a user runs it: the built CLI, a PGlite data dir, the local fake OpenAI. */
const run = promisify(execFile);
const BIN = path.resolve('bin/tollgate.mjs');
const ADMIN = 'sk-admin-cli-0123456789';
const usage = openaiUsage;
const bucket = (results: unknown[]) => ({ object: 'bucket', start_time: D9, end_time: D10, results });

describe.runIf(TEST_DB === 'pglite')('tollgate collect openai', () => {
  let p: FakeProvider;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let refuseD10 = false;
  beforeAll(async () => {
    // The key is refused for 2026-01-10 once `refuseD10` is set: a day that fails in a range.
    p = await fakeProvider((h, u) => h.authorization === `Bearer ${ADMIN}` && !(refuseD10 && Number(u.searchParams.get('start_time')) >= D10));
    // Two pages of usage (next_page), no embeddings, one cost line for the first row's input.
    p.routes.set(
      '/v1/organization/usage/completions',
      paged(
        [
          { data: [bucket([usage({ input_tokens: 1000, input_cached_tokens: 400, output_tokens: 200, num_model_requests: 5, project_id: 'proj_a', api_key_id: 'key_1', model: 'gpt-4o-2024-08-06', batch: false })])] },
          { data: [bucket([usage({ input_tokens: 300, output_tokens: 30, num_model_requests: 2, project_id: 'proj_a', api_key_id: 'key_2', model: 'gpt-4o-2024-08-06', batch: false })])] },
        ],
        { object: 'page' },
      ),
    );
    p.routes.set('/v1/organization/usage/embeddings', paged([{ data: [] }], { object: 'page' }));
    p.routes.set(
      '/v1/organization/costs',
      paged([{ data: [{ object: 'bucket', start_time: D9, end_time: D10, results: [{ object: 'organization.costs.result', amount: { value: 0.0026, currency: 'usd' }, line_item: 'gpt-4o-2024-08-06, input', project_id: 'proj_a' }] }] }], { object: 'page' }),
    );
    dir = await mkdtemp(path.join(os.tmpdir(), 'tollgate-collect-cli-'));
    const configFile = path.join(dir, 'tollgate.config.yaml');
    await writeFile(configFile, `collectors:\n  openai:\n    base_url: ${p.url}/v1\n    projects:\n      proj_a: { team: red, project: chat }\n`);
    env = { ...process.env, TOLLGATE_DATA_DIR: path.join(dir, 'data'), TOLLGATE_CONFIG: configFile, OPENAI_ADMIN_KEY: ADMIN };
    delete env.DATABASE_URL;
  });
  afterAll(async () => {
    await p.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('collect: records a day once (re-run counts duplicates), cost spread exactly, and exits 1 naming what failed', async () => {
    const first = await run(process.execPath, [BIN, 'collect', 'openai', '--date', '2026-01-09', '--no-progress'], { env, timeout: 60_000 });
    expect(first.stdout).toBe('openai: 2 events, 0 duplicates, 0 corrections, cost $0.0026\n');
    expect(p.requests.filter((r) => r.path.endsWith('/completions')).map((r) => r.query.get('page'))).toEqual([null, 'page_1']);
    expect(p.requests[0]!.query.get('start_time')).toBe(String(D9));
    // Again over two days: the first counts nothing twice, the second fails (401) and exits 1.
    refuseD10 = true;
    const again = await run(process.execPath, [BIN, 'collect', 'openai', '--from', '2026-01-09', '--to', '2026-01-11', '--no-progress'], { env, timeout: 60_000 }).catch((e) => e);
    expect(again.code).toBe(1);
    // (the collector's error log line, JSON, is on stdout before the summary: the CLI logger's)
    expect(again.stdout.trimEnd().split('\n').at(-1)).toBe('openai: 0 events, 2 duplicates, 0 corrections, cost $0');
    expect(again.stderr).toMatch(/failed: 2026-01-10 default: .*401/);

    const db = await openDb({ dataDir: path.join(dir, 'data') });
    try {
      const rows = await db.query<Record<string, unknown>>(
        `SELECT source, team, project, api_key, model, input_tokens::int AS input, cache_read_tokens::int AS cache_read, output_tokens::int AS output,
                (data->>'requests')::int AS requests, cost::text AS cost, data->>'cost_basis' AS basis FROM events ORDER BY api_key`,
      );
      expect(rows.rows).toEqual([
        { source: 'collector:openai', team: 'red', project: 'chat', api_key: 'key_1', model: 'gpt-4o-2024-08-06', input: 600, cache_read: 400, output: 200, requests: 5, cost: expect.any(String), basis: 'provider' },
        { source: 'collector:openai', team: 'red', project: 'chat', api_key: 'key_2', model: 'gpt-4o-2024-08-06', input: 300, cache_read: 0, output: 30, requests: 2, cost: expect.any(String), basis: 'provider' },
      ]);
      expect(rows.rows.reduce((s, r) => s + Number(r.cost), 0)).toBeCloseTo(0.0026, 12);
      const runs = await db.query<{ status: string }>(`SELECT status FROM collector_runs ORDER BY id`);
      expect(runs.rows.map((r) => r.status)).toEqual(['ok', 'ok', 'failed']);
      const rollup = await db.query<{ requests: string }>(`SELECT sum(requests)::text AS requests FROM rollup_llm_model WHERE grain = 3`);
      expect(rollup.rows[0]!.requests).toBe('7');
    } finally {
      await db.close();
    }
  }, 60_000);
});
