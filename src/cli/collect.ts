import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { configOrExit, fail, withDb } from './common.ts';
import { createLogger } from '../shared/log.ts';
import { ApiError } from '../shared/errors.ts';

/** `tollgate collect openai|anthropic --date D | --from A --to B` and `tollgate reconcile --date D --provider P`. */
export function collectCommand(program: Command) {
  program
    .command('collect <provider>')
    .description('pull a provider usage report (openai | anthropic) for UTC days; re-runs never double count (stop a PGlite server first)')
    .option('--date <day>', 'one UTC day, YYYY-MM-DD')
    .option('--from <day>', 'first UTC day')
    .option('--to <day>', 'day after the last (exclusive)')
    .option('--no-progress', 'no progress bar')
    .action(async (provider: string, o: { date?: string; from?: string; to?: string; progress: boolean }) => {
      if (provider !== 'openai' && provider !== 'anthropic') fail(`unknown provider ${provider} (openai | anthropic)`, 2);
      const config = configOrExit();
      const { parseDay, DAY_MS } = await import('../collectors/service.ts');
      let from: Date;
      let to: Date;
      try {
        if (o.date) {
          from = parseDay(o.date, '--date');
          to = new Date(from.getTime() + DAY_MS);
        } else if (o.from && o.to) {
          from = parseDay(o.from, '--from');
          to = parseDay(o.to, '--to');
        } else return fail('give --date, or --from and --to', 2);
      } catch (e) {
        return fail((e as ApiError).message, 2);
      }
      if (to.getTime() <= from.getTime()) fail('--to must be after --from', 2);
      await withDb(config, async (db) => {
        const { createTollgate } = await import('../app.ts');
        const tg = await createTollgate(config, { db, logger: createLogger('warn', process.stderr.isTTY, true), migrated: true });
        try {
          const svc = tg.collectors.service;
          const days = Math.round((to.getTime() - from.getTime()) / DAY_MS);
          const bar = o.progress
            ? new cliProgress.SingleBar({ format: `collect ${provider} [{bar}] {value}/{total} days | {events} events, {duplicates} dup, {corrections} corrections, $ {cost}`, stream: process.stderr }, cliProgress.Presets.shades_classic)
            : undefined;
          const t = { events: 0, duplicates: 0, corrections: 0, cost: '0', failed: [] as string[] };
          bar?.start(days, 0, t);
          const { Money } = await import('../shared/money.ts');
          for (let i = 0; i < days; i++) {
            const a = new Date(from.getTime() + i * DAY_MS);
            const r = await svc.run(provider as 'openai' | 'anthropic', a, new Date(a.getTime() + DAY_MS));
            t.events += r.events;
            t.duplicates += r.duplicates;
            t.corrections += r.corrections;
            t.cost = new Money(t.cost).plus(r.cost).toFixed();
            for (const acc of r.accounts) if (acc.error) t.failed.push(`${r.from} ${acc.account}: ${acc.error}`);
            bar?.update(i + 1, t);
          }
          bar?.stop();
          process.stdout.write(`${provider}: ${t.events} events, ${t.duplicates} duplicates, ${t.corrections} corrections, cost $${t.cost}\n`);
          if (t.failed.length) {
            for (const f of t.failed) process.stderr.write(`failed: ${f}\n`);
            process.exitCode = 1;
          }
        } finally {
          await tg.close();
        }
      });
    });

  program
    .command('reconcile')
    .description('compare what the gateway/SDKs recorded with what the provider reports, per model, for one UTC day')
    .requiredOption('--date <day>', 'UTC day, YYYY-MM-DD')
    .requiredOption('--provider <name>', 'openai | anthropic')
    .option('--tolerance <fraction>', 'relative difference that still agrees (default from config, 0.02)')
    .action(async (o: { date: string; provider: string; tolerance?: string }) => {
      const config = configOrExit();
      const { parseDay } = await import('../collectors/service.ts');
      const { reconcile } = await import('../collectors/reconcile.ts');
      let date: Date;
      try {
        date = parseDay(o.date, '--date');
      } catch (e) {
        return fail((e as ApiError).message, 2);
      }
      const tolerance = o.tolerance !== undefined ? Number(o.tolerance) : config.collectors.reconciliation.tolerance;
      if (!(tolerance >= 0 && tolerance <= 1)) fail('--tolerance must be between 0 and 1', 2);
      await withDb(config, async (db) => {
        const rows = await reconcile(db, { date, provider: o.provider, tolerance });
        if (!rows.length) process.stdout.write(`nothing recorded or reported for ${o.provider} on ${o.date}\n`);
        for (const r of rows) {
          const f = (s: Record<string, string | null>) => `req ${s.requests ?? '-'} in ${s.input_tokens} cr ${s.cache_read_tokens} cw ${s.cache_write_tokens} out ${s.output_tokens} $${s.cost}`;
          process.stdout.write(`${r.within_tolerance ? 'ok      ' : 'MISMATCH'} ${r.model}\n  recorded ${f(r.recorded)}\n  reported ${f(r.reported)}\n  diff     ${f(r.difference)}\n`);
        }
        if (rows.some((r) => !r.within_tolerance)) process.exitCode = 1;
      });
    });
}
