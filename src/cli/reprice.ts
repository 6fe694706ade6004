import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { configOrExit, fail, withDb } from './common.ts';
import { createLogger } from '../shared/log.ts';
import { parseEffective } from '../pricing/config.ts';

/**
 * `tollgate reprice --from --to [--all]`: recompute the cost of stored llm.usage events after a
 * price changed. Opens the store directly (stop a PGlite server first, or use
 * POST /v1/prices/reprice against it); builds the full app so every cost-change hook (rollups,
 * meters) sees the changes and every aggregate follows.
 */
export function repriceCommand(program: Command) {
  program
    .command('reprice')
    .description('reprice stored llm.usage events in [from, to): the unpriced ones, or all with --all')
    .requiredOption('--from <time>', 'start, inclusive (YYYY-MM-DD or RFC 3339)')
    .requiredOption('--to <time>', 'end, exclusive (YYYY-MM-DD or RFC 3339)')
    .option('--all', 'reprice every event in the range, not only the unpriced ones')
    .option('--no-progress', 'do not draw a progress bar')
    .action(async (o: { from: string; to: string; all?: boolean; progress: boolean }) => {
      const from = parseEffective(o.from);
      const to = parseEffective(o.to);
      if (Number.isNaN(from.getTime())) fail('--from must be a date (YYYY-MM-DD) or an RFC 3339 timestamp', 2);
      if (Number.isNaN(to.getTime())) fail('--to must be a date (YYYY-MM-DD) or an RFC 3339 timestamp', 2);
      if (to <= from) fail('--to must be after --from', 2);
      const config = configOrExit();
      await withDb(config, async (db) => {
        const { createTollgate } = await import('../app.ts');
        const tg = await createTollgate(config, { db, logger: createLogger('silent', false), migrated: true });
        const bar = o.progress
          ? new cliProgress.SingleBar(
              { format: 'reprice [{bar}] {percentage}% | {value}/{total} events | updated {updated} | newly priced {priced} | still unpriced {still}', stream: process.stderr },
              cliProgress.Presets.shades_classic,
            )
          : undefined;
        try {
          let started = false;
          const r = await tg.pricing.reprice({
            from,
            to,
            all: o.all === true,
            onProgress(p) {
              if (!started) {
                bar?.start(p.total, 0, { updated: 0, priced: 0, still: 0 });
                started = true;
              }
              bar?.update(p.scanned, { updated: p.updated, priced: p.priced, still: p.still_unpriced });
            },
          });
          bar?.stop();
          process.stdout.write(`repriced ${r.scanned} event(s) from ${from.toISOString()} to ${to.toISOString()}: ${r.updated} changed, ${r.priced} newly priced, ${r.still_unpriced} still unpriced\n`);
          if (r.still_unpriced > 0) process.stdout.write('list them with GET /v1/prices/unpriced; add prices with PUT /v1/prices or the pricing: section of the config\n');
        } finally {
          bar?.stop();
          await tg.close();
        }
      });
    });
}
