import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { testApp, llmEvent, type TestApp } from '../helpers/app.ts';
import { fixedClock } from '../../src/shared/clock.ts';
import { parseCatalog } from '../../src/pricing/versions.ts';
import { createTollgate } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/shared/log.ts';
import { openDb } from '../../src/shared/db/index.ts';
import { TEST_DB } from '../helpers/db.ts';

const fixture = (name: string) => path.resolve('test/pricing/fixtures', name);
const load = (name: string) => parseCatalog(JSON.parse(readFileSync(fixture(name), 'utf8')), { loadedFrom: name, today: '2027-01-15' });
const day = (s: string) => new Date(`${s}T00:00:00Z`);

async function costs(app: TestApp, ids: string[]) {
  const r = await app.db.query<{ id: string; cost: string | null; price: unknown }>(`SELECT id, cost::text AS cost, price FROM events WHERE id = ANY($1::text[]) ORDER BY id`, [ids]);
  return Object.fromEntries(r.rows.map((x) => [x.id, { cost: x.cost, catalog: (typeof x.price === 'string' ? JSON.parse(x.price) : x.price)?.catalog }]));
}

describe('tollgate prices update: dated catalog versions', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await testApp({ clock: fixedClock('2027-02-20T00:00:00Z') });
  });
  afterAll(() => app.close());

  it('a newer LiteLLM table changes prices from its effective date on; a reprice before it changes nothing', async () => {
    const M = 1_000_000;
    const ev = (id: string, time: string, model: string, provider = 'openai') => llmEvent(id, { time, data: { provider, model, input_tokens: M, output_tokens: M } });
    await app.request('POST', '/v1/events', { body: [ev('v-old-4o', '2026-12-20T10:00:00Z', 'gpt-4o'), ev('v-new-4o', '2027-02-10T10:00:00Z', 'gpt-4o'), ev('v-new-ds', '2027-02-10T10:00:00Z', 'deepseek-chat', 'deepseek'), ev('v-new-9', '2027-02-10T10:00:00Z', 'gpt-9-preview')] });
    const before = await costs(app, ['v-old-4o', 'v-new-4o', 'v-new-ds', 'v-new-9']);
    expect(before).toMatchObject({ 'v-old-4o': { cost: '12.5' }, 'v-new-4o': { cost: '12.5' }, 'v-new-ds': { cost: '0.7' }, 'v-new-9': { cost: null } });

    const pricing = app.tg.pricing;
    const dry = await pricing.updateCatalog({ parsed: load('litellm-newer-2027-01.json'), effective_from: day('2027-01-15'), loaded_from: 'test', dryRun: true });
    expect(dry.stored).toBe(false);
    const r = await pricing.updateCatalog({ parsed: load('litellm-newer-2027-01.json'), effective_from: day('2027-01-15'), loaded_from: 'test' });
    expect(r).toMatchObject({ stored: true, label: 'litellm@2027-01-15+2027-01-15' });
    expect(r.changes).toMatchObject({ models: 4, unchanged: 1, added: [{ provider: 'openai', model: 'gpt-9-preview', prices: { input: '10', output: '40' } }] });
    expect(r.changes.moved.map((m) => `${m.provider}/${m.model} ${m.field} ${m.old} → ${m.new}`).sort()).toEqual([
      'deepseek/deepseek-chat cache_read 0.028 → 0.03',
      'deepseek/deepseek-chat input 0.28 → 0.3',
      'deepseek/deepseek-chat output 0.42 → 0.45',
      'openai/gpt-4o cache_read 1.25 → 1',
      'openai/gpt-4o input 2.5 → 2',
      'openai/gpt-4o output 10 → 8',
    ]);
    const versions = await pricing.store.listCatalogs({ withCatalog: false });
    expect(versions).toMatchObject([{ label: 'litellm@2027-01-15+2027-01-15', format: 'litellm', effective_from: day('2027-01-15') }]);

    // a reprice of a range before the version's date changes nothing
    const past = await pricing.reprice({ from: day('2026-12-01'), to: day('2027-01-15'), all: true });
    expect(past).toMatchObject({ scanned: 1, updated: 0 });
    // from its date on, the new prices apply (and the new model is priced)
    const after = await pricing.reprice({ from: day('2027-01-15'), to: day('2027-03-01'), all: true });
    expect(after).toMatchObject({ scanned: 3, updated: 3, priced: 1, still_unpriced: 0 });
    expect(await costs(app, ['v-old-4o', 'v-new-4o', 'v-new-ds', 'v-new-9'])).toEqual({
      'v-old-4o': { cost: '12.5', catalog: 'genai-prices@0.1.8' },
      'v-new-4o': { cost: '10', catalog: 'litellm@2027-01-15+2027-01-15' },
      'v-new-ds': { cost: '0.75', catalog: 'litellm@2027-01-15+2027-01-15' },
      'v-new-9': { cost: '50', catalog: 'litellm@2027-01-15+2027-01-15' },
    });

    // quotes follow the dates too; a model the new version lacks keeps its bundled price
    const q = (model: string, time: string) => app.request('POST', '/v1/prices/quote', { body: { provider: 'openai', model, input_tokens: M, output_tokens: M, time } });
    expect((await q('gpt-9-preview', '2027-01-14T23:59:59Z')).status).toBe(404);
    expect((await q('gpt-9-preview', '2027-01-15T00:00:00Z')).body.cost).toBe('50');
    expect((await q('gpt-4o-2024-08-06', '2027-02-01T00:00:00Z')).body).toMatchObject({ cost: '12.5', price: { catalog: 'genai-prices@0.1.8' } });
    expect((await q('o3', '2027-02-01T00:00:00Z')).body).toMatchObject({ cost: '10', price: { catalog: 'genai-prices@0.1.8' } });
  });

  it("a genai-prices data file: corrections still apply, moved prices are reported against the version before", async () => {
    const r = await app.tg.pricing.updateCatalog({ parsed: load('genai-prices-newer-2027-01.json'), effective_from: day('2027-02-01'), loaded_from: 'test' });
    expect(r.label).toBe('genai-prices@0.2.0-test+2027-02-01');
    expect(r.changes.added).toEqual([{ provider: 'anthropic', model: 'claude-next', prices: { input: '4', output: '20' } }]);
    expect(r.changes.moved.filter((m) => m.field === 'input')).toEqual([{ provider: 'anthropic', model: 'claude-3-5-haiku-latest', field: 'input', old: '0.8', new: '0.7', was: 'genai-prices@0.1.8' }]);
    const q = await app.request('POST', '/v1/prices/quote', { body: { provider: 'anthropic', model: 'claude-3-5-haiku-20241022', input_tokens: 1_000_000, time: '2027-02-02T00:00:00Z' } });
    expect(q.body).toMatchObject({ cost: '0.7', price: { catalog: 'genai-prices@0.2.0-test+2027-02-01' } });
    // a second server on the same database picks the versions up on reload
    const other = await testApp({ db: app.db, clock: fixedClock('2027-02-20T00:00:00Z') });
    try {
      expect((await other.request('POST', '/v1/prices/quote', { body: { provider: 'openai', model: 'gpt-9-preview', input_tokens: 1_000_000, time: '2027-02-02T00:00:00Z' } })).body.cost).toBe('10');
    } finally {
      await other.tg.close();
    }
  });
});

