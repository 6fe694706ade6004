/**
 * npm run bench:ingest-paired -- <pg|pglite> <batch size> <rounds> NAME=DIR [NAME=DIR ...]
 * A paired A/B of ingest itself (`tg.events.ingest`, no HTTP): each variant is a checkout of
 * Tollgate (e.g. `git worktree add /tmp/a <commit>` with node_modules linked), loaded into this one
 * process on its own database; they take turns batch by batch (order reversed every round), so a
 * slow spell on this shared VM falls on all of them. Prints each variant's median ms per batch and
 * its ratio to the first. This is how docs/foundation.md measured the one-statement ingest path.
 */
import pg from 'pg';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
const [store, batchS, roundsS, ...vs] = process.argv.slice(2);
const BATCH = Number(batchS), ROUNDS = Number(roundsS);
const PG = (process.env.PG_ADMIN_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/postgres').replace(/[^/]*$/, '');
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4-5', 'claude-haiku-4-5', 'gemini-2.5-pro'];
const PROVIDERS = ['openai', 'openai', 'anthropic', 'anthropic', 'google'];
let run = 0;
function batch() {
  const r = run++;
  const t = Date.UTC(2026, 10, 1) + r * 1000;
  return Array.from({ length: BATCH }, (_, i) => ({ specversion: '1.0', id: `p${r}-${i}`, source: 'paired', type: 'llm.usage', time: new Date(t + i).toISOString(), subject: `user-${i % 1000}`,
    data: { provider: PROVIDERS[(r + i) % 5], model: MODELS[(r + i) % 5], input_tokens: 100 + i, output_tokens: 50 + (i % 200), cache_read_tokens: i % 7, team: `team-${i % 10}`, feature: 'chat' } }));
}
const variants: Array<{ name: string; ingest: (b: unknown[]) => Promise<unknown>; ms: number[]; close: () => Promise<void> }> = [];
for (const v of vs) {
  const [name, dir] = v.split('=');
  const { loadConfig } = await import(path.join(dir!, 'src/config.ts'));
  const { createTollgate } = await import(path.join(dir!, 'src/app.ts'));
  const { createLogger } = await import(path.join(dir!, 'src/shared/log.ts'));
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `paired-${name}-`));
  let url: string | undefined;
  if (store === 'pg') {
    const c = new pg.Client({ connectionString: PG + 'postgres' }); await c.connect();
    await c.query(`DROP DATABASE IF EXISTS paired_${name!.toLowerCase()} WITH (FORCE)`); await c.query(`CREATE DATABASE paired_${name!.toLowerCase()}`); await c.end();
    url = PG + `paired_${name!.toLowerCase()}`;
  }
  const config = loadConfig({ env: {}, cwd: '/nonexistent', overrides: { log_level: 'silent', data_dir: dataDir, ...(url ? { database_url: url } : {}) } });
  const tg = await createTollgate(config, { logger: createLogger('silent', false) });
  variants.push({ name: name!, ingest: (b) => tg.events.ingest(b), ms: [], close: () => tg.close?.() ?? Promise.resolve() });
}
for (let w = 0; w < 5; w++) for (const v of variants) await v.ingest(batch());
for (let i = 0; i < ROUNDS; i++) {
  const order = i % 2 ? [...variants].reverse() : variants;
  for (const v of order) { const b = batch(); const t = performance.now(); await v.ingest(b); v.ms.push(performance.now() - t); }
}
const med = (a: number[]) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]!; };
const base = med(variants[0]!.ms);
console.log(`${store} batch=${BATCH} rounds=${ROUNDS} load=${os.loadavg()[0]!.toFixed(1)}: ` + variants.map((v) => `${v.name} ${med(v.ms).toFixed(2)} ms (${(med(v.ms) / base).toFixed(2)}×)`).join(' | '));
process.exit(0);
