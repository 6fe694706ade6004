/**
 * npm run bench:analysis -- [--url postgres://…/postgres] [--per-day 10] [--runs 5] [--keep] [--reuse] [--unshared]
 *
 * Forecast + anomaly scan over 90 days × 1,000 subjects on PostgreSQL. Loads 1,000 subjects ×
 * 90 days × `per-day` llm.usage events (weekday pattern, a slow trend, five injected spikes)
 * straight into a fresh database `tollgate_bench_analysis` with INSERT … SELECT generate_series,
 * builds the rollups with the backfill the CLI uses, then times, in-process:
 *   forecast  — month-end cost per subject (1,000 fits) and of the total, from 8 weeks of days;
 *   anomalies — daily cost per subject over the last 30 days against 8-week same-weekday baselines
 *               (drivers for the largest), and hourly cost of the total;
 * next to the floor measured in the same run: the same usage() reads alone, no modelling.
 * Target: forecast + scan ≤ 2 s.
 */
import pg from 'pg';
import { parseArgs } from 'node:util';
import { openPostgres } from '../src/shared/db/postgres.ts';
import { migrate } from '../src/shared/db/index.ts';
import { rollupService } from '../src/rollups/service.ts';
import { rollupStore } from '../src/rollups/store.ts';
import { forecastUsage } from '../src/analysis/forecast-service.ts';
import { scanAnomalies } from '../src/analysis/anomaly-service.ts';
import { forecastFrame, sharedUsage } from '../src/analysis/series.ts';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string', default: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/postgres' },
    'per-day': { type: 'string', default: '10' },
    runs: { type: 'string', default: '5' },
    keep: { type: 'boolean', default: false },
    reuse: { type: 'boolean', default: false },
    /** Forecast and scan each read the rollups (the old way), for a before/after in one machine state. */
    unshared: { type: 'boolean', default: false },
  },
});
const SUBJECTS = 1000;
const DAYS = 90;
const PER_DAY = Number(args['per-day']);
const N = SUBJECTS * DAYS * PER_DAY;
const RUNS = Number(args.runs);
const END = Date.parse('2026-03-20T00:00:00Z');
const START = END - DAYS * 86_400_000;
const NOW = new Date(END + 14 * 3_600_000); // 14:00 on the day after the last full day
const log = (s: string) => process.stdout.write(s + '\n');
const t = () => performance.now();

