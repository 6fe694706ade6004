import type { Command } from 'commander';
import { configOrExit, fail, withDb } from '../cli/common.ts';
import { parseRfc3339 } from '../shared/time.ts';
import { rollupService } from './service.ts';
import { SUPPORTED_RANGE, inSupportedRange } from '../shared/time.ts';

/** `tollgate rollups rebuild --from --to`: recompute rollups from raw events (backfill). */
export function rollupsCommand(program: Command) {
  const cmd = program.command('rollups').description('llm.usage rollups');
  cmd
    .command('rebuild')
    .description(
      'recompute every rollup over the whole months (UTC, and in the report zone) covering [from, to) from the stored raw events. ' +
        'Only for months whose raw events are all still stored (retention deletes raw events, never rollups).',
    )
    .requiredOption('--from <time>', 'RFC 3339 start')
    .requiredOption('--to <time>', 'RFC 3339 end (exclusive)')
    .action(async (o: { from: string; to: string }) => {
      const from = parseRfc3339(o.from);
      const to = parseRfc3339(o.to);
      if (!from) fail('--from must be an RFC 3339 timestamp such as 2026-01-01T00:00:00Z', 2);
      if (!to) fail('--to must be an RFC 3339 timestamp such as 2026-02-01T00:00:00Z', 2);
      if (!inSupportedRange(from) || !inSupportedRange(to)) fail(`--from and --to must be within ${SUPPORTED_RANGE}`, 2);
      if (!(from < to)) fail('--from must be before --to', 2);
      const config = configOrExit();
      await withDb(config, async (db) => {
        const r = await rollupService(db, { zone: config.tz }).rebuild(from, to);
        process.stdout.write(`rebuilt rollups for ${r.from.toISOString()} .. ${r.to.toISOString()}\n`);
      });
    });
}
