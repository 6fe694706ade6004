import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { serveCommand } from './serve.ts';
import { keysCommand } from './keys.ts';
import { ingestCommand } from './ingest.ts';
import { secretsCommand } from './secrets.ts';
import { archiveCommand } from './archive.ts';
import { repriceCommand } from './reprice.ts';
import { rollupsCommand } from '../rollups/cli.ts';
import { describeFailure, configOrExit, withDb } from './common.ts';
import { loadConfig } from '../config.ts';

const VERSION: string = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;

const program = new Command()
  .name('tollgate')
  .description('Tollgate: usage meter, cost ledger and quota gate for AI APIs')
  .version(VERSION)
  .showHelpAfterError();

serveCommand(program);
program
  .command('migrate')
  .description('apply pending database migrations and exit (serve also does this at start)')
  .action(async () => {
    const config = configOrExit();
    const applied = await withDb(config, async (db) => {
      process.stdout.write(`store: ${db.description}\n`);
    });
    process.stdout.write(applied.length ? `applied ${applied.join(', ')}\n` : 'migrations up to date\n');
  });
keysCommand(program);
ingestCommand(program);
secretsCommand(program);
archiveCommand(program);
repriceCommand(program);
(await import('../pricing/cli.ts')).pricesCommand(program);
rollupsCommand(program);
(await import('./jobs.ts')).jobsCommand(program);
(await import('./collect.ts')).collectCommand(program);
(await import('./alerts.ts')).alertsCommand(program);
(await import('./demo.ts')).demoCommand(program);
(await import('./quota.ts')).quotaCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  // One line for what a person can fix; a stack trace only for a bug (or with TOLLGATE_DEBUG=1).
  let config;
  try {
    config = loadConfig();
  } catch {
    config = undefined;
  }
  const known = describeFailure(e, config);
  if (known && !process.env.TOLLGATE_DEBUG) {
    process.stderr.write(`tollgate: ${known}\n`);
  } else {
    process.stderr.write(`tollgate: ${(e as Error)?.message ?? e}\n${process.env.TOLLGATE_DEBUG ? `${(e as Error)?.stack}\n` : '  (this looks like a bug; run again with TOLLGATE_DEBUG=1 for the stack trace and report it)\n'}`);
  }
  process.exitCode = (e as { exitCode?: number }).exitCode ?? 1;
  // A server that failed half-way (port in use after the store opened) must not linger.
  setTimeout(() => process.exit(process.exitCode), 200).unref();
}