async function main() {
  log(`bench:analysis — ${SUBJECTS.toLocaleString('en-US')} subjects × ${DAYS} days × ${PER_DAY} events = ${N.toLocaleString('en-US')} llm.usage events on PostgreSQL`);
  const admin = new pg.Client({ connectionString: args.url });
  await admin.connect();
  const exists = (await admin.query("SELECT 1 FROM pg_database WHERE datname = 'tollgate_bench_analysis'")).rows.length > 0;
  const reuse = args.reuse && exists;
  if (!reuse) {
    await admin.query('DROP DATABASE IF EXISTS tollgate_bench_analysis');
    await admin.query('CREATE DATABASE tollgate_bench_analysis');
  }
  await admin.end();
  const u = new URL(args.url!);
  u.pathname = '/tollgate_bench_analysis';
  const db = await openPostgres({ url: u.toString(), max: 4 });
  try {
    await migrate(db);
    const t0 = t();
    if (!reuse) {
    // Event g: subject g % 1000, day g / (1000 · per-day), hour spread over the working day; cost with
    // a weekday pattern (weekends at 40 %) and a slow trend. Then five spikes of 40 extra calls.
    const perDay = SUBJECTS * PER_DAY;
    await db.query(`
      INSERT INTO events (source, id, type, subject, time, data, provider, model, team, feature, input_tokens, output_tokens, cache_read_tokens,
        cache_write_tokens, reasoning_tokens, cost, cost_source, unpriced, estimated)
      SELECT 'bench', 'e' || g, 'llm.usage', 'user-' || (g % ${SUBJECTS}), ts, '{}'::jsonb, 'provider-' || (g % 3), 'model-' || (g % 7),
        'team-' || ((g % ${SUBJECTS}) % 20), 'feature-' || (g % 4), 500, 100, 0, 0, 0,
        ((0.002 + (g % 5) * 0.0005) * (CASE WHEN extract(isodow FROM ts) >= 6 THEN 0.4 ELSE 1 END) * (1 + d::numeric / 300))::numeric(20, 10),
        'computed', false, false
      FROM generate_series(0::bigint, ${N - 1}::bigint) g,
      LATERAL (SELECT g / ${perDay} AS d) dd,
      LATERAL (SELECT to_timestamp((${START}::float8 + d * 86400000 + 8 * 3600000 + ((g * 7919) % ${perDay}) * (10 * 3600000.0 / ${perDay})) / 1000) AS ts) tt`);
    for (const [k, subject] of [7, 123, 456, 789, 999].entries()) {
      await db.query(
        `INSERT INTO events (source, id, type, subject, time, data, provider, model, team, feature, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost, cost_source, unpriced, estimated)
         SELECT 'bench', 'spike-${k}-' || g, 'llm.usage', 'user-${subject}', to_timestamp(($1::float8 + g * 60000) / 1000), '{}'::jsonb, 'provider-1', 'model-3', 'team-${subject % 20}', 'feature-0', 500, 100, 0, 0, 0, 0.5, 'computed', false, false
         FROM generate_series(0, 39) g`,
        [END - (3 + k * 5) * 86_400_000 + 11 * 3_600_000],
      );
    }
    const t1 = t();
    await db.transaction(async (tx) => {
      await tx.query(`SET LOCAL work_mem = '256MB'`);
      await rollupStore(tx, null).rebuild(tx, new Date(START), new Date(END + 2 * 86_400_000), { bulk: true });
    });
    await db.exec('VACUUM (ANALYZE)');
    log(`  loaded in ${((t1 - t0) / 1000).toFixed(1)} s, rollups built in ${((t() - t1) / 1000).toFixed(1)} s`);
    } else log('  reusing the kept database (--reuse)');
    await db.query('DELETE FROM analysis_anomalies');

    const rollups = rollupService(db, { zone: 'UTC' });
    await rollups.init();
    const tz = 'UTC';
    const scanTo = new Date(END + 14 * 3_600_000);
    const scanFrom = new Date(END - 30 * 86_400_000);
    const frame = forecastFrame(tz, NOW);
    const floor = async () => {
      // The reads alone (the ones the work makes): 8+ weeks of days per subject unless shared, and the scan's 86 days per subject and 86 × 24 hours of the total.
      if (!shared) await rollups.usage({ from: frame.from, to: frame.upTo, tz, window: 'day', groupBy: ['subject'], filters: {} }); // shared: answered by the next
      await rollups.usage({ from: new Date(scanFrom.getTime() - 56 * 86_400_000), to: scanTo, tz, window: 'day', groupBy: ['subject'], filters: {} });
      await rollups.usage({ from: new Date(scanFrom.getTime() - 56 * 86_400_000), to: scanTo, tz, window: 'hour', groupBy: [], filters: {} });
    };
    let found = 0;
    const shared = !args.unshared;
    const work = async () => {
      // One read shared: the daily scan's 12 weeks by subject also answer the forecast's 8 (sharedUsage).
      const reader = shared ? sharedUsage(rollups) : rollups;
      const t0 = t();
      const a = await scanAnomalies({ db, rollups: reader }, { measure: 'cost', window: 'day', groupBy: 'subject', from: scanFrom, to: scanTo, tz, minImpact: 1 }, NOW);
      const ts = t();
      const f = await forecastUsage(reader, { tz, now: NOW, measure: 'cost', groupBy: ['subject'] });
      const tf = t() - ts + t0; // the forecast's own time, as an instant for the report below
      const h = await scanAnomalies({ db, rollups: reader }, { measure: 'cost', window: 'hour', groupBy: null, from: scanFrom, to: scanTo, tz, minImpact: 1 }, NOW);
      found = a.length;
      return { forecastRows: f.rows.length, method: f.total.method, tf, anomalies: a, hourly: h.length };
    };
    await work(); // warm-up (JIT, plans)
    const floors: number[] = [];
    const totals: number[] = [];
    const forecasts: number[] = [];
    let last: Awaited<ReturnType<typeof work>> | null = null;
    for (let i = 0; i < RUNS; i++) {
      const a = t();
      await floor();
      floors.push(t() - a);
      const b = t();
      last = await work();
      totals.push(t() - b);
      forecasts.push(last.tf - b);
    }
    const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
    log(`  forecast: ${last!.forecastRows} subjects + total (${last!.method}); anomalies: ${found} subject-days (injected 5), ${last!.hourly} total hours`);
    log(`  spikes found: ${last!.anomalies.map((x) => `${x.group_value.subject} ${x.window_start.toISOString().slice(0, 10)} ×${x.drivers.length} drivers`).join(', ')}`);
    log(`  median of ${RUNS}: forecast + anomaly scan ${(med(totals) / 1000).toFixed(2)} s (forecast ${(med(forecasts) / 1000).toFixed(2)} s) — floor (the reads alone) ${(med(floors) / 1000).toFixed(2)} s — target 2 s`);
  } finally {
    await db.close();
    if (!args.keep) {
      const c = new pg.Client({ connectionString: args.url });
      await c.connect();
      await c.query('DROP DATABASE IF EXISTS tollgate_bench_analysis');
      await c.end();
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
