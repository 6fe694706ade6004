import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import cliProgress from 'cli-progress';
import { configOrExit, fail, withDb } from '../cli/common.ts';
import { createLogger } from '../shared/log.ts';
import { systemClock } from '../shared/clock.ts';
import { parseEffective } from './config.ts';
import { formatChanges, parseCatalog, type CatalogFormat } from './versions.ts';

/** genai-prices' published data file: what `tollgate prices update` loads when no --from is given. */
export const GENAI_PRICES_URL = 'https://raw.githubusercontent.com/pydantic/genai-prices/main/prices/data.json';

/** Reads a catalog from a file or an http(s) URL, with a byte count on stderr for a download. */
async function readSource(from: string, progress: boolean): Promise<string> {
  if (!/^https?:\/\//i.test(from)) return readFile(from, 'utf8');
  const res = await fetch(from, { signal: AbortSignal.timeout(120_000) });
  if (!res.ok || !res.body) throw new Error(`GET ${from} answered ${res.status}`);
  const total = Number(res.headers.get('content-length')) || 0;
  const bar = progress && total ? new cliProgress.SingleBar({ format: 'download [{bar}] {percentage}% | {value}/{total} bytes', stream: process.stderr }, cliProgress.Presets.shades_classic) : undefined;
  bar?.start(total, 0);
  const chunks: Buffer[] = [];
  let got = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    chunks.push(Buffer.from(chunk));
    got += chunk.length;
    bar?.update(got);
  }
  bar?.stop();
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * `tollgate prices update [--from FILE|URL]`: loads a newer catalog (genai-prices' data file, or
 * LiteLLM's table through the adapter) into a new dated version in the database and prints what it
 * changes. Older versions are kept, so events before --effective-from reprice to what they were.
 * Opens the store directly (stop a PGlite server first); a running server picks the version up
 * within pricing.refresh_seconds.
 */
export function pricesCommand(program: Command) {
  const cmd = program.command('prices').description('the price catalog: load newer versions, list them');
  cmd
    .command('update')
    .description('load a newer price catalog (genai-prices data file or LiteLLM table) as a new dated version and print what changed')
    .option('--from <file|url>', `catalog to load (default: genai-prices' published data file, ${GENAI_PRICES_URL})`)
    .option('--format <format>', 'auto | genai-prices | litellm', 'auto')
    .option('--effective-from <time>', 'when the new prices start (YYYY-MM-DD or RFC 3339; default: now). Events before it keep their prices')
    .option('--label <label>', 'name of the version in price snapshots (default: <source>@<version>+<date>)')
    .option('--dry-run', 'print what would change, store nothing')
    .option('--limit <n>', 'lines per list (added, moved) in the report', '200')
    .option('--no-progress', 'do not draw progress bars')
    .action(async (o: { from?: string; format: string; effectiveFrom?: string; label?: string; dryRun?: boolean; limit: string; progress: boolean }) => {
      if (!['auto', 'genai-prices', 'litellm'].includes(o.format)) fail('--format must be auto, genai-prices or litellm', 2);
      const effective = o.effectiveFrom ? parseEffective(o.effectiveFrom) : systemClock.now();
      if (Number.isNaN(effective.getTime())) fail('--effective-from must be a date (YYYY-MM-DD) or an RFC 3339 timestamp', 2);
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 0) fail('--limit must be a whole number', 2);
      const from = o.from ?? GENAI_PRICES_URL;
      process.stderr.write(`reading ${from}\n`);
      let json: unknown;
      try {
        json = JSON.parse(await readSource(from, o.progress));
      } catch (e) {
        fail(`could not read a catalog from ${from}: ${(e as Error).message}`, 1);
      }
      let parsed;
      try {
        parsed = parseCatalog(json, { format: o.format as CatalogFormat | 'auto', loadedFrom: from, today: systemClock.now().toISOString().slice(0, 10) });
      } catch (e) {
        fail((e as Error).message, 2);
      }
      const config = configOrExit();
      await withDb(config, async (db) => {
        const { createTollgate } = await import('../app.ts');
        const tg = await createTollgate(config, { db, logger: createLogger('silent', false), migrated: true });
        const bar = o.progress ? new cliProgress.SingleBar({ format: 'compare [{bar}] {percentage}% | {value}/{total} models', stream: process.stderr }, cliProgress.Presets.shades_classic) : undefined;
        try {
          let started = false;
          const r = await tg.pricing.updateCatalog({
            parsed,
            effective_from: effective,
            loaded_from: from,
            label: o.label,
            dryRun: o.dryRun === true,
            onProgress(done, total) {
              if (!started) bar?.start(total, 0);
              started = true;
              bar?.update(done);
            },
          });
          bar?.stop();
          process.stdout.write(`${parsed.format} catalog from ${from}\n`);
          process.stdout.write(formatChanges(r.changes, r.label, r.effective_from, limit));
          process.stdout.write(r.stored ? `stored as version "${r.label}"; events from ${r.effective_from.toISOString()} on are priced with it (reprice them with tollgate reprice --all)\n` : 'dry run: nothing stored\n');
        } catch (e) {
          if (/duplicate key|unique/i.test((e as Error).message)) fail(`a catalog version with that label is already stored; give another --label`, 1);
          throw e;
        } finally {
          bar?.stop();
          await tg.close();
        }
      });
    });
  cmd
    .command('versions')
    .description('list the stored catalog versions (the bundled catalog is always the oldest)')
    .action(async () => {
      const config = configOrExit();
      await withDb(config, async (db) => {
        const { pricingStore } = await import('./store.ts');
        const { loadCatalog } = await import('./catalog/index.ts');
        const rows = await pricingStore(db).listCatalogs({ withCatalog: false });
        process.stdout.write(`bundled  ${loadCatalog().label} (generated ${loadCatalog().source.generated_at})\n`);
        for (const r of rows) process.stdout.write(`${r.effective_from.toISOString()}  ${r.label}  ${r.format}  ${JSON.stringify(r.summary)}\n`);
      });
    });
}
