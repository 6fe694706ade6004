import type { Command } from 'commander';
import type { Tollgate } from '../app.ts';
import { configOrExit, fail } from './common.ts';
import { demoUsers } from './demo/catalog.ts';
import { demoEvents, type DemoOptions } from './demo/events.ts';
import { seedAlertRules, seedCollectorRuns, seedQuotas } from './demo/setup.ts';

/**
 * `tollgate demo`: a realistic data set from a seed, written through the same ingest path as
 * POST /v1/events (validation, pricing, rollups, meters), plus entitlements, grants and alert
 * rules through the quotas and alerts services. Creates no API keys. Decisions: docs/dashboard.md.
 * The generator is demo/events.ts (models and teams: demo/catalog.ts); the rest demo/setup.ts.
 */
export { demoEvents, type DemoOptions } from './demo/events.ts';
export { demoUsers, DEMO_MODELS, DEMO_TEAMS } from './demo/catalog.ts';

export interface DemoReport {
  events: number;
  duplicates: number;
  rejected: number;
  seconds: number;
  entitlements: number;
  rules: number;
}

/** Fills a wired Tollgate with the demo data set (what the CLI and the browser tests run). */
export async function runDemo(tg: Tollgate, o: DemoOptions, progress: (done: number) => void = () => {}): Promise<DemoReport> {
  const started = performance.now();
  const r: DemoReport = { events: 0, duplicates: 0, rejected: 0, seconds: 0, entitlements: 0, rules: 0 };
  for (const batch of demoEvents(o)) {
    const res = await tg.events.ingest(batch, {});
    r.events += res.accepted;
    r.duplicates += res.duplicates;
    r.rejected += res.rejected.length;
    progress(r.events + r.duplicates);
  }
  // Run again with the same seed: every event is a duplicate, and what follows exists already.
  if (r.events > 0) {
    r.entitlements = await seedQuotas(tg, demoUsers(o));
    r.rules = await seedAlertRules(tg);
    await seedCollectorRuns(tg, o.now);
  }
  r.seconds = (performance.now() - started) / 1000;
  return r;
}

export function demoCommand(program: Command) {
  program
    .command('demo')
    .description('fill the store with a realistic demo data set (usage, media, snapshots, quotas, alert rules); creates no API keys')
    .option('--days <n>', 'days of history up to now', '90')
    .option('--users <n>', 'end users', '200')
    .option('--seed <n>', 'random seed (same seed, same data)', '42')
    .action(async (opts: { days: string; users: string; seed: string }) => {
      const days = Number(opts.days);
      const users = Number(opts.users);
      const seed = Number(opts.seed);
      if (!Number.isInteger(days) || days < 1 || days > 400) fail('--days must be a whole number from 1 to 400', 2);
      if (!Number.isInteger(users) || users < 1 || users > 10_000) fail('--users must be a whole number from 1 to 10000', 2);
      if (!Number.isInteger(seed)) fail('--seed must be a whole number', 2);
      const config = configOrExit();
      const { createTollgate } = await import('../app.ts');
      const { createLogger } = await import('../shared/log.ts');
      const tg = await createTollgate(config, { logger: createLogger(config.log_level === 'info' ? 'warn' : config.log_level, process.stderr.isTTY, true) });
      try {
        process.stdout.write(`demo: ${days} days × ${users} users (seed ${seed}) into ${tg.db.description}\n`);
        let last = 0;
        const r = await runDemo(tg, { days, users, seed, now: tg.clock.now() }, (done) => {
          if (process.stdout.isTTY && done - last >= 20_000) {
            last = done;
            process.stdout.write(`\r  ${done.toLocaleString('en-US')} events…`);
          }
        });
        if (process.stdout.isTTY) process.stdout.write('\r');
        process.stdout.write(
          `demo: ${r.events.toLocaleString('en-US')} events stored (${r.duplicates} already there${r.rejected ? `, ${r.rejected} rejected` : ''}) in ${r.seconds.toFixed(1)} s; ` +
            `${r.entitlements} entitlements, ${r.rules} alert rules. Start the server (npm start) and sign in at http://${config.host}:${config.port}/\n`,
        );
      } finally {
        await tg.close();
      }
    });
}
