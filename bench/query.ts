/**
 * npm run bench:query -- [--events 10000000] [--db postgres|pglite] [--url postgres://…/] [--runs 50] [--keep] [--reuse]
 *
 * Loads N llm.usage events over 90 days (1,000 users, 20 models, 5 providers) straight into a
 * fresh database with INSERT … SELECT generate_series, builds the rollups with the same backfill
 * the CLI/ops use (rollupStore.rebuild), then times the usage API in-process (fastify inject)
 * and prints p50/p95 per query. PostgreSQL: a database `tollgate_bench` is created and dropped
 * (`--keep` keeps it; `--reuse` then skips the load and backfill when it holds the same N events).
 */
import pg from 'pg';
import { parseArgs } from 'node:util';
import { openPostgres } from '../src/shared/db/postgres.ts';
import { openPglite } from '../src/shared/db/pglite.ts';
import { migrate, type Db } from '../src/shared/db/index.ts';
import { createTollgate } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/shared/log.ts';
import { fixedClock } from '../src/shared/clock.ts';
import { rollupStore } from '../src/rollups/store.ts';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '10000000' },
    db: { type: 'string', default: 'postgres' },
    url: { type: 'string', default: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/postgres' },
    runs: { type: 'string', default: '50' },
    keep: { type: 'boolean', default: false },
    reuse: { type: 'boolean', default: false },
  },
});
const N = Number(args.events);
const RUNS = Number(args.runs);
const END = Date.parse('2026-03-31T00:00:00Z');
const DAYS = 90;
const START = END - DAYS * 86_400_000;
const NOW = new Date(END - 86_400_000 + 14 * 3_600_000 + 7 * 60_000); // mid-afternoon of the last loaded day
const ADMIN = 'tg_bench_admin_key_0123456789abcdef';
const REPORT_ZONE = 'Asia/Seoul';

const t = () => performance.now();
const log = (s: string) => process.stdout.write(s + '\n');

async function openBenchDb(): Promise<{ db: Db; drop: () => Promise<void>; reused: boolean }> {
  if (args.db === 'pglite') {
    const db = await openPglite();
    return { db, drop: async () => db.close(), reused: false };
  }
  const admin = new pg.Client({ connectionString: args.url });
  await admin.connect();
  const u = new URL(args.url!);
  u.pathname = '/tollgate_bench';
  let reused = false;
  if (args.reuse && (await admin.query("SELECT 1 FROM pg_database WHERE datname = 'tollgate_bench'")).rows.length) {
    const probe = await openPostgres({ url: u.toString(), max: 1 });
    const n = await probe.query<{ n: string }>("SELECT count(*) AS n FROM events WHERE source = 'bench'").catch(() => ({ rows: [{ n: '0' }] }));
    await probe.close();
    reused = Number(n.rows[0]!.n) === N;
  }
  if (!reused) {
    await admin.query('DROP DATABASE IF EXISTS tollgate_bench');
    await admin.query('CREATE DATABASE tollgate_bench');
  }
  await admin.end();
  const db = await openPostgres({ url: u.toString(), max: 4 });
  return {
    reused,
    db,
    drop: async () => {
      await db.close();
      if (args.keep) return;
      const c = new pg.Client({ connectionString: args.url });
      await c.connect();
      await c.query('DROP DATABASE IF EXISTS tollgate_bench');
      await c.end();
    },
  };
}

/**
 * Deterministic pseudo-random columns from g. Users belong to one of 20 teams and 50 projects and
 * use 20 models (model → provider, 5 providers, 2 regions each); 5 features.
 */