const run = promisify(execFile);
const BIN = path.resolve('bin/tollgate.mjs');

describe.runIf(TEST_DB === 'pglite')('tollgate prices update (CLI)', () => {
  it('--from a newer LiteLLM table prints the changes; tollgate reprice before its date changes nothing', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tollgate-prices-'));
    const env: NodeJS.ProcessEnv = { ...process.env, TOLLGATE_DATA_DIR: dir };
    delete env.DATABASE_URL;
    // The data dir is created by the CLI (PGlite's first start runs in a child process there).
    await run(process.execPath, [BIN, 'migrate'], { env, timeout: 90_000 });
    const config = loadConfig({ env: { TOLLGATE_DATA_DIR: dir }, cwd: '/nonexistent', overrides: { log_level: 'silent' } });
    const db = await openDb({ dataDir: dir });
    const tg = await createTollgate(config, { db, logger: createLogger('silent', false) });
    await tg.events.ingest([
      llmEvent('c-1', { time: '2026-12-20T00:00:00Z', data: { provider: 'openai', model: 'gpt-4o', input_tokens: 1_000_000, output_tokens: 0 } }),
      llmEvent('c-2', { time: '2027-02-01T00:00:00Z', data: { provider: 'openai', model: 'gpt-4o', input_tokens: 1_000_000, output_tokens: 0 } }),
    ]);
    await tg.close();
    await db.close();

    const help = await run(process.execPath, [BIN, 'prices', 'update', '--help'], { env, timeout: 90_000 });
    expect(help.stdout).toContain('--from <file|url>');
    const up = await run(process.execPath, [BIN, 'prices', 'update', '--from', fixture('litellm-newer-2027-01.json'), '--effective-from', '2027-01-15', '--no-progress'], { env, timeout: 90_000 });
    expect(up.stdout).toContain('1 added, 2 with prices moved, 1 unchanged');
    expect(up.stdout).toContain('+ openai/gpt-9-preview (input 10, output 40)');
    expect(up.stdout).toContain('~ openai/gpt-4o input: 2.5 → 2  (was genai-prices@0.1.8)');
    expect(up.stdout).toContain('stored as version "litellm@2027-01-15+2027-01-15"');

    const past = await run(process.execPath, [BIN, 'reprice', '--all', '--from', '2026-12-01', '--to', '2027-01-15', '--no-progress'], { env, timeout: 90_000 });
    expect(past.stdout).toContain('repriced 1 event(s)');
    expect(past.stdout).toContain(': 0 changed');
    const later = await run(process.execPath, [BIN, 'reprice', '--all', '--from', '2027-01-15', '--to', '2027-03-01', '--no-progress'], { env, timeout: 90_000 });
    expect(later.stdout).toContain(': 1 changed');

    const check = await openDb({ dataDir: dir });
    const rows = await check.query<{ id: string; cost: string }>(`SELECT id, cost::text AS cost FROM events ORDER BY id`);
    await check.close();
    expect(rows.rows).toEqual([{ id: 'c-1', cost: '2.5' }, { id: 'c-2', cost: '2' }]);
    await rm(dir, { recursive: true, force: true });
  }, 240_000);
});
