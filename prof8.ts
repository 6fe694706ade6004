import { createTollgate } from './src/app.ts';
import { loadConfig } from './src/shared/config.ts';
import { createLogger } from './src/shared/log.ts';
import { openPostgres } from './src/shared/db/postgres.ts';
import { migrate } from './src/shared/db/index.ts';
process.env.TOLLGATE_TEST_DB = 'postgres';
const db = await openPostgres({ url: 'postgres://postgres:postgres@127.0.0.1:5432/tollgate_test', schema: 'prof_' + Date.now() });
await migrate(db);
const tg = await createTollgate(loadConfig({ env: {}, cwd: '/nonexistent', overrides: { log_level: 'silent' } }), { db, logger: createLogger('silent', false), migrated: true });
const times = new Map<string, number>();
const wrap = (name: string, fn: any) => async (...a: any[]) => { const t = performance.now(); const r = await fn(...a); times.set(name, (times.get(name) ?? 0) + performance.now() - t); return r; };
tg.hooks.enrich = tg.hooks.enrich.map((f, i) => wrap('enrich' + i, f));
tg.hooks.afterInsert = tg.hooks.afterInsert.map((f, i) => wrap('after' + i + ':' + (f.name || ''), f));
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4-5', 'claude-haiku-4-5', 'gemini-2.5-pro'];
const PROVIDERS = ['openai', 'openai', 'anthropic', 'anthropic', 'google'];
const N = 10;
const t0 = performance.now();
for (let r = 0; r < N; r++) {
  const evs = Array.from({ length: 1000 }, (_, i) => ({ specversion: '1.0', id: `b${r}-${i}`, source: 'bench', type: 'llm.usage', time: new Date(Date.UTC(2026, 0, 1) + r * 1000 + i).toISOString(), subject: `user-${i % 1000}`, data: { provider: PROVIDERS[(r + i) % 5], model: MODELS[(r + i) % 5], input_tokens: 100 + i, output_tokens: 50, cache_read_tokens: i % 7, team: `team-${i % 10}`, feature: 'chat' } }));
  await tg.events.ingest(evs);
}
console.log('total ms/batch', ((performance.now() - t0) / N).toFixed(1));
for (const [k, v] of times) console.log(k, (v / N).toFixed(1));
process.exit(0);
