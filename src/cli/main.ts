import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { serveCommand } from './serve.ts';
import { keysCommand } from './keys.ts';
import { ingestCommand } from './ingest.ts';
import { secretsCommand } from './secrets.ts';
import { archiveCommand } from './archive.ts';
import { repriceCommand } from './reprice.ts';
import { rollupsCommand } from '../rollups/cli.ts';
import { CliError, configOrExit, withDb } from './common.ts';

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
rollupsCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (!(e instanceof CliError)) throw e;
  process.stderr.write(`tollgate: ${e.message}\n`);
  process.exitCode = e.exitCode;
}
