import type { Command } from 'commander';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { configOrExit, fail, withApp, withDb } from './common.ts';
import { createLogger } from '../shared/log.ts';
import { systemClock } from '../shared/clock.ts';
import { eventArchiveStore } from '../events/archive-store.ts';
import { createRetention } from '../jobs/retention.ts';
import { countLines, listArchiveFiles } from '../jobs/archive.ts';

/** `tollgate archive list|restore|run`: retention archives (gzip NDJSON) on disk. */
export function archiveCommand(program: Command) {
  const archive = program.command('archive').description('raw-event archives written by retention (stop a PGlite server first)');
  archive
    .command('list')
    .description('list archive files with their event counts')
    .action(async () => {
      const config = configOrExit();
      const retention = createRetention(null as never, null as never, createLogger('silent', false), config.retention, config.data_dir);
      const files = await listArchiveFiles(retention.archiveDir);
      if (!files.length) {
        process.stdout.write(`no archives in ${retention.archiveDir}\n`);
        return;
      }
      let total = 0;
      for (const f of files) {
        const n = await countLines(f.path);
        total += n;
        process.stdout.write(`${f.path}  ${f.type}  ${f.day}  ${n} events  ${f.bytes} bytes\n`);
      }
      process.stdout.write(`${files.length} file(s), ${total} events\n`);
    });
  archive
    .command('restore <file>')
    .description('put an archive\'s events back into the store (no ingest hooks run: rollups and meters already count them)')
    .action(async (file: string) => {
      const p = path.resolve(file);
      if (!existsSync(p)) fail(`${file}: no such file`, 2);
      const config = configOrExit();
      await withDb(config, async (db) => {
        const retention = createRetention(db, eventArchiveStore(db), createLogger('silent', false), config.retention, config.data_dir);
        try {
          const r = await retention.restore(p, systemClock.now());
          process.stdout.write(`restored ${r.restored} of ${r.rows} events from ${p}${r.rows > r.restored ? ` (${r.rows - r.restored} were already present)` : ''}\n`);
        } catch (e) {
          fail(`restore failed, nothing was restored: ${(e as Error).message}`);
        }
      });
    });
  archive
    .command('run')
    .description('run retention now: archive and delete raw events past their retention')
    .action(async () => {
      const config = configOrExit();
      await withApp(config, async (tg) => {
        const r = await tg.jobs.retention.run(systemClock.now());
        for (const f of r.files) process.stdout.write(`${f.type} ${f.day}: ${f.rows} archived to ${f.path ?? '(no archive)'}, ${f.deleted} deleted\n`);
        process.stdout.write(`${r.deleted} event(s) deleted\n`);
      }, 'silent');
    });
}