function loadSql(a: number, b: number): string {
  const span = END - START;
  return `
INSERT INTO events (source, id, type, subject, time, data, provider, model, region, team, project, api_key, feature,
  input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost, cost_source, unpriced, estimated)
SELECT 'bench', 'e' || g, 'llm.usage', 'user-' || u, to_timestamp((${START}::float8 + (g::float8 * ${span} / ${N})) / 1000), '{}'::jsonb,
  'provider-' || (m % 5), 'model-' || m, 'region-' || (m % 5) || '-' || (g % 2), 'team-' || (u % 20), 'project-' || (u % 50),
  'key-' || (u % 20), 'feature-' || (g % 5),
  inp, outp, cr, 0, outp / 4,
  (inp * (m + 1) * 0.0000005 + outp * (m + 1) * 0.0000015 + cr * (m + 1) * 0.00000005)::numeric(20, 10), 'computed', false, false
FROM generate_series(${a}::bigint, ${b}::bigint) g,
LATERAL (SELECT (g * 7919) % 1000 AS u, ((g * 104729) % 1000 + (g / 7)) % 20 AS m,
                100 + (g * 31) % 4000 AS inp, 20 + (g * 17) % 1000 AS outp, CASE WHEN g % 3 = 0 THEN 512 ELSE 0 END AS cr) x`;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

async function main() {
  log(`bench:query — ${N.toLocaleString('en-US')} llm.usage events over ${DAYS} days on ${args.db}`);
  const { db, drop, reused } = await openBenchDb();
  try {
    await migrate(db);
    // The app starts on the empty database (other domains' start-up backfills, e.g. meters, then
    // have nothing to do); the events are loaded underneath it and only the rollups are built.
    // The deployment's report zone is Asia/Seoul (as in the seeds): day and month rollups are kept
    // in it too. Asia/Kolkata queries show a zone that is not the report zone.
    const config = loadConfig({ env: {}, cwd: '/nonexistent', overrides: { bootstrap_key: ADMIN, log_level: 'silent', tz: REPORT_ZONE } });
    const ti = t();
    const tg = await createTollgate(config, { db, clock: fixedClock(NOW), logger: createLogger('silent', false), migrated: true });
    await tg.keys.bootstrap(ADMIN);
    if (reused) log(`  start-up ${((t() - ti) / 1000).toFixed(1)} s (builds the ${REPORT_ZONE} day rollups if the kept database lacks them)`);
    await tg.server.ready();
    const t0 = t();
    const CH = 1_000_000;
    for (let a = 0; a < N && !reused; a += CH) {
      await db.query(loadSql(a, Math.min(N, a + CH) - 1));
      process.stdout.write(`\r  loaded ${Math.min(N, a + CH).toLocaleString('en-US')} events (${((t() - t0) / 1000).toFixed(0)} s)`);
    }
    log('');
    const t1 = t();
    if (!reused) await db.transaction(async (tx) => {
      if (db.kind === 'postgres') {
        await tx.query(`SET LOCAL work_mem = '256MB'`);
        await tx.query(`SET LOCAL maintenance_work_mem = '512MB'`);
      }
      await rollupStore(tx, REPORT_ZONE).rebuild(tx, new Date(START), new Date(END), { bulk: true });
    });
    // As after any bulk load: VACUUM sets the visibility map and statistics now, instead of
    // autovacuum doing it on the 2 cores while the queries are being timed.
    const tv = t();
    await db.exec('VACUUM (ANALYZE)');
    const vacuumS = (t() - tv) / 1000;
    const counts = await db.query<{ t: string; n: string }>(
      `SELECT 'model' t, count(*) n FROM rollup_llm_model UNION ALL SELECT 'subject', count(*) FROM rollup_llm_subject
       UNION ALL SELECT 'org', count(*) FROM rollup_llm_org UNION ALL SELECT 'all', count(*) FROM rollup_llm_all`,
    );
    log(`  ${reused ? 'reused the kept database; ' : ''}load ${((t1 - t0) / 1000).toFixed(1)} s, rollup backfill ${((tv - t1) / 1000).toFixed(1)} s, vacuum ${vacuumS.toFixed(1)} s; rollup rows: ${counts.rows.map((r) => `${r.t} ${Number(r.n).toLocaleString('en-US')}`).join(', ')}`);

    const iso = (ms: number) => new Date(ms).toISOString();
    const day = 86_400_000;
    const queries: Array<[string, string]> = [
      ['/v1/usage 30 d × day × model (UTC)', `/v1/usage?from=${iso(END - 30 * day)}&to=${iso(END)}&window=day&group_by=model&tz=UTC`],
      ['/v1/usage 30 d × day × model (Asia/Seoul)', `/v1/usage?from=${encodeURIComponent('2026-03-01T00:00:00+09:00')}&to=${encodeURIComponent('2026-03-31T00:00:00+09:00')}&window=day&group_by=model&tz=Asia/Seoul`],
      ['/v1/usage 30 d × day × model (Asia/Kolkata)', `/v1/usage?from=${encodeURIComponent('2026-03-01T00:00:00+05:30')}&to=${encodeURIComponent('2026-03-31T00:00:00+05:30')}&window=day&group_by=model&tz=Asia/Kolkata`],
      ['/v1/summary (UTC)', `/v1/summary?tz=UTC`],
      ['/v1/summary (Asia/Seoul)', `/v1/summary?tz=Asia/Seoul`],
      ['/v1/usage/top by subject 90 d (UTC)', `/v1/usage/top?by=subject&measure=cost&limit=100&from=${iso(START)}&to=${iso(END)}&tz=UTC`],
      ['/v1/usage/top by subject 90 d (Asia/Seoul)', `/v1/usage/top?by=subject&measure=cost&limit=100&tz=Asia/Seoul&from=${encodeURIComponent('2026-01-01T00:00:00+09:00')}&to=${encodeURIComponent('2026-03-31T00:00:00+09:00')}`],
    ];
    log(`  ${'query'.padEnd(46)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)}  rows`);
    for (const [name, url] of queries) {
      const times: number[] = [];
      let rows = 0;
      for (let i = 0; i < RUNS + 5; i++) {
        const s = t();
        const res = await tg.server.inject({ method: 'GET', url, headers: { authorization: `Bearer ${ADMIN}` } });
        const el = t() - s;
        if (res.statusCode !== 200) throw new Error(`${url} → ${res.statusCode} ${res.body}`);
        if (i >= 5) times.push(el);
        const b = JSON.parse(res.body);
        rows = b.rows?.length ?? b.by_provider?.length ?? 0;
      }
      log(`  ${name.padEnd(46)} ${pct(times, 50).toFixed(1).padStart(8)} ${pct(times, 95).toFixed(1).padStart(8)}  ${rows}`);
    }
    await tg.close();
  } finally {
    await drop();
  }
}

await main();
